"""The stand-in's array: a NumPy array behind CuPy's manners (see `gradwork._standin`).

`ndarray` wraps a NumPy array without being one: NumPy functions and ufuncs
run on it (`__array_function__`, `__array_ufunc__`) and give stand-in arrays
back; `np.asarray(x)` raises CuPy's TypeError; a host array of one or more
dimensions mixed into an operation raises `Unsupported type`, as in CuPy.

Example:
    >>> import numpy as np
    >>> x = ndarray(np.arange(3.0))
    >>> y = np.exp(x) + 1
    >>> type(y).__name__, y.get().round(2).tolist()
    ('ndarray', [2.0, 3.72, 8.39])
"""

from __future__ import annotations

import functools
import weakref
from typing import Any

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

# How many times device data was read on the host, by how (bool, float, int, item, tolist,
# get, ...). On a GPU each read waits for the device to finish its queue: a training
# step should do none but the ones it asks for (loss.item()). Tests read and reset it.
SYNCS: dict[str, int] = {}


def _count_sync(kind: str) -> None:
    SYNCS[kind] = SYNCS.get(kind, 0) + 1


IMPLICIT_CONVERSION = (
    "Implicit conversion to a NumPy array is not allowed. "
    "Please use `.get()` to construct a NumPy array explicitly."
)


# --------------------------------------------------------------------------
# Crossing the boundary: stand-in arrays in, NumPy out, and back
# --------------------------------------------------------------------------
def _unwrap(value: Any) -> Any:
    """The NumPy array inside each stand-in array (through lists, tuples, dicts);
    a NumPy array of ndim > 0 raises, as CuPy refuses host arrays in its operations."""
    if type(value) is ndarray:
        return value._array
    if isinstance(value, np.ndarray):
        if value.ndim > 0:
            raise TypeError(f"Unsupported type {type(value)}")
        return value
    if isinstance(value, list | tuple):
        return type(value)(_unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


def _unwrap_index(index: Any) -> Any:
    """An index as NumPy takes it: stand-in arrays unwrapped; host arrays and lists
    pass (CuPy copies them to the device, so they are explicit by position)."""
    if type(index) is ndarray:
        return index._array
    if isinstance(index, tuple):
        return tuple(_unwrap_index(i) for i in index)
    return index


def _wrap(value: Any) -> Any:
    """NumPy results as stand-in arrays; a NumPy scalar becomes a 0-d array, as CuPy returns."""
    if isinstance(value, np.ndarray):
        return ndarray(value)
    if isinstance(value, np.generic):
        return ndarray(np.asarray(value))
    if isinstance(value, list | tuple):
        wrapped = [_wrap(v) for v in value]
        # a named tuple (np.linalg.svd's SVDResult) takes its fields positionally
        return type(value)(*wrapped) if hasattr(value, "_fields") else type(value)(wrapped)
    return value


def _on_device(function: Any) -> Any:
    """`function` (a NumPy one) taking and giving stand-in arrays."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        out = kwargs.get("out")
        result = function(*_unwrap(args), **_unwrap(kwargs))
        return out if out is not None else _wrap(result)

    return run


# --------------------------------------------------------------------------
# The array
# --------------------------------------------------------------------------
# id(owning NumPy array) -> its live wrapper: what `.base` answers, as CuPy keeps one object
_OWNERS: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


class ndarray(NDArrayOperatorsMixin):  # noqa: N801 - CuPy's name
    """A "device" array: a NumPy array behind CuPy's manners (see the module docstring).

    Example:
        >>> from gradwork import _standin as xp
        >>> x = xp.zeros((2, 3), dtype="float32")
        >>> x[0, 1:] = 5
        >>> x.sum(axis=1).get().tolist(), x.shape, x.dtype
        ([10.0, 0.0], (2, 3), dtype('float32'))
    """

    __slots__ = ("_array", "__weakref__")
    __array_priority__ = 100

    def __init__(self, array: np.ndarray) -> None:
        if not isinstance(array, np.ndarray):
            raise TypeError(
                f"_standin.ndarray wraps a numpy.ndarray, got {type(array).__name__}; "
                "use _standin.asarray(data) to copy host data to the device"
            )
        self._array = array
        if array.base is None:  # an owner: views' `.base` must give back this very object
            _OWNERS[id(array)] = self

    # -- the protocols that make NumPy calls run on the device --------------------
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        out = kwargs.get("out")
        if method == "at":  # ufunc.at(a, index, b): the index may come from the host, as in CuPy
            target, index, *rest = inputs
            ufunc.at(_unwrap(target), _unwrap_index(index), *_unwrap(rest))
            return None
        if any(_is_host_array_like(x) for x in inputs):
            bad = next(x for x in inputs if _is_host_array_like(x))
            raise TypeError(f"Unsupported type {type(bad)}")
        result = getattr(ufunc, method)(*_unwrap(inputs), **_unwrap(kwargs))
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _wrap(result)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        out = kwargs.get("out")
        result = func(*_unwrap(args), **_unwrap(kwargs))
        return out if out is not None else _wrap(result)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise TypeError(IMPLICIT_CONVERSION)

    # -- explicit transfers ----------------------------------------------------------
    def get(self, stream: Any = None, order: str = "C", out: Any = None) -> np.ndarray:
        """A host (NumPy) copy of this array: the one way off the device."""
        _count_sync("get")
        if out is not None:
            np.copyto(out, self._array)
            return out
        return np.array(self._array, order=order, copy=True)

    def set(self, array: np.ndarray, stream: Any = None) -> None:
        """Copy host data into this array (same shape)."""
        if array.shape != self.shape:
            raise ValueError(f"Shape mismatch. Old shape: {self.shape}, new shape: {array.shape}")
        np.copyto(self._array, array)

    # -- attributes ------------------------------------------------------------------
    shape = property(lambda self: self._array.shape)
    dtype = property(lambda self: self._array.dtype)
    ndim = property(lambda self: self._array.ndim)
    size = property(lambda self: self._array.size)
    itemsize = property(lambda self: self._array.itemsize)
    nbytes = property(lambda self: self._array.nbytes)
    strides = property(lambda self: self._array.strides)
    flags = property(lambda self: self._array.flags)
    T = property(lambda self: ndarray(self._array.T))
    mT = property(lambda self: ndarray(np.swapaxes(self._array, -1, -2)))  # noqa: N815
    real = property(lambda self: ndarray(self._array.real))
    imag = property(lambda self: ndarray(self._array.imag))

    @property
    def flat(self) -> _Flat:
        """A flat view for indexing (`x.flat[0]`), as cupy.flatiter."""
        return _Flat(self._array)

    @property
    def base(self) -> Any:
        """The array this one views, or None (what autograd reads to share versions)."""
        base = self._array.base
        if not isinstance(base, np.ndarray):
            return base
        owner = _OWNERS.get(id(base))  # CuPy returns the same base object every time
        return owner if owner is not None and owner._array is base else ndarray(base)

    @property
    def device(self) -> Device:
        return Device(0)

    # -- indexing --------------------------------------------------------------------
    def __getitem__(self, index: Any) -> ndarray:
        return _wrap(self._array[_unwrap_index(index)])

    def __setitem__(self, index: Any, value: Any) -> None:
        # NOTE: a host array as the value is a copy to the device, which CuPy allows too.
        value = value._array if type(value) is ndarray else value
        self._array[_unwrap_index(index)] = value

    # -- the Python protocol (each of these waits for the device in CuPy) -----------
    def __len__(self) -> int:
        return len(self._array)

    def __iter__(self):
        if not self.ndim:
            raise TypeError("iteration over a 0-d array")
        return (_wrap(row) for row in self._array)

    def __bool__(self) -> bool:
        _count_sync("bool")
        return bool(self._array)

    def __float__(self) -> float:
        _count_sync("float")
        return float(self._array)

    def __int__(self) -> int:
        _count_sync("int")
        return int(self._array)

    def __complex__(self) -> complex:
        _count_sync("complex")
        return complex(self._array)

    def __index__(self) -> int:
        _count_sync("index")
        return self._array.__index__()

    def __repr__(self) -> str:
        return repr(self._array)

    def __str__(self) -> str:
        return str(self._array)

    def __dlpack__(self, *args: Any, **kwargs: Any) -> Any:
        return self._array.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self) -> Any:
        return self._array.__dlpack_device__()

    __hash__ = None  # mutable, compared elementwise

    def __copy__(self) -> ndarray:
        return ndarray(self._array.copy())

    def __deepcopy__(self, memo: dict) -> ndarray:
        return ndarray(self._array.copy())

    def __reduce__(self) -> tuple:
        return ndarray, (self._array,)


class _Flat:
    """`ndarray.flat`: index the elements in row-major order; results stay on the device."""

    __slots__ = ("_array",)

    def __init__(self, array: np.ndarray) -> None:
        self._array = array

    def __getitem__(self, index: Any) -> Any:
        return _wrap(self._array.flat[_unwrap_index(index)])

    def __setitem__(self, index: Any, value: Any) -> None:
        self._array.flat[_unwrap_index(index)] = value._array if type(value) is ndarray else value


def _is_host_array_like(value: Any) -> bool:
    """A NumPy array of ndim > 0, or a list (CuPy's ufuncs take neither)."""
    return (isinstance(value, np.ndarray) and value.ndim > 0) or isinstance(value, list)


def _method(name: str) -> Any:
    """ndarray.<name> run on the wrapped array; the result wrapped (self when NumPy returns it)."""

    def run(self: ndarray, *args: Any, **kwargs: Any) -> Any:
        out = kwargs.get("out")
        result = getattr(self._array, name)(*_unwrap(args), **_unwrap(kwargs))
        if out is not None:
            return out
        return self if result is self._array else _wrap(result)

    run.__name__ = run.__qualname__ = name
    run.__doc__ = f"numpy.ndarray.{name}, on the device."
    return run


# The methods gradwork's ops and the layers above call; each as NumPy's.
_METHODS = (
    "reshape transpose astype sum mean max min argmax argmin prod cumsum cumprod any all "
    "copy view ravel flatten squeeze swapaxes clip dot nonzero repeat take put sort argsort "
    "round var std conj conjugate fill diagonal trace partition argpartition searchsorted "
    "compress choose"
).split()
for _name in _METHODS:
    setattr(ndarray, _name, _method(_name))


def _host_scalar_method(name: str) -> Any:
    def run(self: ndarray, *args: Any) -> Any:
        _count_sync(name)
        return getattr(self._array, name)(*args)

    run.__name__ = name
    run.__doc__ = f"numpy.ndarray.{name}: an explicit copy to the host, as in CuPy."
    return run


for _name in ("item", "tolist", "tobytes"):
    setattr(ndarray, _name, _host_scalar_method(_name))


class Device:
    """cupy.cuda.Device: the one stand-in device, always in sync (its work is done on return)."""

    def __init__(self, device: int | None = None) -> None:
        self.id = 0 if device is None else int(device)

    def synchronize(self) -> None:
        """Nothing to wait for: stand-in work is finished when a call returns."""

    def use(self) -> None:
        """Make this device current (there is one)."""

    def __enter__(self) -> Device:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self) -> int:
        return self.id

    def __repr__(self) -> str:
        return f"<CUDA Device {self.id}>"
