"""Tensor methods that move data: reshaping, transposing, indexing, splitting."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradwork import autograd, ops


def _sizes(args: tuple) -> tuple:
    """Accept both t.reshape(2, 3) and t.reshape((2, 3))."""
    if len(args) == 1 and isinstance(args[0], tuple | list):
        return tuple(args[0])
    return tuple(args)


def _dim(dim: int, ndim: int, name: str) -> int:
    if not -ndim <= dim < max(ndim, 1):
        raise IndexError(
            f"{name}: dimension {dim} is out of range for a tensor with {ndim} dimensions "
            f"(expected a value in [{-ndim}, {max(ndim, 1) - 1}])"
        )
    return dim % ndim if ndim else 0


def index_array(value: Any, where: str) -> np.ndarray:
    """An index given as a tensor or list, checked to be integer or boolean."""
    array = np.asarray(getattr(value, "data", value))
    if array.dtype.kind not in "iub":
        if array.size == 0:
            return array.astype(np.int64)
        raise IndexError(
            f"{where}: tensors used as indices must be integer (long) or bool, got "
            f"{array.dtype}; convert with .long()"
        )
    return array


def _normalise_index(index: Any) -> Any:
    if isinstance(index, tuple):
        return tuple(_normalise_index(i) for i in index)
    if isinstance(index, int | slice | type(None) | type(Ellipsis)):
        return index
    return index_array(index, "indexing")


class ShapeMethods:
    __slots__ = ()

    def reshape(self, *shape):
        return ops.Reshape.apply(self, _sizes(shape))

    view = reshape

    def view_as(self, other):
        return self.reshape(other.shape)

    reshape_as = view_as

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        if self.ndim == 0:
            return self.reshape(1)
        start = _dim(start_dim, self.ndim, "flatten")
        end = _dim(end_dim, self.ndim, "flatten")
        shape = self.shape[:start] + (-1,) + self.shape[end + 1 :]
        return self.reshape(shape) if start <= end else self

    def squeeze(self, dim: Any = None):
        if dim is None:
            dims = [d for d, n in enumerate(self.shape) if n == 1]
        else:
            dims = [
                _dim(d, self.ndim, "squeeze") for d in (dim if isinstance(dim, tuple) else (dim,))
            ]
        # NOTE: like torch, squeezing a dimension whose size is not 1 is a no-op.
        shape = tuple(n for d, n in enumerate(self.shape) if not (d in dims and n == 1))
        return self if shape == self.shape else self.reshape(shape)

    def unsqueeze(self, dim: int):
        dim = _dim(dim, self.ndim + 1, "unsqueeze")
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def permute(self, *dims):
        dims = tuple(_dim(d, self.ndim, "permute") for d in _sizes(dims))
        if sorted(dims) != list(range(self.ndim)):
            raise ValueError(
                f"permute: dims {dims} must be a permutation of 0..{self.ndim - 1} "
                f"for a tensor of shape {self.shape}"
            )
        return ops.Permute.apply(self, dims)

    def transpose(self, dim0: int, dim1: int):
        dims = list(range(self.ndim))
        a, b = _dim(dim0, self.ndim, "transpose"), _dim(dim1, self.ndim, "transpose")
        dims[a], dims[b] = dims[b], dims[a]
        return ops.Permute.apply(self, tuple(dims))

    @property
    def T(self):
        return ops.Permute.apply(self, tuple(reversed(range(self.ndim))))

    def t(self):
        if self.ndim > 2:
            raise ValueError(f"t: expects a tensor with <= 2 dimensions, got shape {self.shape}")
        return self.T

    def expand(self, *sizes):
        sizes = _sizes(sizes)
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise ValueError(f"expand: {sizes} has fewer dimensions than the tensor {self.shape}")
        shape = tuple(
            self.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes)
        )
        return ops.Expand.apply(self, shape)

    def expand_as(self, other):
        return self.expand(other.shape)

    def contiguous(self):
        if self.data.flags.c_contiguous:
            return self
        return ops.Cast.apply(self, self.data.dtype)

    # ---------------------------------------------------------------- indexing
    def __getitem__(self, index):
        return ops.GetItem.apply(self, _normalise_index(index))

    def __setitem__(self, index, value):
        if self.requires_grad and autograd.is_grad_enabled():
            raise RuntimeError(
                "setitem: in-place assignment into a tensor that requires grad would break "
                "its gradient; build a new tensor with gradwork.where(mask, value, t) or "
                "gradwork.cat, or assign inside `with gradwork.no_grad():`"
            )
        self.data[_normalise_index(index)] = getattr(value, "data", value)

    def gather(self, dim: int, index):
        index = index_array(index, "gather")
        return ops.Gather.apply(self, _dim(dim, self.ndim, "gather"), index)

    def index_select(self, dim: int, index):
        index = index_array(index, "index_select")
        return ops.IndexSelect.apply(self, _dim(dim, self.ndim, "index_select"), index)

    def split(self, split_size_or_sections: Any, dim: int = 0):
        dim = _dim(dim, self.ndim, "split")
        length = self.shape[dim]
        if isinstance(split_size_or_sections, int):
            size = split_size_or_sections
            sizes = [min(size, length - start) for start in range(0, length, size)]
        else:
            sizes = list(split_size_or_sections)
            if sum(sizes) != length:
                raise ValueError(
                    f"split: sizes {sizes} sum to {sum(sizes)} but dimension {dim} has {length}"
                )
        pieces, start = [], 0
        lead = (slice(None),) * dim
        for size in sizes:
            pieces.append(self[lead + (slice(start, start + size),)])
            start += size
        return tuple(pieces)

    def chunk(self, chunks: int, dim: int = 0):
        length = self.shape[_dim(dim, self.ndim, "chunk")]
        return self.split(max(-(-length // chunks), 1), dim)

    def unbind(self, dim: int = 0):
        dim = _dim(dim, self.ndim, "unbind")
        return tuple(self[(slice(None),) * dim + (i,)] for i in range(self.shape[dim]))

    # ----------------------------------------------------------------- in place
    def _check_inplace(self, name: str) -> None:
        if self.requires_grad and autograd.is_grad_enabled():
            raise RuntimeError(
                f"{name}: a tensor that requires grad can't be modified in place while the "
                "graph is recorded; wrap the update in `with gradwork.no_grad():`"
            )

    def zero_(self):
        self._check_inplace("zero_")
        self.data[...] = 0
        return self

    def fill_(self, value):
        self._check_inplace("fill_")
        self.data[...] = value
        return self

    def copy_(self, source):
        self._check_inplace("copy_")
        self.data[...] = np.asarray(getattr(source, "data", source))
        return self

    def add_(self, other, alpha: float = 1.0):
        self._check_inplace("add_")
        self.data += alpha * np.asarray(getattr(other, "data", other))
        return self

    def mul_(self, other):
        self._check_inplace("mul_")
        self.data *= np.asarray(getattr(other, "data", other))
        return self

    def clamp_(self, min=None, max=None):  # noqa: A002
        self._check_inplace("clamp_")
        np.clip(self.data, min, max, out=self.data)
        return self
