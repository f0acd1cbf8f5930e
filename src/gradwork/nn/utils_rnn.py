"""Variable-length batches for recurrent layers: `PackedSequence` and its helpers.

torch's `torch.nn.utils.rnn`: `pack_padded_sequence`, `pad_packed_sequence`,
`pad_sequence`, `pack_sequence`. A packed batch stores, for every timestep,
only the sequences still running, longest first; `batch_sizes[t]` counts them.
The recurrent layers run such a batch in one fused op per layer and direction,
and stop each sequence's state at its own last step.

Packing and padding are differentiable: each is one gather (`IndexSelect`) of
rows, so gradients flow back to the padded input.

Example:
    >>> import gradwork as gw
    >>> from gradwork.nn.utils_rnn import pack_padded_sequence, pad_packed_sequence
    >>> batch = gw.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 0.0]]).T  # (time 3, batch 2)
    >>> packed = pack_padded_sequence(batch, [3, 2])
    >>> packed.data.tolist(), packed.batch_sizes.tolist()
    ([1.0, 4.0, 2.0, 5.0, 3.0], [2, 2, 1])
    >>> padded, lengths = pad_packed_sequence(packed)
    >>> padded.T.tolist(), lengths.tolist()
    ([[1.0, 2.0, 3.0], [4.0, 5.0, 0.0]], [3, 2])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from gradwork import _arrays, ops
from gradwork.functions import pad, stack
from gradwork.tensor import Tensor

__all__ = [
    "PackedSequence",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "pack_sequence",
]


class PackedSequence(NamedTuple):
    """A batch of sequences of different lengths, packed timestep by timestep.

    Attributes:
        data: (sum of lengths, *) the elements, step 0 of every sequence first.
        batch_sizes: int64 (steps,) how many sequences run at each step.
        sorted_indices: int64 (batch,) the batch order, longest first, or None
            when the batch was already sorted.
        unsorted_indices: the inverse permutation, or None.
    """

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None


def _lengths_array(lengths: Any, batch: int, steps: int) -> np.ndarray:
    # The packing is planned on the host: device lengths are copied there (explicitly).
    lengths = _arrays.to_host(getattr(lengths, "array", lengths))
    values = np.asarray(lengths).astype(np.int64).reshape(-1)
    if values.size != batch:
        raise ValueError(
            f"pack_padded_sequence: got {values.size} lengths for a batch of {batch} "
            f"sequences; pass one length per sequence"
        )
    if values.size and (values.min() <= 0 or values.max() > steps):
        raise ValueError(
            f"pack_padded_sequence: lengths must be in 1..{steps} (the padded length), got "
            f"{values.tolist()}; empty sequences cannot be packed"
        )
    return values


def _batch_sizes(sorted_lengths: np.ndarray) -> np.ndarray:
    """batch_sizes[t] = how many of the (descending) lengths exceed t."""
    steps = int(sorted_lengths[0]) if sorted_lengths.size else 0
    return (sorted_lengths[None, :] > np.arange(steps)[:, None]).sum(axis=1).astype(np.int64)


def packed_rows(batch_sizes: np.ndarray, batch: int, order: np.ndarray | None) -> np.ndarray:
    """Row of a flattened (steps * batch) padded array that each packed element comes from.

    `order[k]` is the padded column of the k-th longest sequence (None: column k).
    """
    columns = np.arange(batch) if order is None else order
    return np.concatenate([t * batch + columns[:n] for t, n in enumerate(batch_sizes)])


def pack_padded_sequence(
    input: Tensor,  # noqa: A002 - torch's argument name
    lengths: Any,
    batch_first: bool = False,
    enforce_sorted: bool = True,
) -> PackedSequence:
    """Pack a padded batch (steps, batch, *) (or (batch, steps, *)) given each length.

    Args:
        input: the padded batch.
        lengths: one length per sequence (list, array or int64 tensor).
        batch_first: whether input is (batch, steps, *).
        enforce_sorted: require lengths in decreasing order (else they are sorted here
            and the order is recorded in `sorted_indices`).
    """
    padded = input.transpose(0, 1) if batch_first else input
    steps, batch = padded.shape[:2]
    lengths = _lengths_array(lengths, batch, steps)
    order = None
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise RuntimeError(
                f"pack_padded_sequence: `lengths` must be sorted in decreasing order when "
                f"enforce_sorted=True, got {lengths.tolist()}. Sort the batch, or pass "
                f"enforce_sorted=False to have it sorted (and unsorted afterwards) for you."
            )
    else:
        order = np.argsort(-lengths, kind="stable")
    batch_sizes = _batch_sizes(lengths if order is None else lengths[order])
    rows = packed_rows(batch_sizes, batch, order)
    flat = padded.reshape((steps * batch,) + tuple(padded.shape[2:]))
    data = ops.IndexSelect.apply(flat, 0, rows)
    if order is None:
        return PackedSequence(data, Tensor(batch_sizes))
    return PackedSequence(data, Tensor(batch_sizes), Tensor(order), Tensor(np.argsort(order)))


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Undo `pack_padded_sequence`: (padded batch in the original order, lengths)."""
    batch_sizes = np.asarray(sequence.batch_sizes.array, dtype=np.int64)
    steps, batch = len(batch_sizes), int(batch_sizes[0])
    if total_length is not None:
        if total_length < steps:
            raise ValueError(
                f"pad_packed_sequence: total_length={total_length} is shorter than the "
                f"longest sequence ({steps} steps); pass at least {steps} or None"
            )
        steps = total_length
    order = None if sequence.sorted_indices is None else sequence.sorted_indices.array
    rows = packed_rows(batch_sizes, batch, order)
    # Every padded slot gathers its packed element, or the one padding row appended last.
    source = np.full(steps * batch, rows.size, dtype=np.int64)
    source[rows] = np.arange(rows.size)
    data = sequence.data
    widths = ((0, 1),) + ((0, 0),) * (data.ndim - 1)
    with_pad = ops.ConstantPad.apply(data, widths, padding_value)
    padded = ops.IndexSelect.apply(with_pad, 0, source)
    padded = padded.reshape((steps, batch) + tuple(data.shape[1:]))
    lengths = (batch_sizes[None, :] > np.arange(batch)[:, None]).sum(axis=1)
    if order is not None:
        lengths = lengths[np.asarray(sequence.unsorted_indices.array)]
    return (padded.transpose(0, 1) if batch_first else padded), Tensor(lengths.astype(np.int64))


def pad_sequence(
    sequences: Sequence[Tensor], batch_first: bool = False, padding_value: float = 0.0
) -> Tensor:
    """Stack tensors of shape (length_i, *) into (max length, batch, *), padding the ends.

    Example:
        >>> import gradwork as gw
        >>> pad_sequence([gw.ones(2), gw.ones(1)], batch_first=True).tolist()
        [[1.0, 1.0], [1.0, 0.0]]
    """
    longest = max(len(s) for s in sequences)
    padded = [
        pad(s, (0, 0) * (s.ndim - 1) + (0, longest - len(s)), value=padding_value)
        for s in sequences
    ]
    return stack(padded, dim=0 if batch_first else 1)


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of (length_i, *) tensors (`pad_sequence` then `pack_padded_sequence`)."""
    lengths = [len(s) for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)
