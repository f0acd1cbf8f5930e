"""Reductions: sum, mean, amax/amin, prod, and the log-sum-exp trick.

`dim` is None (all axes), an int, or a tuple of ints, as in torch. The
backward of a reduction re-inserts the reduced axes (`_keep`) and
broadcasts back to the input's shape.
"""

from __future__ import annotations

import numpy as np

from gradwork.autograd import Function
from gradwork.ops.dims import normalize_dims


def _axes(dim, ndim):
    """torch's `dim` as a normalised tuple of NumPy axes (IndexError when out of range)."""
    return normalize_dims(dim, ndim)


def _kept_shape(shape, axes):
    """The shape of the reduction with keepdim=True: reduced axes become 1."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _keep(grad, shape, axes, keepdim):
    """Reshape a reduced gradient so it broadcasts against the input shape.

    (A plain reshape: np.expand_dims costs several microseconds of Python.)
    """
    if keepdim or not shape:
        return grad
    return grad.reshape(_kept_shape(shape, axes))


class Sum(Function):
    """Sum over `dim` (None: all). A true primitive."""

    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False):
        axes = _axes(dim, a.ndim)
        ctx.shape, ctx.kept = a.shape, _kept_shape(a.shape, axes)
        return a.sum(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        return np.broadcast_to(grad.reshape(ctx.kept), ctx.shape)


class Mean(Function):
    """Mean over axes; a primitive (not sum/n) to spare a graph node per loss."""

    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False):
        axes = _axes(dim, a.ndim)
        ctx.shape, ctx.kept = a.shape, _kept_shape(a.shape, axes)
        ctx.count = a.size // max(int(np.prod(ctx.kept)), 1) if a.size else 0
        out = a.sum(axis=axes, keepdims=keepdim)
        with np.errstate(invalid="ignore", divide="ignore"):
            return out / ctx.count if ctx.count else out * np.nan  # mean of nothing is nan

    @staticmethod
    def backward(ctx, grad):
        return np.broadcast_to(grad.reshape(ctx.kept) / ctx.count, ctx.shape)


class Amax(Function):
    """The largest value over `dim`; ties share the gradient evenly (torch's amax)."""

    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False):
        return _extremum_forward(ctx, a, dim, keepdim, np.amax)

    @staticmethod
    def backward(ctx, grad):
        return _extremum_backward(ctx, grad)


class Amin(Function):
    """The smallest value over `dim`. Composable as -amax(-a); kept as one node (speed)."""

    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False):
        return _extremum_forward(ctx, a, dim, keepdim, np.amin)

    @staticmethod
    def backward(ctx, grad):
        return _extremum_backward(ctx, grad)


def _extremum_forward(ctx, a, dim, keepdim, reduce):
    axes = _axes(dim, a.ndim)
    if a.size == 0 and dim is None:
        raise RuntimeError(
            f"{ctx.name}(): Expected reduction dim to be specified for input.numel() == 0: "
            f"can't reduce an empty tensor of shape {a.shape}"
        )
    empty = [axis for axis in axes if a.shape[axis] == 0]
    if empty:  # a maximum of nothing is undefined (other empty axes are fine)
        raise IndexError(f"{ctx.name}(): Expected reduction dim {empty[0]} to have non-zero size.")
    out = reduce(a, axis=axes, keepdims=True)
    ctx.save_for_backward(a, out)
    ctx.axes, ctx.keepdim = axes, keepdim
    return out if keepdim else np.squeeze(out, axis=axes)


def _extremum_backward(ctx, grad):
    a, out = ctx.saved
    # NOTE: ties share the gradient evenly, as torch's amax/amin do.
    winners = a == out
    share = winners / winners.sum(axis=ctx.axes, keepdims=True)
    return _keep(grad, a.shape, ctx.axes, ctx.keepdim) * share.astype(grad.dtype)


class Prod(Function):
    """The product over `dim`. A primitive because its gradient, the product of the *other*
    elements, must stay exact where an element is 0 (prod / a would divide by zero)."""

    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False):
        ctx.save_for_backward(a)
        ctx.axes = None if dim is None else _axes(dim, a.ndim)
        ctx.keepdim = keepdim
        if dim is None:
            return a.prod(keepdims=keepdim)
        return a.prod(axis=ctx.axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved
        # NOTE: grad * prod / a fails where a == 0; the product of all the
        # *other* elements (exclusive cumulative products from both sides) is
        # exact everywhere.
        if a.size == 0:  # the product of nothing is 1, and constant
            return np.zeros_like(a)
        if ctx.axes is None:
            others = _product_of_others(a.reshape(-1), 0).reshape(a.shape)
            return grad.reshape((1,) * a.ndim if a.ndim else ()) * others
        if not ctx.axes:  # a 0-dim tensor: its product is itself
            return grad
        return _keep(grad, a.shape, ctx.axes, ctx.keepdim) * _product_of_others(a, ctx.axes[0])


def _product_of_others(a, axis):
    def part(x, start, stop):  # x[..., start:stop, ...] along `axis`: a view, on any device
        return x[(slice(None),) * axis + (slice(start, stop),)]

    ones = np.ones_like(part(a, 0, 1))
    left = np.cumprod(np.concatenate([ones, a], axis=axis), axis=axis)
    flipped = np.flip(a, axis=axis)
    right = np.flip(np.cumprod(np.concatenate([ones, flipped], axis=axis), axis=axis), axis=axis)
    n = a.shape[axis]
    return part(left, 0, n) * part(right, 1, n + 1)


class LogSumExp(Function):
    """log(sum(exp(a))) with the max subtracted first: finite for logits of ±1e4.

    A fused primitive for numerical stability: composed from exp, sum and log
    it overflows for inputs above ~88 (float32).
    """

    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False):
        axes = _axes(dim, a.ndim)
        shift = np.amax(a, axis=axes, keepdims=True)
        shift = np.where(np.isfinite(shift), shift, 0)  # all -inf rows stay -inf
        out = np.log(np.exp(a - shift).sum(axis=axes, keepdims=True)) + shift
        ctx.save_for_backward(a, out)
        ctx.axes, ctx.keepdim = axes, keepdim
        return out if keepdim else np.squeeze(out, axis=axes)

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved
        return _keep(grad, a.shape, ctx.axes, ctx.keepdim) * np.exp(a - out)


class LogSoftmax(Function):
    """log(softmax(a)) along `dim`, fused for stability (the log-sum-exp trick)."""

    @staticmethod
    def forward(ctx, a, dim=-1):
        dim = _axes(dim, a.ndim) or None  # a 0-dim tensor: the whole (one-element) tensor
        if a.size == 0:  # nothing to normalise (and amax of nothing is undefined)
            out = a.copy()
            ctx.save_for_backward(out)
            ctx.dim = dim
            return out
        shifted = a - np.amax(a, axis=dim, keepdims=True)
        out = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved
        return grad - np.exp(out) * grad.sum(axis=ctx.dim, keepdims=True)
