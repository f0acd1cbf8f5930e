"""Tensor methods that move data: reshaping, transposing, indexing, splitting."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradwork import ops
from gradwork._arrays import as_array, is_device_array
from gradwork.ops.dims import normalize_dim
from gradwork.ops.scan import check_bounds


def _sizes(args: tuple) -> tuple:
    """Accept both t.reshape(2, 3) and t.reshape((2, 3))."""
    if len(args) == 1 and isinstance(args[0], tuple | list):
        return tuple(args[0])
    return tuple(args)


def index_array(value: Any, where: str) -> np.ndarray:
    """An index given as a tensor or list, checked to be integer or boolean."""
    array = as_array(getattr(value, "array", value))
    if array.dtype.kind not in "iub":
        if array.size == 0:
            return array.astype(np.int64)
        raise IndexError(
            f"{where}: tensors used as indices must be integer (long, int, byte) or bool "
            f"tensors, got {array.dtype}; convert with .long()"
        )
    return array


def _index_item(item: Any) -> Any:
    if isinstance(item, bool):
        return item
    if isinstance(item, int | np.integer):
        return int(item)
    if isinstance(item, slice | type(None) | type(Ellipsis)):
        return item
    array = index_array(item, "indexing")
    # torch reads a 0-dim integer tensor as a plain integer (it selects).
    return int(array) if array.ndim == 0 and array.dtype.kind in "iu" else array


def torch_index(index: Any) -> tuple[Any, Any]:
    """Split an index into (first, then) so that `a[first][then]` is torch's `a[index]`.

    NumPy counts a plain integer as an advanced index when integer arrays are
    present, so `a[0, :, [0, 1]]` puts the advanced dimension first: shape
    (2, 3) for `a` of shape (2, 3, 4). torch selects the integers first and
    gets (3, 2). So integers (with the slices and None) go in a first, basic
    pass, which makes a view; the arrays go in a second pass. `then` is None
    when one NumPy index already means the same as torch's.

    Example:
        >>> first, then = torch_index((0, slice(None), [0, 1]))
        >>> first, then[0], then[1].tolist()
        ((0, slice(None, None, None), slice(None, None, None)), slice(None, None, None), [0, 1])
    """
    items = index if isinstance(index, tuple) else (index,)
    items = tuple(_index_item(i) for i in items)
    if any(isinstance(i, slice) and i.step is not None and i.step <= 0 for i in items):
        raise ValueError("step must be greater than zero: torch slices only forward; use .flip()")
    arrays = [i for i in items if _is_array(i)]
    ints = [i for i in items if isinstance(i, int) and not isinstance(i, bool)]
    if not arrays or not ints:
        return (items if isinstance(index, tuple) else items[0]), None
    first, then = [], []
    for item in items:
        if _is_array(item):
            width = item.ndim if item.dtype == np.bool_ else 1
            first.extend([slice(None)] * width)
            then.append(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            first.append(item)  # selected now: the dimension is gone in the second pass
        elif item is Ellipsis:
            first.append(item)
            then.append(item)
        else:  # a slice, or None (its new dimension of size 1 stays in the second pass)
            first.append(item)
            then.append(slice(None))
    return tuple(first), tuple(then)


def _is_array(item: Any) -> bool:
    """An index array: NumPy's, or a device array (the same rules on every device)."""
    return isinstance(item, np.ndarray) or is_device_array(item)


def _spell_out_ellipses(index: Any, ndim: int) -> Any:
    """An index with several `...` as torch reads it: each one skips the same dims.

    Also raises torch's IndexError for an index naming more dims than `ndim`.

    NumPy allows one Ellipsis; torch moves on by ndim - (dims indexed) at every
    one, so `x[..., 0, ...]` is `x[:, 0]` for a 2-D x, and a trailing `...`
    skips nothing that is left.

    Example:
        >>> _spell_out_ellipses((Ellipsis, 0, Ellipsis), 2)
        (slice(None, None, None), 0)
    """
    items = index if isinstance(index, tuple) else (index,)
    items = tuple(_index_item(item) for item in items)
    indexed = sum(
        item.ndim if isinstance(item, np.ndarray) and item.dtype == np.bool_ else 1
        for item in items
        if item is not None and item is not Ellipsis and not isinstance(item, bool)
    )
    # Checked before the items, as torch does; a lone slice is read first (x[::0] of
    # a 0-dim tensor is a ValueError).
    if indexed > ndim and isinstance(index, tuple):
        raise IndexError(
            f"too many indices for tensor of dimension {ndim}: the index names {indexed} "
            "dimensions; add None for a new dimension"
        )
    if sum(item is Ellipsis for item in items) < 2:
        return index
    skipped = (slice(None),) * max(ndim - indexed, 0)
    out: list = []
    for position, item in enumerate(items):
        if item is not Ellipsis:
            out.append(item)
        elif not out or position + 1 < len(items):  # the first one, or one with more after
            out.extend(skipped)
    return tuple(out)


def _check_index_select_bounds(shape: tuple, dim: int, index: np.ndarray) -> None:
    """torch's error for an index_select out of range: its class depends on the kernel.

    NOTE: an N-D tensor that is empty, or indexed along dim 1, goes through a
    kernel that raises RuntimeError; the others raise IndexError.
    """
    size = shape[dim]
    bad = (index < 0) | (index >= size)
    if not bad.any():
        return
    fix = f"indices along dim {dim} must lie in [0, {size})"
    if len(shape) > 1 and (0 in shape or dim == 1):
        raise RuntimeError(
            f"INDICES element is out of DATA bounds, id={int(index[bad][0])} axis_dim={size}: {fix}"
        )
    raise IndexError(f"index out of range in self: {fix}")


def _remember_view(view: Any, source: Any, inverse: Any) -> Any:
    """Let an in-place change through `view` rebuild `source`'s graph (see _tensor_inplace)."""
    if view._base is not None:
        view._view_of = (source, inverse)
    return view


class ShapeMethods:
    __slots__ = ()

    def reshape(self, *shape):
        out = ops.Reshape.apply(self, _sizes(shape))
        return _remember_view(out, self, lambda new, old: new.reshape(old.shape))

    def view_as(self, other):
        return self.reshape(other.shape)

    reshape_as = view_as

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        start = normalize_dim(start_dim, self.ndim)
        end = normalize_dim(end_dim, self.ndim)
        if self.ndim == 0:
            return self.reshape(1)
        if start > end:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        merged = int(np.prod(self.shape[start : end + 1]))  # not -1: 0-size tensors need it
        shape = self.shape[:start] + (merged,) + self.shape[end + 1 :]
        return self.reshape(shape) if start <= end else self

    def squeeze(self, dim: Any = None):
        if dim is None:
            dims = [d for d, n in enumerate(self.shape) if n == 1]
        else:
            dims = [
                normalize_dim(d, self.ndim) for d in (dim if isinstance(dim, tuple) else (dim,))
            ]
        # NOTE: like torch, squeezing a dimension whose size is not 1 is a no-op.
        shape = tuple(n for d, n in enumerate(self.shape) if not (d in dims and n == 1))
        return self if shape == self.shape else self.reshape(shape)

    def unsqueeze(self, dim: int):
        dim = normalize_dim(dim, self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def permute(self, *dims):
        dims = tuple(normalize_dim(d, self.ndim) for d in _sizes(dims))
        if sorted(dims) != list(range(self.ndim)):
            raise RuntimeError(
                f"permute: dims {dims} must be a permutation of 0..{self.ndim - 1} "
                f"for a tensor of shape {self.shape}"
            )
        out = ops.Permute.apply(self, dims)
        inverse = tuple(int(d) for d in np.argsort(dims))
        return _remember_view(out, self, lambda new, old: ops.Permute.apply(new, inverse))

    def transpose(self, dim0: int, dim1: int):
        if self.ndim == 0:  # dims 0 and -1 name the tensor itself
            normalize_dim(dim0, 0), normalize_dim(dim1, 0)
            return self.reshape(())
        dims = list(range(self.ndim))
        a, b = normalize_dim(dim0, self.ndim), normalize_dim(dim1, self.ndim)
        dims[a], dims[b] = dims[b], dims[a]
        return self.permute(dims)

    @property
    def T(self):
        return self.permute(tuple(reversed(range(self.ndim))))

    def t(self):
        if self.ndim > 2:
            raise RuntimeError(f"t: expects a tensor with <= 2 dimensions, got shape {self.shape}")
        return self.T

    def expand(self, *sizes):
        sizes = _sizes(sizes)
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise RuntimeError(f"expand: {sizes} has fewer dimensions than the tensor {self.shape}")
        shape = tuple(
            self.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes)
        )
        return ops.Expand.apply(self, shape)

    def expand_as(self, other):
        return self.expand(other.shape)

    def contiguous(self):
        if self.array.flags.c_contiguous:
            return self
        return ops.Cast.apply(self, self.array.dtype)

    # ---------------------------------------------------------------- indexing
    def __getitem__(self, index):
        first, then = torch_index(_spell_out_ellipses(index, self.ndim))
        out = ops.GetItem.apply(self, first, then)
        return _remember_view(out, self, lambda new, old: ops.SetItem.apply(old, new, first, then))

    def gather(self, dim: int, index):
        index = index_array(index, "gather")
        dim = normalize_dim(dim, self.ndim)
        if self.ndim == 0:  # a scalar gathers from itself, seen as one element
            return self.reshape(1).gather(0, index.reshape(-1)).reshape(index.shape)
        if index.ndim != self.ndim and not (index.ndim <= 1 and self.ndim <= 1):
            raise RuntimeError(
                "Index tensor must have the same number of dimensions as input tensor"
            )
        check_bounds(index, self.shape[dim], dim)
        for d, (n_index, n_self) in enumerate(zip(index.shape, self.shape, strict=False)):
            if d != dim and n_index > n_self and index.size:
                raise RuntimeError(
                    f"Size does not match at dimension {d} expected index {list(index.shape)} "
                    f"to be smaller than self {list(self.shape)} apart from dimension {dim}"
                )
        return ops.Gather.apply(self, dim, index)

    def index_select(self, dim: int, index):
        index = index_array(index, "index_select")
        dim = normalize_dim(dim, self.ndim)
        if index.ndim > 1:  # checked first, as torch does, even for a 0-dim tensor
            raise IndexError(
                f"index_select(): Index is supposed to be a vector, got shape "
                f"{list(index.shape)}; flatten it with .reshape(-1) and reshape the result"
            )
        if self.ndim == 0:
            if index.size != 1:
                raise RuntimeError(
                    f"index_select(): Index to scalar can have only 1 value, got "
                    f"{index.size} value(s)"
                )
            return self.reshape(1).index_select(0, index.reshape(1)).reshape(())
        index = index.reshape(-1) if index.ndim == 0 else index  # 0-dim: one position
        _check_index_select_bounds(self.shape, dim, index)
        return ops.IndexSelect.apply(self, dim, index)

    def split(self, split_size_or_sections: Any, dim: int = 0):
        if self.ndim == 0:
            raise RuntimeError("split expects at least a 1-dimensional tensor")
        dim = normalize_dim(dim, self.ndim)
        length = self.shape[dim]
        if isinstance(split_size_or_sections, int):
            size = split_size_or_sections
            # NOTE: an empty dimension still splits into one (empty) piece, as in torch.
            sizes = [min(size, length - start) for start in range(0, length, size)] or [0]
        else:
            sizes = list(split_size_or_sections)
            if sum(sizes) != length:
                raise RuntimeError(
                    f"split: sizes {sizes} sum to {sum(sizes)} but dimension {dim} has {length}"
                )
        pieces, start = [], 0
        lead = (slice(None),) * dim
        for size in sizes:
            pieces.append(self[lead + (slice(start, start + size),)])
            start += size
        return tuple(pieces)

    def chunk(self, chunks: int, dim: int = 0):
        if self.ndim == 0:
            raise RuntimeError("chunk expects at least a 1-dimensional tensor")
        if chunks <= 0:
            raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
        length = self.shape[normalize_dim(dim, self.ndim)]
        if length == 0:  # NOTE: torch still makes `chunks` pieces, all empty
            return self.split([0] * chunks, dim)
        return self.split(max(-(-length // chunks), 1), dim)

    def unbind(self, dim: int = 0):
        dim = normalize_dim(dim, self.ndim)
        return tuple(self[(slice(None),) * dim + (i,)] for i in range(self.shape[dim]))
