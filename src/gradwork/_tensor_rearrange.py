"""Tensor methods that rearrange elements without arithmetic: flip, roll, repeat,
repeat_interleave, tril/triu, diagonal, diag, trace, unflatten, unfold, meshgrid.

Each is composed from primitives (index_select for repeats and windows, getitem
for flips and diagonals, cat for roll, where for triangles), so gradients come
free. Split from `_tensor_scan.py`, which keeps scans, sorting and scatter.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradwork import ops
from gradwork._arrays import to_host, xp_of
from gradwork._tensor_inplace import _replace
from gradwork._tensor_math import operand
from gradwork._tensor_shape import _sizes
from gradwork.ops.dims import normalize_dim


def _as_vector(tensor, dim, method):
    """Run `method(vector, 0)` on a 0-dim tensor seen as one element, as torch does."""
    normalize_dim(dim, 0)
    out = method(tensor.reshape(1), 0)
    if isinstance(out, tuple):
        return type(out)(*(part.reshape(()) for part in out))
    return out.reshape(())


class RearrangeMethods:
    __slots__ = ()

    def flip(self, *args, dims: Any = None):
        """Reverse the order along each of `dims` (a copy, as in torch)."""
        if isinstance(dims, int):  # flip(0) is fine, flip(dims=0) is not, as in torch
            raise TypeError(f"flip(): argument 'dims' must be tuple of ints, not int ({dims})")
        axes = []
        for dim in _sizes(args) if dims is None else _sizes((dims,)):
            axes.append(normalize_dim(dim, self.ndim))  # checked in order, as torch does
            if axes[-1] in axes[:-1]:
                raise RuntimeError(f"dim {axes[-1]} appears multiple times in the list of dims")
        index = tuple(slice(None, None, -1) if d in axes else slice(None) for d in range(self.ndim))
        return ops.Cast.apply(ops.GetItem.apply(self, index), self.dtype, copy=True)

    def roll(self, shifts: Any, dims: Any = None):
        """Shift elements along `dims` with wrap-around; with no dims, over the flattened tensor."""
        shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
        if dims is None:
            if len(shifts) != 1:
                raise RuntimeError(f"roll: shifts {shifts} need dims, one dim per shift")
            return self.flatten().roll(shifts, 0).reshape(self.shape)
        dims = (dims,) if isinstance(dims, int) else tuple(dims)
        if self.numel() == 0:  # nothing to move: torch returns before checking dims
            return self.clone()
        if len(shifts) != len(dims):
            raise RuntimeError(
                f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}"
            )
        if self.ndim == 0:
            raise IndexError(f"Dimension specified as {dims[0]} but tensor has no dimensions")
        out = self
        for shift, dim in zip(shifts, dims, strict=False):
            dim = normalize_dim(dim, self.ndim)
            length = self.shape[dim]
            cut = length - shift % length if length else 0
            if cut in (0, length):
                continue
            lead = (slice(None),) * dim
            out = ops.Cat.apply(out[lead + (slice(cut, None),)], out[lead + (slice(0, cut),)],
                                dim=dim)  # fmt: skip
        return out.clone() if out is self else out

    def repeat(self, *sizes):
        """Tile the tensor `sizes[i]` times along dim i (new leading dims for extra sizes)."""
        sizes = _sizes(sizes)
        if len(sizes) < self.ndim:
            raise RuntimeError(
                "Number of dimensions of repeat dims can not be smaller than number of "
                f"dimensions of tensor: got sizes {sizes} for shape {tuple(self.shape)}"
            )
        shape = (1,) * (len(sizes) - self.ndim) + tuple(self.shape)
        target = tuple(r * n for r, n in zip(sizes, shape, strict=False))
        if any(n < 0 for n in target):
            raise RuntimeError(f"Trying to create tensor with negative dimension: {list(target)}")
        sizes = tuple(max(r, 0) for r in sizes)  # a -1 repeat of an empty dim is allowed
        # (n0, n1) -> (1, n0, 1, n1) -> expand to (r0, n0, r1, n1) -> (r0*n0, r1*n1).
        paired = tuple(x for n in shape for x in (1, n))
        stretched = tuple(x for r, n in zip(sizes, shape, strict=False) for x in (r, n))
        return self.reshape(paired).expand(stretched).reshape(target)

    def repeat_interleave(self, repeats: Any, dim: int | None = None, *, output_size=None):
        """Repeat each element (or slice along `dim`) `repeats` times, in place order."""
        if dim is not None and self.ndim == 0:  # torch's kernel looks one dim past a scalar
            raise IndexError(f"Dimension out of range (expected to be in range of [-1, 0], "
                             f"but got {dim if dim >= 0 else dim + 2})")  # fmt: skip
        tensor = self.flatten() if dim is None else self
        dim = 0 if dim is None else normalize_dim(dim, tensor.ndim)
        # The index is built on the host (an explicit copy of device counts), then moved.
        counts = np.asarray(to_host(getattr(repeats, "array", repeats)))
        if counts.ndim > 1:
            raise RuntimeError("repeat_interleave: repeats must be 0-dim or 1-dim tensor")
        length = tensor.shape[dim]
        if counts.size == 1:
            counts = np.full(length, counts.reshape(()))
        elif counts.size != length:
            raise RuntimeError(
                f"repeats must have the same size as input along dim, but got "
                f"repeats.size(0) = {counts.size} and input.size({dim}) = {length}"
            )
        if (counts < 0).any():
            raise RuntimeError(f"Repeats must be non-negative, got {counts.min()}")
        index = np.repeat(np.arange(length), counts)
        return ops.IndexSelect.apply(tensor, dim, index)

    def tril(self, diagonal: int = 0):
        """Keep the lower triangle of the last two dims (at or below `diagonal`), zero the rest."""
        return self._triangle(diagonal, lower=True)

    def triu(self, diagonal: int = 0):
        """Keep the upper triangle of the last two dims (at or above `diagonal`), zero the rest."""
        return self._triangle(diagonal, lower=False)

    def _triangle(self, diagonal, lower):
        if self.ndim < 2:
            raise RuntimeError(
                f"{'tril' if lower else 'triu'}: input tensor must have at least 2 dimensions, "
                f"got shape {tuple(self.shape)}"
            )
        rows, cols = self.shape[-2:]
        xp = xp_of(self.array)
        below = xp.tri(rows, cols, diagonal if lower else diagonal - 1, dtype=bool)
        keep = below if lower else ~below
        return ops.Where.apply(keep, self, self.dtype.type(0))

    def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1):
        """The diagonal of the (dim1, dim2) planes as a new last dim (a copy, not a view)."""
        d1, d2 = normalize_dim(dim1, self.ndim), normalize_dim(dim2, self.ndim)
        if d1 == d2:
            raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
        rows, cols = self.shape[d1], self.shape[d2]
        length = max(0, min(rows + min(offset, 0), cols - max(offset, 0)))
        i = np.arange(length) + max(-offset, 0)
        j = np.arange(length) + max(offset, 0)
        rest = [d for d in range(self.ndim) if d not in (d1, d2)]
        moved = ops.Permute.apply(self, (*rest, d1, d2))
        return ops.GetItem.apply(moved, (Ellipsis, i, j))

    def diag(self, diagonal: int = 0):
        """1-D: a square matrix with the vector on `diagonal`; 2-D: that diagonal as a vector."""
        if self.ndim == 2:
            return self.diagonal(diagonal)
        if self.ndim != 1:
            raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {self.ndim}D")
        size = len(self) + abs(diagonal)
        where = (np.arange(len(self)) + max(-diagonal, 0), np.arange(len(self)) + max(diagonal, 0))
        return ops.SetItem.apply(np.zeros_like(self.array, shape=(size, size)), self, where)

    def trace(self):
        """Sum of the main diagonal of a matrix (integers sum in int64)."""
        if self.ndim != 2:
            raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {self.ndim}")
        if self.array.dtype == np.bool_:
            raise NotImplementedError("\"trace\" not implemented for 'Bool'; convert with .long()")
        return self.diagonal().sum()

    def unflatten(self, dim: int, sizes: Any):
        """Split dim `dim` into `sizes` (one of them may be -1)."""
        sizes = tuple(sizes)
        if not sizes:
            raise RuntimeError("unflatten: sizes must be non-empty")
        dim = normalize_dim(dim, self.ndim)
        if self.ndim == 0:
            raise RuntimeError("unflatten: a 0-dim tensor has no dimension to unflatten")
        length, known = self.shape[dim], int(np.prod([n for n in sizes if n != -1]))
        if sizes.count(-1) > 1:
            raise RuntimeError("unflatten: only one dimension can be inferred (-1)")
        if -1 in sizes and known and length % known == 0:
            sizes = tuple(length // known if n == -1 else n for n in sizes)
        if -1 in sizes or int(np.prod(sizes)) != length:
            raise RuntimeError(
                f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of "
                f"dim {dim} ({length}) in the input tensor"
            )
        return self.reshape(self.shape[:dim] + sizes + self.shape[dim + 1 :])

    def unfold(self, dimension: int, size: int, step: int):
        """Sliding windows of `size` every `step` along `dimension`, as a new last dim."""
        if self.ndim == 0:
            return _as_vector(self, dimension, lambda v, d: v.unfold(d, size, step))
        dim = normalize_dim(dimension, self.ndim)
        length = self.shape[dim]
        if size < 0 or size > length:
            raise RuntimeError(
                f"maximum size for tensor at dimension {dim} is {length} but size is {size}"
            )
        if step <= 0:
            raise RuntimeError(f"step is {step} but must be > 0")
        count = (length - size) // step + 1
        starts = np.arange(count)[:, None] * step
        index = (starts + np.arange(size)).reshape(-1)
        windows = ops.IndexSelect.apply(self, dim, index)
        windows = windows.reshape(self.shape[:dim] + (count, size) + self.shape[dim + 1 :])
        order = [*range(dim + 1), *range(dim + 2, self.ndim + 1), dim + 1]
        return windows.permute(order)

    # -------------------------------------------------------------- in place
    def tril_(self, diagonal: int = 0):
        return _replace(self, lambda old: old.tril(diagonal))

    def triu_(self, diagonal: int = 0):
        return _replace(self, lambda old: old.triu(diagonal))


def meshgrid(*tensors: Any, indexing: str = "ij") -> tuple:
    """Coordinate grids from 1-D tensors: 'ij' (matrix) or 'xy' (Cartesian) indexing.

    Example:
        >>> import gradwork as gw
        >>> rows, cols = gw.meshgrid(gw.tensor([1, 2]), gw.tensor([3, 4, 5]), indexing="ij")
        >>> rows.shape, cols.tolist()
        ((2, 3), [[3, 4, 5], [3, 4, 5]])
    """
    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        tensors = tuple(tensors[0])
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    tensors = [operand(t) for t in tensors]
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor, got shape {t.shape}")
        if t.dtype != tensors[0].dtype:
            raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    sizes = [t.numel() for t in tensors]
    axes = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) >= 2:  # Cartesian: the first two dims swap
        axes[0], axes[1] = 1, 0
    shape = [0] * len(tensors)
    for axis, size in zip(axes, sizes, strict=False):
        shape[axis] = size
    grids = []
    for t, axis in zip(tensors, axes, strict=False):
        column = [1] * len(tensors)
        column[axis] = -1
        grids.append(t.reshape(column).expand(shape))
    return tuple(grids)
