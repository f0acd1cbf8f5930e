"""Tensor methods that scan, sort, select and scatter: cumsum, cummax, sort, topk,
nonzero, masked_select, scatter, scatter_reduce, index_add, ...

Most are composed from existing primitives (gather for sorted values, getitem
for masks), so their gradients come free; the few primitives they need
(cumsum, cumprod, scatter, scatter_reduce) live in `gradwork.ops.scan`, the
sorting positions in `gradwork.ops.sorting`. Indices are computed on raw
arrays and returned as int64 tensors without gradient, as in torch. Flip,
roll, repeat, triangles, diagonals and meshgrid are in `_tensor_rearrange.py`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradwork import ops
from gradwork._arrays import as_array, xp_of
from gradwork._tensor_inplace import _replace
from gradwork._tensor_math import ValuesIndices, _no_grad, _reduced_dtype
from gradwork._tensor_rearrange import _as_vector
from gradwork._tensor_rearrange import meshgrid as meshgrid  # (moved; importable as before)
from gradwork._tensor_shape import index_array
from gradwork.ops.dims import normalize_dim
from gradwork.ops.scan import (
    CumProd,
    CumSum,
    Scatter,
    ScatterReduce,
    check_index_add,
    check_scatter,
)
from gradwork.ops.sorting import running_index, sort_indices, topk_indices

_REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


class ScanMethods:
    __slots__ = ()

    # ------------------------------------------------------------------ scans
    def cumsum(self, dim: int, *, dtype: Any = None):
        """Running sum along `dim`; integers and bools accumulate in int64, as in torch.

        Example:
            >>> import gradwork as gw
            >>> gw.tensor([1, 2, 3]).cumsum(0)
            tensor([1, 3, 6])
        """
        if self.ndim == 0:
            return _as_vector(self, dim, lambda v, d: v.cumsum(d, dtype=dtype))
        return CumSum.apply(_reduced_dtype(self, dtype), normalize_dim(dim, self.ndim))

    def cumprod(self, dim: int, *, dtype: Any = None):
        """Running product along `dim`; the gradient is exact where the input holds zeros."""
        if self.ndim == 0:
            return _as_vector(self, dim, lambda v, d: v.cumprod(d, dtype=dtype))
        return CumProd.apply(_reduced_dtype(self, dtype), normalize_dim(dim, self.ndim))

    def cummax(self, dim: int):
        """(values, indices) of the running maximum; ties point at the latest position."""
        return self._running_extreme(dim, np.maximum)

    def cummin(self, dim: int):
        """(values, indices) of the running minimum; ties point at the latest position."""
        return self._running_extreme(dim, np.minimum)

    def _running_extreme(self, dim, ufunc):
        if self.ndim == 0:
            return _as_vector(self, dim, lambda v, d: v._running_extreme(d, ufunc))
        dim = normalize_dim(dim, self.ndim)
        running = ufunc.accumulate(self.array, axis=dim)
        indices = running_index(self.array, running, dim).astype(np.int64)
        # The values are a gather, so the gradient reaches the winning positions.
        return ValuesIndices(ops.Gather.apply(self, dim, indices), _no_grad(indices))

    # ---------------------------------------------------------------- sorting
    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False):
        """(values, indices) sorted along `dim`. Always stable: equal values keep their order.

        Example:
            >>> import gradwork as gw
            >>> gw.tensor([3, 1, 2]).sort(descending=True).indices
            tensor([0, 2, 1])
        """
        if self.ndim == 0:
            return _as_vector(self, dim, lambda v, d: v.sort(d, descending))
        dim = normalize_dim(dim, self.ndim)
        indices = sort_indices(self.array, dim, descending).astype(np.int64)
        return ValuesIndices(ops.Gather.apply(self, dim, indices), _no_grad(indices))

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False):
        if self.ndim == 0:
            normalize_dim(dim, 0)
            return _no_grad(xp_of(self.array).zeros((), np.int64))
        dim = normalize_dim(dim, self.ndim)
        return _no_grad(sort_indices(self.array, dim, descending).astype(np.int64))

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):  # noqa: A002
        """(values, indices) of the k largest (or smallest) along `dim`, best first.

        NOTE: torch leaves the order of ties unspecified, but its CPU kernel is
        deterministic (libstdc++'s partial_sort, or nth_element then sort): rows
        with ties replay it, so the indices are torch's (rows up to 4096 long;
        longer ones put the earliest tie first).
        """
        axis = normalize_dim(dim, self.ndim)
        if self.array.dtype == np.bool_:
            raise RuntimeError("topk does not support bool dtypes on CPU; convert with .long()")
        size = self.shape[axis] if self.ndim else 1
        if not 0 <= k <= size:
            raise RuntimeError(
                f"selected index k out of range: k={k} but dimension {dim} has size {size}"
            )
        if self.ndim == 0:
            return ValuesIndices(self.clone(), _no_grad(xp_of(self.array).zeros((), np.int64)))
        indices = topk_indices(self.array, k, axis, largest).astype(np.int64)
        return ValuesIndices(ops.Gather.apply(self, axis, indices), _no_grad(indices))

    # ------------------------------------------------------------- selection
    def nonzero(self, *, as_tuple: bool = False):
        """Indices of the nonzero elements: an (n, ndim) int64 tensor, or one tensor per dim."""
        if as_tuple:
            data = self.array.reshape(1) if self.ndim == 0 else self.array
            return tuple(_no_grad(i.astype(np.int64)) for i in np.nonzero(data))
        return _no_grad(np.argwhere(self.array).astype(np.int64))

    def masked_select(self, mask):
        """The elements where the (broadcast) boolean mask holds, as a 1-D tensor."""
        mask = as_array(getattr(mask, "array", mask))
        if mask.dtype != np.bool_:
            raise RuntimeError(
                f"masked_select: expected BoolTensor for mask, got {mask.dtype}; compare first"
            )
        try:
            shape = np.broadcast_shapes(self.shape, mask.shape)
        except ValueError:
            raise RuntimeError(
                f"masked_select: the mask of shape {mask.shape} must broadcast with the "
                f"tensor of shape {tuple(self.shape)}"
            ) from None
        tensor = self if self.shape == shape else self.expand(shape)
        return ops.GetItem.apply(tensor, np.broadcast_to(mask, shape))

    def scatter(self, dim: int, index, src=None, value=None, *, reduce: str | None = None):
        """A copy with `src` (or the number `value`) written at `index` along `dim`.

        Example:
            >>> import gradwork as gw
            >>> gw.zeros(2, 3).scatter(1, gw.tensor([[2], [0]]), 1.0)
            tensor([[0., 0., 1.],
                    [1., 0., 0.]])
        """
        source = value if src is None else src
        if reduce is not None:
            if reduce not in ("add", "multiply"):
                raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce}")
            return self._scatter_fold(dim, index, source, "sum" if reduce == "add" else "prod")
        number = not _is_tensor(source)
        dim, index = check_scatter(
            self, dim, index_array(index, "scatter"), None if number else source, "scatter"
        )
        if index.size == 0:  # nothing to write (index may even be wider than self)
            return self.clone()
        if number:  # a number takes the tensor's dtype
            source = self.dtype.type(source)  # a NumPy scalar: it mixes with any device
        if self.ndim == 0:  # one element: seen as a vector of one
            source = source if number else source.reshape(-1)
            return Scatter.apply(self.reshape(1), source, 0, index.reshape(-1)).reshape(())
        return Scatter.apply(self, source, dim, index)

    def _scatter_fold(self, dim, index, source, reduce, include_self=True):
        if not _is_tensor(source):
            shape = np.shape(getattr(index, "array", index))
            source = _no_grad(np.full_like(self.array, source, shape=shape))
        dim, index = check_scatter(self, dim, index_array(index, "scatter"), source, "scatter")
        if index.size == 0:
            return self.clone()
        if self.ndim == 0:
            self, source = self.reshape(1), source.reshape(-1)  # noqa: PLW0642
            out = ScatterReduce.apply(self, source, 0, index.reshape(-1), reduce, include_self)
            return out.reshape(())
        return ScatterReduce.apply(self, source, dim, index, reduce, include_self)

    def scatter_add(self, dim: int, index, src):
        """A copy with `src` added at `index` along `dim` (repeated indices accumulate)."""
        return self._scatter_fold(dim, index, src, "sum")

    def scatter_reduce(self, dim: int, index, src, reduce: str, *, include_self: bool = True):
        """Fold `src` into a copy at `index` with 'sum', 'prod', 'mean', 'amax' or 'amin'."""
        if reduce not in _REDUCTIONS:
            raise RuntimeError(
                f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}"
            )
        return self._scatter_fold(dim, index, src, reduce, include_self)

    def index_add(self, dim: int, index, source, *, alpha: Any = 1):
        """A copy with `alpha * source[i]` added to slice `index[i]` along `dim`."""
        dim, index = check_index_add(self, dim, index_array(index, "index_add"), source)
        if self.numel() == 0:  # nothing to add to (and no bounds were checked, as in torch)
            return self.clone()
        if alpha != 1:
            source = source * (alpha if self.dtype.kind in "fc" else int(alpha))
        # index_add is scatter_add with the index stretched over source's other dims.
        if self.ndim == 0:
            return self.scatter_add(0, index.reshape(-1), source.reshape(-1)).reshape(())
        shape = [1] * source.ndim
        shape[dim] = -1
        spread = np.broadcast_to(index.reshape(shape), source.shape)
        return ScatterReduce.apply(self, source, dim, spread.copy(), "sum")  # contiguous

    # -------------------------------------------------------------- in place
    def scatter_(self, dim: int, index, src=None, value=None, *, reduce: str | None = None):
        return _replace(self, lambda old: old.scatter(dim, index, src, value, reduce=reduce), src)

    def scatter_add_(self, dim: int, index, src):
        return _replace(self, lambda old: old.scatter_add(dim, index, src), src)

    def scatter_reduce_(self, dim: int, index, src, reduce: str, *, include_self: bool = True):
        def compute(old):
            return old.scatter_reduce(dim, index, src, reduce, include_self=include_self)

        return _replace(self, compute, src)

    def index_add_(self, dim: int, index, source, *, alpha: Any = 1):
        return _replace(self, lambda old: old.index_add(dim, index, source, alpha=alpha), source)

    def masked_fill_(self, mask, value):
        return _replace(self, lambda old: old.masked_fill(mask, value), value)


def _is_tensor(value: Any) -> bool:
    return hasattr(value, "_version_counter")
