"""A CPU stand-in for CuPy: the GPU code path, run and checked on a machine without a GPU.

Its `ndarray` wraps a NumPy array but is NOT one, and behaves like
`cupy.ndarray` where that matters for finding bugs:

- NumPy functions and ufuncs called on it run on it and return stand-in
  arrays (`__array_function__`, `__array_ufunc__`), as they do on CuPy's;
- it refuses what CuPy refuses: `np.asarray(x)` raises TypeError (no silent
  device-to-host copy; use `x.get()`), and a plain NumPy array of one or more
  dimensions mixed into an operation raises TypeError (`Unsupported type`);
- host data reaches it only through an explicit copy: `asarray(host)`,
  `asnumpy(x)`, `x.get()`, `x.set(host)`, or as an index (CuPy copies those).

The module doubles as the namespace (`xp`) ops see for stand-in arrays:
creation functions, `lib.stride_tricks.as_strided`, `random`, `cuda`,
`asnumpy`, and every other NumPy function, wrapped to take and give
stand-in arrays. `enable()` registers it with `gradwork._arrays`, after which
`device="cuda"` means this stand-in (the environment variable
`GRADWORK_CUDA_STANDIN=1` does it at import).

Example:
    >>> import numpy as np
    >>> from gradwork import _standin as xp
    >>> x = xp.arange(3.0)
    >>> y = np.exp(x) + 1          # runs "on the device"
    >>> type(y).__name__, y.get().round(2).tolist()
    ('ndarray', [2.0, 3.72, 8.39])
    >>> np.asarray(y)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: Implicit conversion to a NumPy array is not allowed. Please use `.get()` ...
    >>> y + np.ones(3)
    Traceback (most recent call last):
    ...
    TypeError: Unsupported type <class 'numpy.ndarray'>
"""

from __future__ import annotations

import functools
import os
from types import SimpleNamespace
from typing import Any

import numpy as np

from gradwork._standin_array import (
    IMPLICIT_CONVERSION,
    Device,
    _on_device,
    _unwrap,
    _unwrap_index,
    _wrap,
    ndarray,
)

__all__ = ["IMPLICIT_CONVERSION", "Device", "ndarray", "asarray", "asnumpy", "enable", "disable"]

ENVIRONMENT_VARIABLE = "GRADWORK_CUDA_STANDIN"


# --------------------------------------------------------------------------
# The namespace: what `xp.<name>` gives for stand-in arrays
# --------------------------------------------------------------------------
def asarray(data: Any, dtype: Any = None, order: Any = None, **kwargs: Any) -> ndarray:
    """`data` on the device: a stand-in array is returned as is (cast if `dtype`
    differs); host data (NumPy arrays, lists, scalars) is COPIED over, as cupy.asarray does."""
    if type(data) is ndarray:
        return data if dtype is None or np.dtype(dtype) == data.dtype else data.astype(dtype)
    return ndarray(np.array(_unwrap_index(data), dtype=dtype, order=order or "K", copy=True))


def array(data: Any, dtype: Any = None, copy: bool = True, order: str = "K", **kwargs: Any):
    """A new device array holding a copy of `data` (host or device)."""
    if type(data) is ndarray:
        return ndarray(np.array(data._array, dtype=dtype, copy=copy, order=order))
    return asarray(data, dtype=dtype, order=order)


def asnumpy(data: Any, stream: Any = None, order: str = "C", out: Any = None) -> np.ndarray:
    """A host copy of a device array (host data is returned as a NumPy array)."""
    if type(data) is ndarray:
        return data.get(order=order, out=out)
    return np.asarray(data, order=order)


def ascontiguousarray(data: Any, dtype: Any = None) -> ndarray:
    return _wrap(np.ascontiguousarray(_unwrap(asarray(data)), dtype=dtype))


def get_array_module(*args: Any) -> Any:
    """This module when any argument is a stand-in array, else NumPy (cupy.get_array_module)."""
    import sys

    return sys.modules[__name__] if any(type(a) is ndarray for a in args) else np


# Calls of functions made by `fuse`, by kernel name: tests read it to see that a device
# kernel really went through the fused path (on CuPy, one compiled kernel per call).
FUSED_CALLS: dict[str, int] = {}


def fuse(*args: Any, kernel_name: str | None = None) -> Any:
    """cupy.fuse's spelling: `@fuse`, `@fuse()` or `fuse(kernel_name=...)(function)`.

    The stand-in runs the function unfused, on stand-in arrays (so its math is
    exercised as CuPy would trace it), and counts each call in FUSED_CALLS.

    Example:
        >>> from gradwork import _standin as xp
        >>> double = xp.fuse(kernel_name="double")(lambda a: a + a)
        >>> FUSED_CALLS.pop("double", None)
        >>> double(xp.arange(3.0)).get().tolist(), FUSED_CALLS["double"]
        ([0.0, 2.0, 4.0], 1)
    """

    def decorate(function: Any) -> Any:
        name = kernel_name or function.__name__

        @functools.wraps(function)
        def fused(*call_args: Any) -> Any:
            FUSED_CALLS[name] = FUSED_CALLS.get(name, 0) + 1
            return function(*call_args)

        return fused

    if len(args) == 1 and callable(args[0]):
        return decorate(args[0])
    return decorate


cuda = SimpleNamespace(
    Device=Device,
    runtime=SimpleNamespace(getDeviceCount=lambda: 1),
    is_available=lambda: True,
)


class _Random:
    """cupy.random's spelling over one NumPy generator (gradwork itself draws on the host)."""

    def __init__(self) -> None:
        self._generator = np.random.default_rng()

    def seed(self, seed: int | None = None) -> None:
        self._generator = np.random.default_rng(seed)

    def random(self, size: Any = None, dtype: Any = float) -> ndarray:
        return ndarray(np.asarray(self._generator.random(size, dtype=dtype)))

    def standard_normal(self, size: Any = None, dtype: Any = float) -> ndarray:
        return ndarray(np.asarray(self._generator.standard_normal(size, dtype=dtype)))

    def uniform(self, low: float = 0.0, high: float = 1.0, size: Any = None, dtype: Any = float):
        return ndarray(np.asarray(self._generator.uniform(low, high, size)).astype(dtype))

    def normal(self, loc: float = 0.0, scale: float = 1.0, size: Any = None, dtype: Any = float):
        return ndarray(np.asarray(self._generator.normal(loc, scale, size)).astype(dtype))

    def randint(self, low: int, high: int | None = None, size: Any = None, dtype: Any = int):
        return ndarray(np.asarray(self._generator.integers(low, high, size, dtype=dtype)))

    def permutation(self, n: Any) -> ndarray:
        return ndarray(np.asarray(self._generator.permutation(_unwrap(n))))

    rand = lambda self, *size: self.random(size or None)  # noqa: E731
    randn = lambda self, *size: self.standard_normal(size or None)  # noqa: E731


random = _Random()
lib = SimpleNamespace(stride_tricks=SimpleNamespace(as_strided=_on_device(
    np.lib.stride_tricks.as_strided)))  # fmt: skip
newaxis = None


def _creation(name: str) -> Any:
    """np.<name> whose result lands on the device (it has no array argument to dispatch on)."""
    function = getattr(np, name)

    @functools.wraps(function)
    def make(*args: Any, **kwargs: Any) -> ndarray:
        return _wrap(function(*_unwrap(args), **_unwrap(kwargs)))

    return make


empty, zeros, ones, full, arange, eye, identity, linspace, indices, tri = map(
    _creation, "empty zeros ones full arange eye identity linspace indices tri".split()
)


def __getattr__(name: str) -> Any:
    """Any other NumPy name: types, dtypes and constants as NumPy's (CuPy shares
    them), ufuncs as NumPy's (they dispatch on stand-in arrays), functions wrapped
    to take and give stand-in arrays."""
    value = getattr(np, name)  # AttributeError for names NumPy lacks too
    if isinstance(value, type | np.ufunc) or not callable(value):
        return value
    return _on_device(value)


# --------------------------------------------------------------------------
# Switching it on
# --------------------------------------------------------------------------
def enable() -> None:
    """Make `device="cuda"` mean this stand-in (tests call this through a fixture).

    Example:
        >>> import gradwork as gw
        >>> from gradwork import _standin
        >>> was_on = _standin.enabled()
        >>> _standin.enable()
        >>> gw.ones(2, device="cuda").device, gw.cuda.is_available()
        (device(type='cuda', index=0), True)
        >>> if not was_on:
        ...     _standin.disable()
    """
    import sys

    from gradwork import _arrays

    _arrays.register(ndarray, sys.modules[__name__], cuda_backend=True)


def disable() -> None:
    """Undo `enable()`: `device="cuda"` goes back to real CuPy, or to being refused."""
    from gradwork import _arrays

    _arrays.unregister(ndarray)


def enabled() -> bool:
    """Whether the stand-in is the CUDA backend now."""
    from gradwork import _arrays

    return _arrays.cuda_namespace() is not None and _arrays.cuda_namespace().ndarray is ndarray


def wanted_by_environment() -> bool:
    """True when GRADWORK_CUDA_STANDIN is set to 1/true/yes."""
    return os.environ.get(ENVIRONMENT_VARIABLE, "").strip().lower() in ("1", "true", "yes", "on")
