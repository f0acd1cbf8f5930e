"""Optimizer checkpoints in torch's format, loadable by position or by name.

The format is torch's::

    {"state": {0: {"step": 3.0, "exp_avg": array, ...}, ...},
     "param_groups": [{"lr": 0.001, ..., "params": [0, 1], "param_names": [...]}]}

Parameters are numbered across groups in order. A long-standing torch wish
is to load by NAME, so that state survives a model whose parameters were
reordered: when both sides carry `param_names` we do exactly that.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from typing import Any

import numpy as np

from gradwork.tensor import Tensor


def pack(param_groups: list[dict[str, Any]], state: dict) -> dict[str, Any]:
    """The state dict of an optimizer's groups and per-parameter state (copied)."""
    index_of: dict[int, int] = {}
    groups = []
    for group in param_groups:
        packed = {key: value for key, value in group.items() if key != "params"}
        start = len(index_of)
        packed["params"] = list(range(start, start + len(group["params"])))
        index_of.update({id(p): start + i for i, p in enumerate(group["params"])})
        groups.append(packed)
    saved = {
        index_of[id(p)]: {key: _copy(value) for key, value in entries.items()}
        for p, entries in state.items()
        if entries and id(p) in index_of
    }
    return {"state": dict(sorted(saved.items())), "param_groups": groups}


def _copy(value: Any) -> Any:
    return value.copy() if hasattr(value, "copy") and hasattr(value, "shape") else value


def unpack(optimizer: Any, state_dict: dict[str, Any]) -> defaultdict:
    """Check `state_dict` against the optimizer, update its groups in place, return its state."""
    groups = optimizer.param_groups
    saved_groups = copy.deepcopy(state_dict["param_groups"])
    if len(groups) != len(saved_groups):
        raise ValueError(
            "loaded state dict has a different number of parameter groups "
            f"({len(saved_groups)} saved, {len(groups)} in this optimizer)"
        )
    for group, saved in zip(groups, saved_groups, strict=False):
        if len(group["params"]) != len(saved["params"]):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size "
                f"of optimizer's group ({len(saved['params'])} saved, {len(group['params'])} here)"
            )
    param_of = _param_map(groups, saved_groups)
    state: defaultdict = defaultdict(dict)
    for key, entries in state_dict["state"].items():
        param = param_of.get(_as_key(key))
        if param is None:
            state[key] = copy.deepcopy(entries)  # not ours: kept as is, like torch
            continue
        state[param] = _convert(entries, param)
    for group, saved in zip(groups, saved_groups, strict=False):
        params, names = group["params"], group.get("param_names")
        group.clear()
        group.update({k: v for k, v in saved.items() if k not in ("params", "param_names")})
        group["params"] = params
        if names is not None:
            group["param_names"] = names
    return state


def _param_map(groups: list[dict], saved_groups: list[dict]) -> dict[int, Any]:
    """Saved parameter index -> this optimizer's parameter, by name when both have names."""
    by_name = all("param_names" in g for g in groups) and all(
        "param_names" in g for g in saved_groups
    )
    if not by_name:
        saved_ids = [_as_key(i) for g in saved_groups for i in g["params"]]
        params = [p for g in groups for p in g["params"]]
        return dict(zip(saved_ids, params, strict=False))
    param_named = {
        n: p for g in groups for n, p in zip(g["param_names"], g["params"], strict=False)
    }
    mapping = {}
    for saved in saved_groups:
        for index, name in zip(saved["params"], saved["param_names"], strict=False):
            if name not in param_named:
                raise ValueError(
                    f"Optimizer.load_state_dict: the saved state has a parameter named "
                    f"{name!r} that this optimizer does not have (its names are "
                    f"{sorted(param_named)[:8]}...); build the optimizer from the same "
                    "model's named_parameters(), or load by position without names"
                )
            mapping[_as_key(index)] = param_named[name]
    return mapping


def _as_key(index: Any) -> Any:
    """Parameter indices as ints, also when a JSON round trip made them strings."""
    if isinstance(index, (int, np.integer)) or (isinstance(index, str) and index.isdigit()):
        return int(index)
    return index


def _convert(entries: dict[str, Any], param: Any) -> dict[str, Any]:
    """One parameter's saved state as arrays of the parameter's dtype (torch tensors too)."""
    out: dict[str, Any] = {}
    for key, value in entries.items():
        if value is None:
            continue  # torch's SGD keeps {"momentum_buffer": None} before its first step
        if key == "step":
            out["step"] = float(np.asarray(value))
            continue
        array = _to_array(value)
        if array is None:
            out[key] = copy.deepcopy(value)
            continue
        if array.ndim == 0 and param.array.ndim != 0:
            out[key] = float(array)  # a per-parameter number (NAdam's mu_product)
            continue
        if array.shape != param.array.shape:
            raise ValueError(
                f"Optimizer.load_state_dict: state {key!r} has shape {array.shape} but its "
                f"parameter has shape {param.array.shape}; the checkpoint is from another model"
            )
        if array.dtype.kind == "f":
            array = array.astype(param.array.dtype)
        # On the parameter's device, as torch's load_state_dict moves state (a
        # checkpoint holds host arrays; the model may live on the GPU).
        out[key] = on_device_of(np.array(array, copy=True), param.array)
    if "step" not in out:
        # NOTE: torch's SGD saves no step count; a saved momentum buffer means at
        # least one step was taken, which is all our SGD needs to know.
        out["step"] = 1.0 if out else 0.0
    return out


def _to_array(value: Any) -> np.ndarray | None:
    """An ndarray from an ndarray, a gradwork Tensor or a torch tensor; None otherwise."""
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        return np.asarray(value.detach().cpu().numpy())
    if isinstance(getattr(value, "array", None), np.ndarray):
        return value.array
    if is_state_array(value):  # a GPU array: copied to the host explicitly
        return Tensor(value).cpu().array
    return None


def is_state_array(value: Any) -> bool:
    """Whether a state entry is an array (NumPy or GPU), not a number like "step"."""
    return hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, np.generic)


def on_device_of(array: Any, like: Any) -> Any:
    """`array` on the device that `like` lives on; itself when it is there already."""
    if type(array) is type(like):
        return array
    return Tensor(array).to(Tensor(like).device).array


def follow_device(state: dict, like: Any) -> None:
    """Move a parameter's state arrays to the parameter's device, in place, if they differ.

    Torch leaves state behind when a model moves after its first step; here it
    follows on the next step, so `model.to("cuda")` mid-training just works.
    """
    for key, value in state.items():
        if is_state_array(value) and type(value) is not type(like):
            state[key] = on_device_of(value, like)
