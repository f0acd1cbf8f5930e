"""Norms and distances between vectors: normalize, cosine_similarity, pairwise_distance.

Composed from primitives (gradients for free). The one care taken is at a
zero vector, where the p-norm has a kink: its gradient there is torch's
subgradient 0, not the nan that d sqrt(s)/ds = inf at s = 0 would give.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradwork import ops
from gradwork.ops.dims import normalize_dim
from gradwork.tensor import Tensor, promote


def vector_norm(x: Tensor, p: float, dim: int, keepdim: bool = False) -> Tensor:
    """(sum |x|^p)^(1/p) along `dim`; p = inf / -inf take max / min |x|, p = 0 counts non-zeros.

    The gradient at an all-zero vector is 0, as torch's.

    Example:
        >>> import gradwork as gw
        >>> vector_norm(gw.tensor([[3.0, -4.0], [0.0, 0.0]]), 2, dim=1)
        tensor([5., 0.])
    """
    magnitude = x.abs()
    if math.isinf(p):
        extreme = magnitude.amax if p > 0 else magnitude.amin
        return extreme(dim=dim, keepdim=keepdim)
    if p == 0:
        return (x != 0).to(x.dtype).sum(dim=dim, keepdim=keepdim)
    if p == 1:
        return magnitude.sum(dim=dim, keepdim=keepdim)
    powered = x * x if p == 2 else magnitude**p
    total = powered.sum(dim=dim, keepdim=keepdim)
    # NOTE: the root is taken of 1 where the total is 0 and the result masked:
    # a zero vector then gets gradient 0 instead of 0 * inf = nan.
    positive = total.array > 0
    safe = ops.Where.apply(positive, total, 1.0)
    root = safe.sqrt() if p == 2 else safe ** (1.0 / p)
    return ops.Where.apply(positive, root, 0.0)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,  # noqa: A002
              out: Any = None) -> Tensor:  # fmt: skip
    """input / max(||input||_p, eps) along `dim`: unit vectors (zero stays zero).

    Example:
        >>> import gradwork as gw
        >>> normalize(gw.tensor([[3.0, 4.0], [0.0, 0.0]]))
        tensor([[0.6, 0.8],
                [0. , 0. ]])
    """
    if out is not None:
        raise NotImplementedError("normalize: out= is not supported; use the returned tensor")
    dim = normalize_dim(dim, input.ndim)
    return input / vector_norm(input, p, dim, keepdim=True).clamp(min=eps)


def _floating_pair(name: str, x1: Tensor, x2: Tensor) -> tuple[Tensor, Tensor]:
    x1, x2 = promote(x1, x2)
    if x1.dtype.kind != "f":
        raise RuntimeError(
            f"{name}: expected common dtype to be floating point, yet common dtype is "
            f"{x1.dtype}; convert the inputs with .float()"
        )
    return x1, x2


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Cosine of the angle between x1 and x2 along `dim` (they broadcast).

    As torch 2.x: each input is divided by its own norm first (so the result
    stays in [-1, 1]), the norms are clamped to `eps` in value only, and the
    gradient flows as if they were not clamped.

    Example:
        >>> import gradwork as gw
        >>> cosine_similarity(gw.tensor([[1.0, 0.0]]), gw.tensor([[1.0, 1.0]]))
        tensor([0.7071])
    """
    x1, x2 = _floating_pair("cosine_similarity", x1, x2)
    shape = _broadcast_shape("cosine_similarity", x1.shape, x2.shape)
    x1, x2 = x1.expand(*shape), x2.expand(*shape)
    dim = normalize_dim(dim, len(shape))
    norm1 = _clamped_in_value(vector_norm(x1, 2, dim, keepdim=True), eps)
    norm2 = _clamped_in_value(vector_norm(x2, 2, dim, keepdim=True), eps)
    return ((x1 / norm1) * (x2 / norm2)).sum(dim=dim)


def _clamped_in_value(norm: Tensor, eps: float) -> Tensor:
    """max(norm, eps) in value, norm for the gradient (torch clamps in place under no_grad)."""
    return norm + (norm.detach().clamp(min=eps) - norm.detach())


def _broadcast_shape(name: str, a: tuple, b: tuple) -> tuple:
    try:
        return tuple(np.broadcast_shapes(tuple(a), tuple(b)))
    except ValueError:
        raise RuntimeError(
            f"{name}: the shapes {tuple(a)} and {tuple(b)} of x1 and x2 cannot be broadcast "
            "together; make them equal or size 1 in each dimension"
        ) from None


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:  # fmt: skip
    """||x1 - x2 + eps||_p along the last dimension (torch adds eps before the norm).

    Example:
        >>> import gradwork as gw
        >>> pairwise_distance(gw.tensor([[0.0, 0.0]]), gw.tensor([[3.0, 4.0]]), eps=0.0)
        tensor([5.])
    """
    x1, x2 = _floating_pair("pairwise_distance", x1, x2)
    _broadcast_shape("pairwise_distance", x1.shape, x2.shape)
    innermost = max(x1.ndim, x2.ndim) - 1  # -1 for two 0-d inputs, as in torch
    return vector_norm(x1 - x2 + eps, p, innermost, keepdim=keepdim)
