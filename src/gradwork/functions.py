"""Functions of several tensors (cat, stack, where) and `pad`.

The one-tensor function forms (`gradwork.sum(t)`, ...) live in _function_forms.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gradwork import dtypes, ops
from gradwork._arrays import as_array
from gradwork._tensor_math import promote
from gradwork.autograd import ShapeError
from gradwork.ops.dims import normalize_dim
from gradwork.tensor import Tensor

__all__ = ["cat", "concatenate", "stack", "where", "pad", "is_tensor"]


def is_tensor(obj: Any) -> bool:
    return isinstance(obj, Tensor)


def _tensors(tensors: Sequence[Tensor], name: str) -> list[Tensor]:
    tensors = [t if isinstance(t, Tensor) else Tensor(np.asarray(t)) for t in tensors]
    if not tensors:
        raise RuntimeError(f"{name}: expected a non-empty sequence of tensors")
    return tensors


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension.

    Example:
        >>> import gradwork as gw
        >>> gw.cat([gw.zeros(2, 3), gw.ones(1, 3)]).shape
        (3, 3)
    """
    tensors = _tensors(tensors, "cat")
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise RuntimeError(
                f"zero-dimensional tensor (at position {i}) cannot be concatenated; "
                "give it a dimension first (t.reshape(1) or t[None])"
            )
    # torch's legacy rule: a 1-D empty tensor joins anything (it only takes part in the
    # dtype), and tensors that are all 1-D empty give a 1-D empty result for any dim.
    kind = dtypes.result_type(*tensors)  # torch promotes across all, empty ones included
    tensors = [t.to(kind) for t in tensors]
    legacy = [t.ndim == 1 and t.shape[0] == 0 for t in tensors]
    if all(legacy):
        return ops.Cat.apply(*tensors, dim=0)
    tensors = [t for t, empty in zip(tensors, legacy, strict=True) if not empty]
    dim = normalize_dim(dim, tensors[0].ndim)
    for i, t in enumerate(tensors[1:], 1):
        if t.ndim != tensors[0].ndim or any(
            a != b
            for d, (a, b) in enumerate(zip(t.shape, tensors[0].shape, strict=False))
            if d != dim
        ):
            raise ShapeError(
                f"cat: tensor {i} has shape {t.shape} but tensor 0 has {tensors[0].shape}; "
                f"all sizes except dimension {dim} must match"
            )
    return ops.Cat.apply(*tensors, dim=dim)


concatenate = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new dimension."""
    tensors = _tensors(tensors, "stack")
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ShapeError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    return ops.Stack.apply(*tensors, dim=normalize_dim(dim, tensors[0].ndim + 1))


def where(condition: Any, input: Any, other: Any) -> Tensor:  # noqa: A002
    """`input` where `condition` holds, else `other`; differentiable in both."""
    condition = as_array(getattr(condition, "array", condition), dtype=bool)
    return ops.Where.apply(condition, *promote(input, other))


def pad(
    input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None
) -> Tensor:  # noqa: A002
    """Pad the last len(pad)//2 dimensions, as torch.nn.functional.pad.

    `pad` lists (left, right) for the last dimension first, then the one
    before, and so on. Modes: 'constant', 'reflect', 'replicate', 'circular'.

    Example:
        >>> import gradwork as gw
        >>> pad(gw.ones(1, 2), (1, 2)).tolist()
        [[0.0, 1.0, 1.0, 0.0, 0.0]]
    """
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise RuntimeError(
            f"pad: needs an even number of widths, at most 2 per dimension; got {tuple(pad)} "
            f"for a tensor of shape {input.shape}"
        )
    widths = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        widths[input.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    if mode == "constant":
        input, widths = _crop_negative(input, widths)  # negative padding crops, as in torch
        return ops.ConstantPad.apply(input, tuple(widths), value=0.0 if value is None else value)
    if mode == "circular":  # torch crops first, then wraps around what is left
        input, widths = _crop_negative(input, widths)
    # reflect and replicate: a negative width moves the source range in (a crop), as torch
    padded = len(pad) // 2
    if not padded + 1 <= input.ndim <= padded + 2:
        raise NotImplementedError(
            f"pad: {mode} padding of {padded} dimension(s) needs a {padded + 1}-D or "
            f"{padded + 2}-D input (a batch and a channel dimension in front), got shape "
            f"{tuple(input.shape)}"
        )
    if mode not in _PAD_SOURCES:
        raise ValueError(
            f"pad: unknown mode {mode!r}; use one of constant, {', '.join(_PAD_SOURCES)}"
        )
    if input.dtype == np.bool_ and mode in ("reflect", "replicate"):
        raise NotImplementedError(f"pad: {mode} padding is not implemented for bool tensors")
    if 0 in input.shape[int(input.ndim == padded + 2) :]:  # only the batch may be empty
        raise RuntimeError(
            f"pad: Expected {padded + 1}D or {padded + 2}D (batch mode) tensor with possibly 0 "
            f"batch size and other non-zero dimensions for input, but got: {list(input.shape)}"
        )
    out = input
    for axis, (lo, hi) in enumerate(widths):
        if lo or hi:
            source = _PAD_SOURCES[mode](input.shape[axis], lo, hi)
            out = out.index_select(axis, source)
    return out


def _crop_negative(input: Tensor, widths: list) -> tuple[Tensor, list]:
    """Slice off what negative widths remove; return the tensor and the widths left to add."""
    if all(lo >= 0 and hi >= 0 for lo, hi in widths):
        return input, widths
    crops = []
    for n, (lo, hi) in zip(input.shape, widths, strict=False):
        start, stop = max(-lo, 0), n - max(-hi, 0)
        if stop < start:
            raise RuntimeError(
                f"narrow(): length must be non-negative: padding ({lo}, {hi}) removes more "
                f"than the {n} elements there"
            )
        crops.append(slice(start, stop))
    return input[tuple(crops)], [(max(lo, 0), max(hi, 0)) for lo, hi in widths]


def _reflect(n: int, lo: int, hi: int) -> np.ndarray:
    if lo >= n or hi >= n:
        raise RuntimeError(f"pad: reflect padding ({lo}, {hi}) must be smaller than the size {n}")
    positions = np.arange(-lo, n + hi)
    return np.abs(n - 1 - np.abs(n - 1 - np.abs(positions)))


def _circular(n: int, lo: int, hi: int) -> np.ndarray:
    if lo > n or hi > n:
        raise RuntimeError(
            f"Padding value causes wrapping around more than once: circular padding "
            f"({lo}, {hi}) must be at most the size {n}"
        )
    return np.arange(-lo, n + hi) % n


# Each mode maps output positions along an axis to the input index they copy.
_PAD_SOURCES = {
    "reflect": _reflect,
    "replicate": lambda n, lo, hi: np.clip(np.arange(-lo, n + hi), 0, n - 1),
    "circular": _circular,
}
