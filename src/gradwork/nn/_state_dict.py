"""state_dict / load_state_dict: a module's parameters and buffers by torch's names.

`load_state_dict` takes any array-likes - NumPy arrays, gradwork tensors on
either device, or PyTorch tensors (through `np.asarray`, without importing
torch) - so a PyTorch model's own `state_dict()` loads into the matching
gradwork model, and a checkpoint saved on the GPU loads on the CPU and back.
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Mapping
from typing import Any

import numpy as np

from gradwork.nn._placement import to_device_of, to_host

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def entries(module: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(name, tensor) for every parameter and persistent buffer, torch's order."""
    found = []
    for name, parameter in module._parameters.items():
        if parameter is not None:
            found.append((prefix + name, parameter))
    for name, buffer in module._buffers.items():
        if buffer is not None and name not in module._non_persistent:
            found.append((prefix + name, buffer))
    for name, child in module._modules.items():
        if child is not None:
            found.extend(entries(child, prefix + name + "."))
    return found


def state_dict(module: Any) -> OrderedDict:
    """An ordered dict of name -> each parameter and persistent buffer, detached.

    As in torch, the values share storage with the module: training changes
    them. Keep a snapshot with `{k: v.clone() for k, v in sd.items()}`.
    """
    return OrderedDict((name, t.detach()) for name, t in entries(module))


def as_array(value: Any) -> np.ndarray:
    """Any array-like as a NumPy array: torch tensors and GPU tensors are copied to the host."""
    return to_host(value)


def load_state_dict(module: Any, state: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
    """Copy `state` into the module's tensors in place; report or raise on differences."""
    if not isinstance(state, Mapping):
        raise TypeError(
            f"load_state_dict: expected a mapping of names to arrays, got {type(state).__name__}"
        )
    own = dict(entries(module))
    missing = [name for name in own if name not in state]
    unexpected = [name for name in state if name not in own]
    mismatched, arrays = [], {}
    for name, target in own.items():
        if name not in state:
            continue
        array = as_array(state[name])
        if array.shape != target.array.shape:
            mismatched.append(f"  {name}: checkpoint {array.shape}, model {target.array.shape}")
        arrays[name] = array
    if mismatched or (strict and (missing or unexpected)):
        raise RuntimeError(_diff_message(type(module).__name__, missing, unexpected, mismatched))
    for name, array in arrays.items():
        target = own[name]
        # In place, so optimisers holding these Parameters see the new values; a
        # checkpoint (host arrays) goes to the device the parameter lives on.
        target.array[...] = to_device_of(array.astype(target.array.dtype, copy=False), target.array)
    return IncompatibleKeys(missing, unexpected)


def _diff_message(model: str, missing: list, unexpected: list, mismatched: list) -> str:
    lines = [f"Error(s) in loading state_dict for {model}:"]
    if missing:
        lines.append(f"  missing keys ({len(missing)}): " + ", ".join(missing))
    if unexpected:
        lines.append(f"  unexpected keys ({len(unexpected)}): " + ", ".join(unexpected))
    if mismatched:
        lines.append(f"  size mismatch ({len(mismatched)}):")
        lines.extend("  " + line for line in mismatched)
    fixes = []
    if missing or unexpected:
        fixes.append(
            "check that the model definition matches the checkpoint (layer names and "
            "order), or pass strict=False to load the matching keys only"
        )
    if mismatched:
        fixes.append("a size mismatch cannot be skipped: the layer sizes must agree")
    lines.append("Fix: " + "; ".join(fixes) + ".")
    return "\n".join(lines)
