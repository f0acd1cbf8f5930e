"""Primitives for scans and scatter: cumsum, cumprod, scatter, scatter_reduce.

Only what can't be composed from existing primitives, each with the reason in
its docstring. Sorting, flipping, rolling, diagonals and the like are composed
in gradwork._tensor_scan from gather, index_select, getitem and cat, so they
get their gradients for free. `PRIMITIVES` lists these for gradwork.ops.PRIMITIVES.

The Tensor methods check dims, dtypes, shapes and index bounds before calling
these, so the primitives see valid input only.
"""

from __future__ import annotations

import numpy as np

from gradwork._arrays import sparse_indices, xp_of
from gradwork.autograd import Function
from gradwork.ops.dims import normalize_dim

# Sorting positions moved to ops/sorting.py; importable from here as before.
from gradwork.ops.sorting import running_index as running_index
from gradwork.ops.sorting import sort_indices as sort_indices
from gradwork.ops.sorting import topk_indices as topk_indices


def _reverse_cumsum(a, axis):
    """sum_{j >= k} a_j along `axis`: the adjoint of cumsum."""
    return np.flip(np.cumsum(np.flip(a, axis), axis=axis), axis)


class CumSum(Function):
    """Running sum along `dim` (speed: one NumPy pass, where a composite needs a matmul)."""

    @staticmethod
    def forward(ctx, a, dim):
        ctx.dim = dim
        return np.cumsum(a, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        # out_j = sum_{k <= j} a_k, so a_k reaches every out_j with j >= k.
        return _reverse_cumsum(grad, ctx.dim)


class CumProd(Function):
    """Running product along `dim` (speed, and an exact gradient where the input holds zeros)."""

    @staticmethod
    def forward(ctx, a, dim):
        ctx.dim = dim
        out = np.cumprod(a, axis=dim)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved
        if a.shape[ctx.dim] <= 1:  # out is a itself (torch passes the gradient, even at nan)
            return grad
        if np.all(a != 0):
            # d out_j / d a_k = out_j / a_k for j >= k.
            return _reverse_cumsum(grad * out, ctx.dim) / a
        # NOTE: with a zero, out_j / a_k is 0/0. Write d out_j / d a_k as
        # prefix_{k-1} * prod_{k<i<=j} a_i and sum over j by the recurrence
        # s_k = grad_k + a_{k+1} * s_{k+1}: no division at all (torch is exact too).
        x, g = np.moveaxis(a, ctx.dim, 0), np.moveaxis(grad, ctx.dim, 0)
        suffix = np.empty_like(g)
        running = np.zeros_like(g[0])
        for k in reversed(range(len(x))):
            running = g[k] + (x[k + 1] * running if k + 1 < len(x) else 0)
            suffix[k] = running
        prefix = np.concatenate([np.ones_like(x[:1]), np.cumprod(x, axis=0)[:-1]])
        # torch's split, kept so that nan and inf spread alike: before the first zero,
        # the division formula; at it, the product above; past it, exactly 0.
        zeros_so_far = np.cumsum(x == 0, axis=0)
        before = zeros_so_far == 0
        ahead = np.where(before, g * np.moveaxis(out, ctx.dim, 0), 0)
        divided = _reverse_cumsum(ahead, 0) / np.where(before, x, 1)
        exact = np.where(zeros_so_far - (x == 0) > 0, 0, prefix * suffix)
        return np.moveaxis(np.where(before, divided, exact), 0, ctx.dim)


def _trim(index, ndim, dim=None):
    """The leading corner of an array that `index` covers (torch lets index be smaller),
    whole along `dim` (where the index values point)."""
    return tuple(
        slice(None) if d == dim or d >= index.ndim else slice(0, index.shape[d])
        for d in range(ndim)
    )


def _grid(index, dim):
    """Advanced index of the positions `index` names along `dim` (for ufunc.at)."""
    grid = sparse_indices(index.shape, index)
    grid[dim] = index
    return tuple(grid)


def _scattered(shape, index, dim):
    """Boolean mask of the positions of an array of `shape` that `index` writes to."""
    mask = np.zeros_like(index, dtype=bool, shape=shape)
    mask[_grid(index, dim)] = True
    return mask


class Scatter(Function):
    """`out = a` with `out[index[i]][j] = src[i][j]` along `dim` (dim 0 shown).

    A primitive because its gradient is a gather (for src) and a masked copy
    (for a): composing it from where/add would need the mask as a graph input.
    `src` may be a number (torch's `value=`).
    """

    @staticmethod
    def forward(ctx, a, src, dim, index):
        index = xp_of(a).asarray(index)  # a host index goes to a's device (explicitly)
        ctx.dim, ctx.index, ctx.src_shape = dim, index, np.shape(src)
        out = a.copy()
        values = src[_trim(index, np.ndim(src))] if np.ndim(src) else src
        # NOTE: a repeated index keeps the last write, as torch's CPU loop does.
        np.put_along_axis(out[_trim(index, a.ndim, dim)], index, values, axis=dim)
        return out

    @staticmethod
    def backward(ctx, grad):
        grad_a = grad_src = None
        if ctx.needs_input_grad[0]:  # overwritten positions get no gradient
            grad_a = grad.copy()
            np.put_along_axis(grad_a[_trim(ctx.index, grad.ndim, ctx.dim)], ctx.index, 0, ctx.dim)
        if ctx.needs_input_grad[1]:
            grad_src = np.zeros_like(grad, shape=ctx.src_shape)
            picked = np.take_along_axis(
                grad[_trim(ctx.index, grad.ndim, ctx.dim)], ctx.index, ctx.dim
            )
            grad_src[_trim(ctx.index, len(ctx.src_shape))] = picked
        return grad_a, grad_src


_UFUNCS = {"sum": np.add, "mean": np.add, "prod": np.multiply,
           "amax": np.maximum, "amin": np.minimum}  # fmt: skip


def _identity(reduce, dtype):
    """The start value of a reduction that leaves `self` out (include_self=False)."""
    # NumPy scalars, not 0-d arrays: they mix with device arrays as numbers do.
    if reduce in ("sum", "mean"):
        return dtype.type(0)
    if reduce == "prod":
        return dtype.type(1)
    if dtype.kind == "f":
        return dtype.type(-np.inf if reduce == "amax" else np.inf)
    info = np.iinfo(dtype) if dtype.kind in "iu" else None
    if info is None:  # bool
        return np.bool_(reduce == "amin")
    return dtype.type(info.min if reduce == "amax" else info.max)


class ScatterReduce(Function):
    """torch.scatter_reduce: fold src into a along `dim` at `index` ('sum', 'prod',
    'mean', 'amax', 'amin'), with or without a's own value.

    A primitive for speed (one `ufunc.at` pass) and for torch's gradients:
    amax/amin share the gradient evenly among ties, prod is exact with zeros.
    """

    @staticmethod
    def forward(ctx, a, src, dim, index, reduce="sum", include_self=True):
        index = xp_of(a).asarray(index)  # a host index goes to a's device (explicitly)
        ctx.dim, ctx.index, ctx.reduce, ctx.src_shape = dim, index, reduce, src.shape
        src = src[_trim(index, src.ndim)]  # only the corner that index covers takes part
        grid = _grid(index, dim)
        # Where self takes part: everywhere, or (include_self=False) where nothing lands.
        ctx.own = np.ones_like(a, dtype=bool) if include_self else ~_scattered(a.shape, index, dim)
        out = np.where(ctx.own, a, _identity(reduce, a.dtype))
        _UFUNCS[reduce].at(out, grid, src)
        if reduce == "mean":
            count = ctx.own.astype(np.int64)
            np.add.at(count, grid, 1)
            ctx.count = np.maximum(count, 1)
            # torch floors an integer mean.
            out = out / ctx.count if out.dtype.kind in "fc" else out // ctx.count
            out = out.astype(a.dtype, copy=False)
        ctx.save_for_backward(a, src, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, src, out = ctx.saved
        take = _taker(ctx.index, ctx.dim)
        if ctx.reduce in ("sum", "mean"):
            grad = grad / ctx.count if ctx.reduce == "mean" else grad
            grad_a, grad_src = grad * ctx.own, take(grad)
        elif ctx.reduce == "prod":
            grad_a, grad_src = _prod_grads(ctx, a, src, grad, take)
        else:  # amax/amin: the gradient is shared by every element equal to the result.
            wins_a = ctx.own & (a == out)
            wins_src = src == take(out)
            ties = wins_a.astype(grad.dtype)
            np.add.at(ties, _grid(ctx.index, ctx.dim), wins_src)
            share = grad / np.maximum(ties, 1)
            grad_a, grad_src = share * wins_a, take(share) * wins_src
        if grad_src.shape != ctx.src_shape:  # src was larger than index: the rest gets 0
            full = np.zeros_like(grad_src, shape=ctx.src_shape)
            full[_trim(ctx.index, full.ndim)] = grad_src
            grad_src = full
        return grad_a, grad_src


def _taker(index, dim):
    """x -> x's values at the positions `index` names (a gather along `dim`)."""
    return lambda x: np.take_along_axis(x[_trim(index, x.ndim, dim)], index, dim)


def _prod_grads(ctx, a, src, grad, take):
    """Gradients of a scatter product, exact with zeros.

    With no zero among an output's factors, d out / d e = out / e. With one
    zero, only that factor gets a gradient: the product of the others. With
    two or more, every factor's gradient is 0.
    """
    grid = _grid(ctx.index, ctx.dim)
    mine = np.where(ctx.own, a, 1)
    nonzero = np.where(mine == 0, 1, mine)
    zeros = (mine == 0).astype(np.int64)
    np.multiply.at(nonzero, grid, np.where(src == 0, 1, src))
    np.add.at(zeros, grid, src == 0)

    def factor_grad(e, others, zero_count, g):
        safe = np.where(e == 0, 1, e)
        lone_zero = (zero_count == 1) & (e == 0)
        return g * np.where(zero_count == 0, others / safe, np.where(lone_zero, others, 0))

    grad_a = factor_grad(a, nonzero, zeros, grad) * ctx.own
    grad_src = factor_grad(src, take(nonzero), take(zeros), take(grad))
    return grad_a, grad_src


PRIMITIVES: tuple = (CumSum, CumProd, Scatter, ScatterReduce)


# ------------------------------------------------------------------------
# Argument checks for gradwork._tensor_scan, on raw arrays: torch's errors for
# gather, scatter and index_add. Sorting positions live in ops/sorting.py.
# ------------------------------------------------------------------------
def _integer_index(index, name):
    if index.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): Expected dtype int64 for index, got {index.dtype}")
    return index


def check_bounds(index, size, dim):
    """torch's RuntimeError for an index outside [0, size) along `dim` (gather, scatter)."""
    bad = (index < 0) | (index >= size)
    if bad.any():
        raise RuntimeError(
            f"index {int(index[bad].reshape(-1)[0])} is out of bounds for dimension {dim} "
            f"with size {size}"
        )


def check_scatter(tensor, dim, index, source, name):
    """torch's checks for scatter/scatter_add/scatter_reduce; returns (dim, index array)."""
    index = _integer_index(index, name)
    dim = normalize_dim(dim, tensor.ndim)
    low_rank = index.ndim <= 1 and tensor.ndim <= 1
    if index.ndim != tensor.ndim and not low_rank:
        raise RuntimeError("Index tensor must have the same number of dimensions as self tensor")
    if source is not None and index.ndim != source.ndim and not (low_rank and source.ndim <= 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
    if source is not None and source.dtype != tensor.dtype:
        raise RuntimeError(
            f"{name}(): Expected self.dtype to be equal to src.dtype, got {tensor.dtype} and "
            f"{source.dtype}; convert src with .to(self.dtype)"
        )
    if index.size == 0:
        return dim, index
    if tensor.ndim and source is not None and source.ndim:
        too_big = any(
            n > m
            for d, (n, m) in enumerate(zip(index.shape, tensor.shape, strict=False))
            if d != dim
        )
        if too_big or any(n > m for n, m in zip(index.shape, source.shape, strict=False)):
            raise RuntimeError(
                f"Expected index {list(index.shape)} to be no larger than self "
                f"{list(tensor.shape)} apart from dimension {dim} and to be no larger size "
                f"than src {list(source.shape)}"
            )
    check_bounds(index, tensor.shape[dim] if tensor.ndim else 1, dim)
    return dim, index


def check_index_add(tensor, dim, index, source):
    """torch's checks for index_add, in torch's order; returns (dim, index array).

    Example:
        >>> check_index_add(np.zeros((2, 3)), -1, np.array([2]), np.ones((2, 1)))
        (1, array([2]))
    """
    dim = normalize_dim(dim, tensor.ndim)
    if index.ndim > 1:
        raise IndexError(
            f"index_add_(): Index is supposed to be a vector, but got dim: {index.ndim}; "
            "flatten it with .reshape(-1)"
        )
    if index.dtype.kind not in "iu":
        raise RuntimeError(f"index_add_(): Expected dtype int32/int64 for index, got {index.dtype}")
    if source.dtype != tensor.dtype:
        raise RuntimeError(
            f"index_add_(): self ({tensor.dtype}) and source ({source.dtype}) must have the "
            "same scalar type; convert source with .to(self.dtype)"
        )
    index = index.reshape(-1)
    _check_index_add_shapes(tensor.shape, dim, len(index), source.shape)
    if tensor.ndim > 1 and (0 in tensor.shape or index.size == 0):
        return dim, index  # torch's N-D kernel returns before it checks bounds
    size = tensor.shape[dim] if tensor.ndim else 1
    if tensor.ndim <= 1 and ((index < 0) | (index >= size)).any():  # torch's 1-D kernel
        raise IndexError(f"index out of range in self: indices must lie in [0, {size})")
    check_bounds(index, size, dim)
    return dim, index


def _check_index_add_shapes(shape, dim, count, source_shape):
    """index_add: source has `count` slices along `dim`, and self's shape elsewhere."""
    if dim != 0 and dim >= len(source_shape):
        raise RuntimeError(
            f"index_add_(): Indexing dim {dim} is out of bounds of the source tensor with "
            f"dim {len(source_shape)}; give source as many dims as self"
        )
    expected = source_shape[dim] if source_shape else 1
    if count != expected and not source_shape:
        # NOTE: torch's message asks a 0-dim source for its size along dim: an IndexError.
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    if count != expected:
        raise RuntimeError(
            f"index_add_(): Number of indices ({count}) should be equal to "
            f"source.size(dim): ({expected}), for dim: {dim}"
        )
    rest, source_rest = list(shape), list(source_shape)
    if shape and source_shape:
        del rest[dim], source_rest[dim]
    if rest != source_rest:
        raise RuntimeError(
            "source tensor shape must match self tensor shape, excluding the specified "
            f"dimension. Got self.shape = {list(shape)} source.shape = {list(source_shape)}"
        )
