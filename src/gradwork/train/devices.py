"""Where a run trains: `[train] device = "cpu" | "cuda" | "auto"`, and batches sent there.

The data loader makes host tensors (NumPy), so that data code never depends on
the device; the Trainer sends each batch to the device the model lives on, one
explicit copy per batch, as a torch loop does with `x.to(device)`.

Example:
    >>> import gradwork as gw
    >>> resolve_device("cpu")
    'cpu'
    >>> resolve_device("auto") == ("cuda" if gw.cuda.is_available() else "cpu")
    True
    >>> x, y = to_device((gw.ones(2), gw.zeros(2)), "cpu")
    >>> x.device.type == "cpu"
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradwork import _arrays, cuda
from gradwork.tensor import Tensor
from gradwork.train.config import ConfigError

DEVICES = ("auto", "cpu", "cuda")
INSTALL_HINT = _arrays.INSTALL_HINT  # (one text: gradwork/_arrays.py)


def resolve_device(choice: str, key: str = "train.device") -> str:
    """The device a choice names, "cpu" or "cuda"; "auto": "cuda" if gradwork.cuda.is_available().

    Raises:
        ConfigError: naming `key`, for an unknown choice, or for "cuda" when there is
            no CUDA backend (with the way to install CuPy).
    """
    if choice not in DEVICES:
        raise ConfigError(f"{key} = {choice!r} is not one of {', '.join(DEVICES)}")
    if choice == "auto":
        return "cuda" if cuda.is_available() else "cpu"
    if choice == "cuda" and not cuda.is_available():
        raise ConfigError(
            f'{key} = "cuda" but gradwork has no CUDA backend here '
            f"(gradwork.cuda.is_available() is False): {INSTALL_HINT}. "
            f'Or train on the CPU: {key} = "cpu" (or "auto")'
        )
    return choice


def device_type(value: Any) -> str:
    """The type of a tensor's device, "cpu" or "cuda" (Tensor.device may carry an index)."""
    return str(value.device).partition(":")[0]


def model_device(model: Any) -> str:
    """The device type of a model's first parameter (or buffer); "cpu" when it has none."""
    for tensors in ("parameters", "buffers"):
        for tensor in getattr(model, tensors, list)():
            return device_type(tensor)
    return "cpu"


def to_device(value: Any, device: str) -> Any:
    """`value` with every tensor (and, off the CPU, every NumPy array) on `device`.

    Goes through tuples, lists and dicts; anything else is returned as it is.
    """
    if isinstance(value, Tensor):
        return value if device_type(value) == device else value.to(device)
    if isinstance(value, np.ndarray):
        return value if device == "cpu" else Tensor(value).to(device)
    if isinstance(value, tuple | list):
        return type(value)(to_device(item, device) for item in value)
    if isinstance(value, dict):
        return {key: to_device(item, device) for key, item in value.items()}
    return value


def to_host(value: Any) -> Any:
    """A NumPy array from a tensor or array on any device (an explicit copy off the GPU)."""
    return _arrays.to_host(value.array if isinstance(value, Tensor) else value)
