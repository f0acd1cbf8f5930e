"""Moving a module's tensors between devices, and arrays between host and device.

`Module.to` reads torch's forms (`to(device)`, `to(dtype)`, `to(device, dtype)`,
`to(tensor)`, keywords) and moves every parameter, buffer and gradient IN
PLACE: the Parameter objects stay the same, only their arrays change, so an
optimizer built before the move still holds the model's parameters (torch's
`param.data = ...`). Array transfers go through `gradwork._arrays` (`to_host`,
`asarray_like`), the one place that knows how a device copies its arrays.

Example:
    >>> import gradwork as gw
    >>> parse_to(("cpu", gw.float64), {})
    ('cpu', dtype('float64'))
    >>> parse_to((gw.device("cuda", 1),), {})
    ('cuda:1', None)
    >>> parse_to((), {"dtype": "float32"})
    (None, dtype('float32'))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradwork import _arrays, dtypes
from gradwork.tensor import Tensor


def parse_to(args: tuple, kwargs: dict) -> tuple[str | None, np.dtype | None]:
    """(device as a string or None, dtype or None) from the arguments of torch's `Module.to`.

    A string NumPy reads as a dtype ("float64") is a dtype; any other string
    ("cuda:0"), a `gradwork.device` or an int (CUDA device N, as in torch) is a
    device, which `Tensor.to` checks. Raises torch's TypeError for a dtype that
    is neither floating nor complex.
    """
    place, target = kwargs.get("device"), kwargs.get("dtype")
    for arg in args:
        if isinstance(arg, Tensor):
            place, target = arg.device, arg.dtype
        elif isinstance(arg, bool):
            continue  # non_blocking may come positionally
        elif isinstance(arg, int) or _names_a_device(arg):
            place = arg
        else:
            target = arg
    if isinstance(place, int) and not isinstance(place, bool):
        place = f"cuda:{place}"  # torch: an int names a CUDA device
    dtype = None if target is None else dtypes.as_dtype(target)
    if dtype is not None and dtype.kind not in "fc":
        raise TypeError(
            f"nn.Module.to only accepts floating point or complex dtypes, but got desired "
            f"dtype={dtype}; convert integer buffers one by one with tensor.to(dtype)"
        )
    return (None if place is None else str(place)), dtype


def _names_a_device(arg: Any) -> bool:
    if hasattr(arg, "type") and hasattr(arg, "index"):  # a gradwork.device (or torch's)
        return True
    if not isinstance(arg, str):
        return False
    try:
        np.dtype(arg)
    except TypeError:
        return True  # "cpu", "cuda:1": not a dtype name
    return False


def move_in_place(tensor: Tensor, place: str | None, dtype: np.dtype | None) -> None:
    """Re-point `tensor.array` (and its gradient's) at a copy on `place` with `dtype`.

    Only floating and complex tensors change dtype (a BatchNorm's integer
    `num_batches_tracked` stays int64), as in torch; every tensor changes device.
    """
    tensor.array = _moved(tensor.array, place, dtype)
    if tensor.grad is not None:
        tensor.grad.array = _moved(tensor.grad.array, place, dtype)


def _moved(array: Any, place: str | None, dtype: np.dtype | None) -> Any:
    if place is not None and device_type(array) != place.partition(":")[0]:
        array = Tensor(array).to(place).array
    if dtype is not None and array.dtype.kind in "fc" and array.dtype != dtype:
        array = array.astype(dtype)
    return array


def device_type(array: Any) -> str:
    """The type of the device holding `array`: "cpu" for host memory, else "cuda"."""
    return _arrays.device_of(array).type


def as_array(value: Any) -> Any:
    """The array under a Tensor, or any array-like as a NumPy array; a GPU array as it is.

    For constants an op takes as raw arrays (loss weights, targets, indices): they
    stay on their device, where the op meets the other operands.

    Example:
        >>> as_array([1, 2]).tolist()
        [1, 2]
    """
    return _arrays.as_array(getattr(value, "array", value))


def to_host(value: Any) -> np.ndarray:
    """A NumPy array from a NumPy/device array, a gradwork tensor, a torch tensor or a list.

    A device array is copied to the host explicitly (`gradwork._arrays.to_host`),
    never through an implicit `np.asarray` that a GPU array refuses.

    Example:
        >>> import gradwork as gw
        >>> to_host(gw.ones(2)).tolist()
        [1.0, 1.0]
    """
    if isinstance(value, Tensor):
        value = value.array
    elif type(value).__module__.startswith("torch"):
        return np.asarray(value.detach().cpu())
    return np.asarray(_arrays.to_host(value))


def to_device_of(array: np.ndarray, like: Any) -> Any:
    """`array` (on the host) copied to the device `like` lives on; itself when that is the CPU."""
    return _arrays.asarray_like(array, like)
