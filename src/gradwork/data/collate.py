"""Turning a list of samples into one batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gradwork._arrays import xp_of
from gradwork.tensor import Tensor


def default_collate(samples: Sequence[Any]) -> Any:
    """Stack a list of samples field by field into Tensors with a batch dimension.

    Tensors and arrays are stacked and keep their dtype; Python ints become
    int64, Python floats float32 (gradwork's default, unlike torch's float64),
    bools bool. Tuples, lists and dicts are collated per field; strings stay a
    list.

    Example:
        >>> import gradwork as gw
        >>> x, y = default_collate([(gw.tensor([1.0, 2.0]), 0), (gw.tensor([3.0, 4.0]), 1)])
        >>> x.shape, y.dtype
        ((2, 2), dtype('int64'))
    """
    if len(samples) == 0:
        raise ValueError("default_collate: got an empty list of samples; a batch needs one")
    first = samples[0]
    if isinstance(first, Tensor):
        arrays = [sample.array for sample in samples]
        return Tensor(xp_of(arrays[0]).stack(arrays))  # on the samples' device
    if isinstance(first, np.ndarray | np.generic):
        return Tensor(np.stack(samples))
    if isinstance(first, bool | int | float):
        array = np.asarray(samples)
        # NOTE: floats become float32 to match gradwork's default float dtype.
        return Tensor(array.astype(np.float32) if array.dtype.kind == "f" else array)
    if isinstance(first, str | bytes):
        return list(samples)
    if isinstance(first, Mapping):
        return {key: default_collate([sample[key] for sample in samples]) for key in first}
    if isinstance(first, tuple | list):
        return _collate_sequence(samples)
    raise TypeError(
        f"default_collate: don't know how to batch samples of type {type(first).__name__}; "
        f"return Tensors, arrays, numbers, tuples, lists or dicts from __getitem__, or pass "
        f"collate_fn= to the DataLoader."
    )


def _collate_sequence(samples: Sequence[Any]) -> Any:
    first = samples[0]
    if any(len(sample) != len(first) for sample in samples):
        raise ValueError(
            f"default_collate: samples have different numbers of fields "
            f"({sorted({len(s) for s in samples})}); every sample must have the same structure"
        )
    fields = [default_collate(list(field)) for field in zip(*samples, strict=False)]
    if isinstance(first, tuple) and hasattr(first, "_fields"):  # a namedtuple
        return type(first)(*fields)
    return tuple(fields) if isinstance(first, tuple) else fields
