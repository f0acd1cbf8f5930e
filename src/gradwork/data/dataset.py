"""Map-style data sets: the abstract `Dataset`, `TensorDataset` and `Subset`.

A data set is anything with `len(ds)` and `ds[i]`. `TensorDataset` is the
workhorse: it holds whole arrays, so `DataLoader` can cut a batch out of every
field with one fancy index instead of a Python loop over samples.
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

from gradwork import _arrays, dtypes
from gradwork.tensor import Tensor


class Dataset(abc.ABC):
    """A map from an index in `range(len(dataset))` to one sample.

    Subclasses implement `__getitem__` and `__len__`.

    Example:
        >>> class Squares(Dataset):
        ...     def __len__(self):
        ...         return 4
        ...     def __getitem__(self, index):
        ...         return index * index
        >>> [Squares()[i] for i in range(4)]
        [0, 1, 4, 9]
    """

    @abc.abstractmethod
    def __getitem__(self, index: int) -> Any: ...

    @abc.abstractmethod
    def __len__(self) -> int: ...


def _on_default_device(array: np.ndarray) -> Tensor:
    """Host data as a tensor where factories put tensors (gw.set_default_device): the
    array itself on the CPU, one copy to the device under a CUDA default."""
    return Tensor(_arrays.on_default_device(array))


def _as_tensor(value: Any, position: int) -> Tensor:
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return _on_default_device(value)  # on the CPU: shares memory, keeps the dtype
    try:
        # NOTE: Python lists follow gradwork's rules: floats become float32, ints int64.
        return _on_default_device(dtypes.infer_array(value))
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"TensorDataset: argument {position} could not be turned into an array "
            f"(got {type(value).__name__}); pass Tensors or NumPy arrays of numbers."
        ) from error


def _check_index(index: Any, length: int, owner: str) -> int:
    """An int index in range, negatives counted from the end, as for a list."""
    position = int(index)
    if position < 0:
        position += length
    if not 0 <= position < length:
        raise IndexError(f"{owner}: index {index} is out of range for a data set of {length}")
    return position


class TensorDataset(Dataset):
    """Samples are rows of tensors that share their first dimension.

    `dataset[i]` is a tuple with row `i` of every tensor. NumPy arrays are
    wrapped without a copy and keep their dtype.

    Args:
        *tensors: Tensors or arrays, all with the same length along dimension 0.

    Example:
        >>> import numpy as np
        >>> ds = TensorDataset(np.zeros((3, 2), np.float32), np.array([0, 1, 2]))
        >>> len(ds), ds[1][0].shape, int(ds[1][1])
        (3, (2,), 1)
    """

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor, e.g. TensorDataset(x, y)")
        self.tensors = tuple(_as_tensor(t, i) for i, t in enumerate(tensors))
        if any(t.ndim == 0 for t in self.tensors):
            raise ValueError(
                "TensorDataset: every tensor needs a first (sample) dimension, got a 0-d "
                "tensor; reshape a scalar to shape (1,)."
            )
        lengths = [t.shape[0] for t in self.tensors]
        if len(set(lengths)) > 1:
            raise ValueError(
                f"TensorDataset: all tensors must have the same length along dimension 0, got "
                f"lengths {lengths}; check that features and labels describe the same samples."
            )

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        position = _check_index(index, len(self), "TensorDataset")
        # as_array: a row of a device tensor stays on the device
        return tuple(Tensor(_arrays.as_array(t.array[position])) for t in self.tensors)

    def __repr__(self) -> str:
        fields = ", ".join(f"{tuple(t.shape)} {t.dtype}" for t in self.tensors)
        return f"{type(self).__name__}({len(self)} samples: {fields})"


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order.

    Args:
        dataset: The data set to view.
        indices: Integer positions into `dataset`; stored as a NumPy int64
            array in `.indices`.

    Example:
        >>> import numpy as np
        >>> part = Subset(TensorDataset(np.arange(10)), [7, 2])
        >>> len(part), int(part[0][0]), part.indices.tolist()
        (2, 7, [7, 2])
    """

    def __init__(self, dataset: Any, indices: Any) -> None:
        self.dataset = dataset
        self.indices = _as_indices(indices, len(dataset))

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        position = _check_index(index, len(self), "Subset")
        return self.dataset[int(self.indices[position])]

    def __repr__(self) -> str:
        return f"Subset({len(self)} of {type(self.dataset).__name__} with {len(self.dataset)})"


def _as_indices(indices: Any, length: int) -> np.ndarray:
    array = np.asarray(indices.array if isinstance(indices, Tensor) else indices)
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise TypeError(
            f"Subset: indices must be a 1-d sequence of integers, got dtype {array.dtype} "
            f"and shape {array.shape}"
        )
    if array.min() < 0 or array.max() >= length:
        bad = array[(array < 0) | (array >= length)][0]
        raise IndexError(
            f"Subset: index {bad} is out of range for a data set of {length} samples; "
            f"indices must lie in [0, {length})."
        )
    return array.astype(np.int64, copy=False)


def resolve_tensor_source(dataset: Any) -> tuple[TensorDataset, np.ndarray | None] | None:
    """`(base TensorDataset, index map or None)` when `dataset` is one, or Subsets of one.

    Used by the loader's fast path. A subclass that overrides `__getitem__`
    is not a plain TensorDataset (its items may differ from the rows), so it
    returns None.
    """
    index_map = None
    while isinstance(dataset, Subset):
        index_map = dataset.indices if index_map is None else dataset.indices[index_map]
        dataset = dataset.dataset
    if isinstance(dataset, TensorDataset) and (
        type(dataset).__getitem__ is TensorDataset.__getitem__
    ):
        return dataset, index_map
    return None
