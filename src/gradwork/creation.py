"""Ways to make a tensor: from data, filled, ranges, and random draws."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from gradwork import _arrays, _device, dtypes
from gradwork._device import check_placeable, get_default_device
from gradwork._tensor_shape import _sizes
from gradwork.random import generator
from gradwork.tensor import Tensor


def _on_device(factory: Callable) -> Callable:
    """Give a factory torch's `device=` keyword.

    The tensor is made on the host (random draws come from gradwork's one
    stream, so a seed gives the same values on every device) and copied to the
    device asked for: `device=`, else the input's device for `*_like`, else the
    default device (`with gw.device("cuda"):`). A device this build lacks is
    refused as torch refuses it (`check_placeable`).
    """
    like = factory.__name__.endswith("_like") or factory.__name__ == "tensor"

    @functools.wraps(factory)
    def make(*args: Any, device: Any = None, **kwargs: Any) -> Tensor:
        if device is None and not _arrays._NAMESPACES and not _device._default_stack:
            return factory(*args, **kwargs)  # the CPU-only fast path: nothing to place
        place = check_placeable(device)
        if place is None and like and args:
            data = getattr(args[0], "array", args[0])
            place = _arrays.CUDA if _arrays.is_device_array(data) else None
        out = factory(*args, **kwargs)
        if place is None:
            place = get_default_device()
        if place.type == "cuda" and not out.is_cuda:
            out.array = _arrays.to_device(out.array)  # an explicit copy; `out` stays a leaf
        elif place.type == "cpu" and out.is_cuda:
            out.array = _arrays.to_host(out.array)
        return out

    return make


@_on_device
def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of `data`.

    Python floats become float32, ints int64, bools bool; arrays keep their dtype.

    Example:
        >>> import gradwork as gw
        >>> gw.tensor([[1, 2], [3, 4]]).dtype
        dtype('int64')
        >>> gw.tensor([0.5, 1.5], requires_grad=True)
        tensor([0.5, 1.5], requires_grad=True)
    """
    if isinstance(data, Tensor):
        data = data.array
    if _arrays.is_device_array(data):  # a copy on its device
        return Tensor(data.astype(dtypes.as_dtype(dtype or data.dtype), copy=True),
                      requires_grad=requires_grad)  # fmt: skip
    shape = _leading_shape(data)
    if 0 in shape:  # empty: torch reads the shape off the first items and checks no more
        # NOTE: torch counts an empty list as a float, so the dtype is float by default.
        kind = dtypes.DEFAULT_FLOAT if dtype is None else dtypes.as_dtype(dtype)
        return Tensor(np.empty(shape, kind), requires_grad=requires_grad)
    return Tensor(dtypes.infer_array(data, dtype), requires_grad=requires_grad)


def _leading_shape(data: Any) -> tuple:
    """The shape torch infers from nested lists: the length of each first item, in turn.

    Example:
        >>> _leading_shape([[[]], []])  # ragged, but empty: torch makes shape (2, 1, 0)
        (2, 1, 0)
    """
    shape = []
    while isinstance(data, list | tuple):
        shape.append(len(data))
        if not data:
            break
        data = data[0]
    return tuple(shape)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with a NumPy array (no copy), like torch.from_numpy."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array)


def _filled(fill, size, dtype, requires_grad) -> Tensor:
    dtype = dtypes.DEFAULT_FLOAT if dtype is None else dtypes.as_dtype(dtype)
    return Tensor(np.full(_sizes(size), fill, dtype=dtype), requires_grad=requires_grad)


@_on_device
def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled(0, size, dtype, requires_grad)


@_on_device
def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled(1, size, dtype, requires_grad)


@_on_device
def full(size: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    if dtype is None:  # torch infers the dtype from the fill value
        dtype = dtypes.infer_array(fill_value).dtype
    return _filled(fill_value, (size,) if isinstance(size, int) else size, dtype, requires_grad)


@_on_device
def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled(0, t.shape, dtype or t.dtype, requires_grad)


@_on_device
def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled(1, t.shape, dtype or t.dtype, requires_grad)


@_on_device
def full_like(t: Tensor, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled(fill_value, t.shape, dtype or t.dtype, requires_grad)


@_on_device
def empty(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of the given size whose values are not to be relied on (zeros here).

    torch leaves the memory uninitialised; gradwork fills it with zeros, which
    costs little and makes a bug that reads it reproducible.

    Example:
        >>> import gradwork as gw
        >>> gw.empty(2, 3).shape
        (2, 3)
    """
    return _filled(0, size, dtype, requires_grad)


@_on_device
def empty_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """`empty` with the shape (and, unless given, the dtype) of `t`."""
    return _filled(0, t.shape, dtype or t.dtype, requires_grad)


@_on_device
def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:  # fmt: skip
    """Values from start (inclusive) to end (exclusive); int64 for integer arguments."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(
            f"arange: upper bound and lower bound inconsistent with step sign "
            f"(start={start}, end={end}, step={step})"
        )
    values = np.arange(start, end, step)
    if dtype is None:
        is_int = all(isinstance(v, int | np.integer) for v in (start, end, step))
        dtype = dtypes.int64 if is_int else dtypes.DEFAULT_FLOAT
    return Tensor(values.astype(dtypes.as_dtype(dtype)), requires_grad=requires_grad)


@_on_device
def linspace(start: float, end: float, steps: int, dtype: Any = None) -> Tensor:
    if steps < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative, got {steps}")
    return Tensor(np.linspace(start, end, steps, dtype=dtypes.as_dtype(dtype or dtypes.float32)))


@_on_device
def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    dtype = dtypes.as_dtype(dtype or dtypes.DEFAULT_FLOAT)
    for name, size in (("n", n), ("m", m)):
        if size is not None and size < 0:
            raise RuntimeError(f"eye: {name} must be greater or equal to 0, got {size}")
    return Tensor(np.eye(n, m, dtype=dtype), requires_grad=requires_grad)


@_on_device
def rand(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1), from gradwork's seeded stream."""
    dtype = dtypes.as_dtype(dtype or dtypes.DEFAULT_FLOAT)
    return Tensor(generator().random(_sizes(size)).astype(dtype), requires_grad=requires_grad)


@_on_device
def randn(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal, from gradwork's seeded stream."""
    dtype = dtypes.as_dtype(dtype or dtypes.DEFAULT_FLOAT)
    values = generator().standard_normal(_sizes(size))
    return Tensor(values.astype(dtype), requires_grad=requires_grad)


@_on_device
def randint(low: int, high: int | None = None, size: Any = (), dtype: Any = None) -> Tensor:
    """Integers in [low, high) (or [0, low) when high is omitted), as torch.randint."""
    if high is None:
        low, high = 0, low
    if low >= high:
        raise ValueError(f"randint: need low < high, got low={low}, high={high}")
    values = generator().integers(
        low, high, size=_sizes((size,) if isinstance(size, int) else size)
    )
    return Tensor(values.astype(dtypes.as_dtype(dtype or dtypes.int64)))


@_on_device
def rand_like(t: Tensor, dtype: Any = None) -> Tensor:
    return rand(t.shape, dtype=dtype or t.dtype)


@_on_device
def randn_like(t: Tensor, dtype: Any = None) -> Tensor:
    return randn(t.shape, dtype=dtype or t.dtype)


@_on_device
def randperm(n: int) -> Tensor:
    return Tensor(generator().permutation(n).astype(np.int64))
