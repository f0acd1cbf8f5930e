"""Which array library holds an array: NumPy on the CPU, a device module elsewhere.

An op's math is written on `xp`, the namespace of its inputs, so the same
forward/backward runs on NumPy arrays (CPU) and on CuPy arrays (GPU) or the
CPU stand-in that plays CuPy in tests (DESIGN.md, "Math apart from kernels").
Device backends register their array type once; `xp_of` is a dict lookup,
cheap enough to call in every op.

This module is also the one place that moves arrays between the host and the
device (`to_device`, `to_host`), names the device of an array (`device_of`)
and refuses two devices in one op (`check_same_device`, torch's message).
The CUDA backend is the stand-in when it is enabled (`gradwork._standin`,
or GRADWORK_CUDA_STANDIN=1), else CuPy when it imports and sees a GPU.

Example:
    >>> import numpy as np
    >>> xp_of(np.ones(2)) is np
    True
    >>> xp_of(1.0, np.ones(2)) is np
    True
    >>> device_of(np.ones(2))
    device(type='cpu')
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from gradwork._device import device

# array type -> its namespace (cupy.ndarray -> cupy, the stand-in's array -> its module)
_NAMESPACES: dict[type, Any] = {}
_cuda: Any = None  # the namespace that `device="cuda"` uses, once one is registered
_cupy_tried = False

CPU = device("cpu")
CUDA = device("cuda", 0)

# The one text that says how to get a CUDA backend (API errors and the CLI's config errors).
INSTALL_HINT = (
    'install CuPy for your CUDA driver: pip install "gradwork[cuda12]" (CUDA 12) or '
    'pip install "gradwork[cuda13]" (CUDA 13), on a machine with an NVIDIA GPU; nvidia-smi '
    "shows the driver's CUDA version"
)


def register(array_type: type, namespace: ModuleType | Any, cuda_backend: bool = False) -> None:
    """Make `xp_of` answer `namespace` for arrays of `array_type` (a device backend calls this);
    with `cuda_backend=True`, `device="cuda"` puts tensors there."""
    global _cuda
    _NAMESPACES[array_type] = namespace
    if cuda_backend:
        _cuda = namespace


def unregister(array_type: type) -> None:
    """Forget a backend registered with `register` (tests switch the stand-in off)."""
    global _cuda
    namespace = _NAMESPACES.pop(array_type, None)
    if namespace is not None and namespace is _cuda:
        _cuda = None


def xp_of(*arrays: Any) -> Any:
    """The array namespace of the first device array among `arrays`; NumPy when there is none.

    Python and NumPy scalars, None and NumPy arrays all answer `numpy`.
    """
    if _NAMESPACES:
        for array in arrays:
            namespace = _NAMESPACES.get(type(array))
            if namespace is not None:
                return namespace
    return np


def contiguous(array: Any) -> Any:
    """`array` as a C-contiguous array on its own device (np.ascontiguousarray would pull a
    device array to the host: NumPy does not dispatch that call)."""
    return xp_of(array).ascontiguousarray(array)


def is_device_array(value: Any) -> bool:
    """True for an array of a registered device backend (not NumPy)."""
    return type(value) in _NAMESPACES


def cuda_namespace() -> Any:
    """The CUDA backend's namespace (the stand-in or cupy), or None when there is none.

    Real CuPy is looked for once, lazily: importing it is slow and needs a GPU.
    """
    global _cupy_tried
    if _cuda is None and not _cupy_tried:
        _cupy_tried = True
        _register_cupy()
    return _cuda


def _register_cupy() -> None:
    try:
        import cupy  # noqa: PLC0415 - optional, and only when CUDA is asked for

        if cupy.cuda.runtime.getDeviceCount() < 1:
            return
    except Exception:  # noqa: BLE001 - no CuPy, no driver, no GPU: all mean "no CUDA"
        return
    register(cupy.ndarray, cupy, cuda_backend=True)


def device_count() -> int:
    """How many CUDA devices the backend sees (the stand-in has one)."""
    namespace = cuda_namespace()
    return 0 if namespace is None else int(namespace.cuda.runtime.getDeviceCount())


def device_of(array: Any) -> device:
    """`device('cpu')` for host data, `device('cuda', 0)` for a device array."""
    return CUDA if type(array) in _NAMESPACES else CPU


def to_device(array: Any) -> Any:
    """`array` on the CUDA device: an explicit host-to-device copy (a device array stays)."""
    namespace = cuda_namespace()
    if namespace is None:
        raise AssertionError(f'gradwork has no CUDA backend: {INSTALL_HINT}; or use device="cpu"')
    return namespace.asarray(array)


def to_host(array: Any) -> Any:
    """`array` on the host: an explicit device-to-host copy (host data stays as it is)."""
    namespace = _NAMESPACES.get(type(array))
    if namespace is None:
        return array
    from gradwork import _device_checks  # noqa: PLC0415 - it imports this module

    _device_checks.raise_pending()  # device-side checks are reported at a host read
    return namespace.asnumpy(array)


def as_array(value: Any, dtype: Any = None) -> Any:
    """np.asarray that leaves a device array on its device (cast if `dtype` differs).

    Example:
        >>> as_array([1, 2]).tolist()
        [1, 2]
    """
    if type(value) in _NAMESPACES:
        return value if dtype is None or value.dtype == dtype else value.astype(dtype)
    return np.asarray(value, dtype=dtype)


def on_default_device(array: Any) -> Any:
    """Host `array` where factories put tensors: one copy to the device under a CUDA default
    device (gw.set_default_device, GRADWORK_DEFAULT_DEVICE=cuda), else `array` itself.

    For code that turns host data into a tensor the way a factory would (a layer's
    parameters and buffers, a data set's arrays).

    Example:
        >>> a = np.ones(2)
        >>> on_default_device(a) is a  # the CPU default: no copy
        True
    """
    from gradwork._device import get_default_device  # noqa: PLC0415 - _device is light

    if get_default_device().type == "cuda" and type(array) not in _NAMESPACES:
        return to_device(array)
    return array


def sparse_indices(shape: tuple, like: Any) -> list:
    """np.indices(shape, sparse=True) on `like`'s device, built from arange (on every backend).

    Example:
        >>> [a.shape for a in sparse_indices((2, 3), np.ones(1))]
        [(2, 1), (1, 3)]
    """
    xp = xp_of(like)
    n = len(shape)
    return [xp.arange(size).reshape((1,) * i + (size,) + (1,) * (n - i - 1))
            for i, size in enumerate(shape)]  # fmt: skip


def asarray_like(value: Any, like: Any, dtype: Any = None) -> Any:
    """`value` (an array, a Tensor's array, nested lists) as an array on `like`'s device.

    Host data bound for the device is copied there: an explicit transfer, e.g.
    a gradient given as a NumPy array for a CUDA output.

    Example:
        >>> asarray_like([1, 2], np.zeros(2), dtype=np.float32)
        array([1., 2.], dtype=float32)
    """
    namespace = _NAMESPACES.get(type(like))
    if namespace is None:
        return np.asarray(to_host(value), dtype=dtype)
    return namespace.asarray(value, dtype=dtype)


def check_same_device(arrays: list) -> None:
    """Raise torch's RuntimeError when one op gets tensors on two devices.

    Host arrays with no dimensions (0-d CPU tensors) mix with device ones, as in
    torch. The engine calls this for every op, only while a device backend is
    registered.

    Example:
        >>> check_same_device([np.ones(2), np.zeros(3)])
    """
    on_device = on_host = False
    for array in arrays:
        if type(array) in _NAMESPACES:
            on_device = True
        elif getattr(array, "ndim", 0) > 0:
            on_host = True
    if on_device and on_host:
        raise RuntimeError(
            "Expected all tensors to be on the same device, but found at least two devices, "
            "cuda:0 and cpu!"
        )


def _enable_standin_if_asked() -> None:
    """GRADWORK_CUDA_STANDIN=1: `device="cuda"` is the CPU stand-in for the whole run;
    GRADWORK_DEFAULT_DEVICE=cuda also makes it the factories' default, so code and tests
    written for the CPU take the GPU code path (torch.set_default_device's effect)."""
    import os  # noqa: PLC0415

    from gradwork import _device, _standin  # noqa: PLC0415 - _standin imports this module

    if _standin.wanted_by_environment():
        _standin.enable()
    if os.environ.get("GRADWORK_DEFAULT_DEVICE"):
        _device.set_default_device(os.environ["GRADWORK_DEFAULT_DEVICE"])


_enable_standin_if_asked()
