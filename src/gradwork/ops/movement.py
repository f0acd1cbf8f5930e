"""Movement primitives: reshape, permute, expand, indexing, gather, pad, cat, stack, cast.

They move numbers around without arithmetic, so each backward moves the
gradient back the same way. Composites (view, flatten, squeeze, transpose,
split, chunk, non-constant padding) are built from these in tensor.py.
"""

from __future__ import annotations

import itertools

import numpy as np

from gradwork._arrays import is_device_array, sparse_indices, xp_of
from gradwork.autograd import Function, ShapeError
from gradwork.ops._scatter import add_rows_at


class Reshape(Function):
    """A new shape over the same elements (a view when NumPy can make one)."""

    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise ShapeError(
                f"reshape: shape {tuple(shape)} is invalid for a tensor of shape "
                f"{a.shape} ({a.size} elements)"
            ) from None

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.shape)


class Permute(Function):
    """Reorder the axes (a view)."""

    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        return a.transpose(dims)

    @staticmethod
    def backward(ctx, grad):
        return grad.transpose(tuple(np.argsort(ctx.dims).tolist()))


class Expand(Function):
    """A broadcast view; its backward is the engine's unbroadcast."""

    @staticmethod
    def forward(ctx, a, shape):
        return np.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, grad):
        return grad


class Cast(Function):
    """Change dtype (or make a contiguous copy); the gradient goes back to the old dtype."""

    @staticmethod
    def forward(ctx, a, dtype, copy=False):
        ctx.dtype = a.dtype
        # NOTE: astype returns `a` itself when nothing changes; clone needs a copy.
        # (np.ascontiguousarray would also turn a 0-dim array into a 1-element one.)
        return a.astype(dtype, order="C", copy=bool(copy))

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.dtype, copy=False)


def is_advanced_index(index) -> bool:
    """True if NumPy would use advanced indexing (copies, repeats) for `index`."""
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, np.ndarray | list) or is_device_array(i) for i in items)


def _zeroed(index):
    """`index` with every integer array replaced by zeros of its shape (masks stay)."""
    items = index if isinstance(index, tuple) else (index,)
    zeroed = tuple(
        np.zeros_like(i, dtype=np.intp) if hasattr(i, "dtype") and i.dtype.kind in "iu" else i
        for i in items
    )
    return zeroed if isinstance(index, tuple) else zeroed[0]


def advanced_get(a, index):
    """`a[index]`, but with torch's bounds check for an empty result.

    NOTE: torch checks indices only while it copies elements, so an index out
    of range selects nothing without error when the result is empty for another
    reason (`zeros(0, 3)[:, [5]]` has shape (0, 1)); NumPy checks every index.
    An index into a dim of size 0 with a non-empty result still raises.
    """
    try:
        return a[index]
    except IndexError:
        try:
            empty = a[_zeroed(index)]  # the same shape, from indices that are in range
        except IndexError:
            empty = None
        if empty is None or empty.size:
            raise
        return empty


def advanced_set(a, index, value):
    """`a[index] = value`; an empty selection writes nothing, whatever its indices (torch)."""
    try:
        a[index] = value
    except IndexError:
        if advanced_get(a, index).size:  # (raises itself for an index torch refuses too)
            raise


class GetItem(Function):
    """t[index] for basic slices, integer arrays and boolean masks.

    `then`, when given, is a second index applied to the result of the first:
    torch applies integer indices before advanced ones (see
    `gradwork._tensor_shape.torch_index`), which NumPy's single pass does not.
    """

    @staticmethod
    def forward(ctx, a, index, then=None):
        ctx.shape, ctx.index, ctx.then = a.shape, index, then
        return advanced_get(a, index) if then is None else advanced_get(a[index], then)

    @staticmethod
    def backward(ctx, grad):
        out = np.zeros_like(grad, shape=ctx.shape)
        target, index = (out, ctx.index) if ctx.then is None else (out[ctx.index], ctx.then)
        if grad.size == 0:  # nothing selected (an index may be out of range, see above)
            return out
        if is_advanced_index(index):
            # NOTE: a repeated index must accumulate (x[[0, 0]] uses x[0] twice);
            # plain assignment would keep only the last write.
            np.add.at(target, index, grad)
        else:
            target[index] = grad
        return out


class SetItem(Function):
    """`t[index] = value` as a new array: the old values outside `index`, `value` inside.

    In-place `t[index] = value` records this op and writes its result back
    (gradwork._tensor_inplace); `then` is GetItem's second index.
    """

    @staticmethod
    def forward(ctx, a, value, index, then=None):
        ctx.index, ctx.then = index, then
        out = a.copy()
        target = out if then is None else out[index]
        advanced_set(target, index if then is None else then, value)
        return out

    @staticmethod
    def backward(ctx, grad):
        grad_a = grad_value = None
        target_index = ctx.index if ctx.then is None else ctx.then
        if ctx.needs_input_grad[0]:
            grad_a = xp_of(grad).array(grad, copy=True)  # (a 0-dim gradient may be a scalar)
            advanced_set(grad_a if ctx.then is None else grad_a[ctx.index], target_index, 0)
        if ctx.needs_input_grad[1]:
            grad = xp_of(grad).asarray(grad)
            grad_value = advanced_get(grad if ctx.then is None else grad[ctx.index], target_index)
        return grad_a, grad_value


class IndexSelect(Function):
    """Pick whole slices along `dim` by an integer index array (embeddings, padding)."""

    @staticmethod
    def forward(ctx, a, dim, index):
        index = xp_of(a).asarray(index)  # a host index goes to a's device (explicitly)
        ctx.shape, ctx.dim, ctx.index = a.shape, dim, index
        return np.take(a, index, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        out = np.zeros_like(grad, shape=ctx.shape)
        if ctx.dim == 0 and ctx.index.ndim == 1 and grad.ndim == 2:
            add_rows_at(out, ctx.index, grad)
        elif ctx.dim == 0 and ctx.index.ndim == 1:
            np.add.at(out, ctx.index, grad)
        else:
            prefix = (slice(None),) * (ctx.dim % len(ctx.shape))
            np.add.at(out, prefix + (ctx.index,), grad)
        return out


class Gather(Function):
    """torch.gather: out[i][j] = a[index[i][j]][j] along `dim` (dim 0 shown)."""

    @staticmethod
    def forward(ctx, a, dim, index):
        # torch lets index be smaller than `a` in the other dims: trim `a` to fit.
        trim = tuple(slice(0, n) if d != dim else slice(None) for d, n in enumerate(index.shape))
        index = xp_of(a).asarray(index)  # a host index goes to a's device (explicitly)
        ctx.shape, ctx.dim, ctx.index, ctx.trim = a.shape, dim, index, trim
        if index.size == 0:  # NOTE: an empty index may be larger than `a`: nothing to trim
            return np.empty_like(a, shape=index.shape)
        return np.take_along_axis(a[trim], index, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        out = np.zeros_like(grad, shape=ctx.shape)
        if ctx.index.size == 0:
            return out
        if ctx.index.shape[ctx.dim] == 1:
            # One pick per row (max(dim), the true-class logit): no index can
            # repeat, so a plain scatter is exact and much faster than add.at.
            np.put_along_axis(out[ctx.trim], ctx.index, grad, axis=ctx.dim)
            return out
        grid = sparse_indices(ctx.index.shape, ctx.index)
        grid[ctx.dim] = ctx.index
        # NOTE: indices may repeat along dim; add.at accumulates them.
        np.add.at(out, tuple(grid), grad)
        return out


class ConstantPad(Function):
    """Pad with a constant; `widths` holds one (before, after) pair per axis."""

    @staticmethod
    def forward(ctx, a, widths, value=0.0):
        shape = tuple(n + lo + hi for n, (lo, hi) in zip(a.shape, widths, strict=False))
        ctx.inner = tuple(slice(lo, lo + n) for n, (lo, _) in zip(a.shape, widths, strict=False))
        out = np.full_like(a, value, shape=shape)
        out[ctx.inner] = a
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad[ctx.inner]


class Cat(Function):
    """Join along an existing dimension. A true primitive (one copy for any number of inputs)."""

    @staticmethod
    def forward(ctx, *arrays, dim=0):
        ctx.dim = dim
        ctx.bounds = list(itertools.accumulate(a.shape[dim] for a in arrays))[:-1]
        return np.concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        return tuple(np.split(grad, ctx.bounds, axis=ctx.dim))


class Stack(Function):
    """Join along a new dimension. Composable as unsqueeze + cat; kept as one node and one copy
    (speed: recurrent outputs stack one tensor per step)."""

    @staticmethod
    def forward(ctx, *arrays, dim=0):
        ctx.dim = dim
        return np.stack(arrays, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        return tuple(np.moveaxis(grad, ctx.dim, 0))
