"""Checkpoint files: nested state (dicts, lists, arrays, numbers) in one pickle-free `.npz`.

A checkpoint is a tree of plain Python values and arrays (model, optimizer and
scheduler `state_dict()`s, callback states, RNG states, the loader position).
The arrays go into the `.npz` as members `a0, a1, ...`; everything else is JSON
in the member `__tree__`, with arrays replaced by `{"__array__": "a0"}`. Loading
never unpickles, so a checkpoint from a stranger cannot run code.

The format is `gradwork.save`'s (the encoder lives in `gradwork.serialization`,
below this layer, so `gradwork.save` needs no training code); checkpoints
differ only in giving saved tensors back as plain arrays.

Writes are atomic: the file is written beside its target under a temporary name
and moved over it with `os.replace`, so a crash leaves either the old file or
the new one, never half of one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from gradwork.serialization import (
    FORMAT,
    TREE_KEY,
    atomic_write,
    decode_archive,
    encode,
    read_archive,
)
from gradwork.tensor import Tensor
from gradwork.train.devices import device_type, to_host

__all__ = ["save_checkpoint", "load_checkpoint", "atomic_write"]


def save_checkpoint(state: dict, path: str | os.PathLike) -> Path:
    """Write `state` (a tree of dicts, lists, tuples, numbers, strings, arrays) to `path`.

    Args:
        state: the tree to save. Tensors are saved as their arrays, always host
            (NumPy) arrays: a checkpoint from a GPU run loads on a CPU and back.
        path: the target file; `.npz` is the usual suffix (none is added).

    Returns:
        The path written.

    Example:
        >>> import numpy as np, tempfile, os
        >>> folder = tempfile.mkdtemp()
        >>> path = save_checkpoint({"w": np.arange(3.0), "step": 7}, os.path.join(folder, "c.npz"))
        >>> load_checkpoint(path)["step"]
        7
    """
    arrays: dict[str, np.ndarray] = {}
    state = on_host(state)
    tree = {"format": FORMAT, "state": encode(state, arrays, "state", "save_checkpoint")}
    arrays[TREE_KEY] = np.array(json.dumps(tree))
    path = Path(path)
    atomic_write(path, lambda stream: np.savez(stream, **arrays))
    return path


def on_host(value: Any) -> Any:
    """`value` (a tree) with every GPU tensor and array copied to the host, explicitly.

    Tensors stay tensors (`Tensor.cpu()`), so they still load as tensors; host
    values are returned as they are, not copied.

    Example:
        >>> import gradwork as gw
        >>> on_host({"w": [gw.ones(2)], "step": 3})["w"][0].device.type
        'cpu'
    """
    if isinstance(value, Tensor):
        return value if device_type(value) == "cpu" else value.cpu()
    if isinstance(value, dict):
        return {key: on_host(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return type(value)(on_host(item) for item in value)
    return to_host(value) if hasattr(value, "shape") else value


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint written by `save_checkpoint` (no pickle involved)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_checkpoint: no checkpoint file at {str(path)!r}")
    tree, arrays = read_archive(path, str(path), "load_checkpoint")
    return decode_archive(tree, arrays, str(path), "load_checkpoint")
