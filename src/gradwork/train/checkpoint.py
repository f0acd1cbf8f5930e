"""Checkpoint files: nested state (dicts, lists, arrays, numbers) in one pickle-free `.npz`.

A checkpoint is a tree of plain Python values and arrays (model, optimizer and
scheduler `state_dict()`s, callback states, RNG states, the loader position).
The arrays go into the `.npz` as members `a0, a1, ...`; everything else is JSON
in the member `__tree__`, with arrays replaced by `{"__array__": "a0"}`. Loading
never unpickles, so a checkpoint from a stranger cannot run code.

Writes are atomic: the file is written beside its target under a temporary name
and moved over it with `os.replace`, so a crash leaves either the old file or
the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

_TREE_KEY = "__tree__"
_FORMAT = "gradwork-checkpoint-1"


def save_checkpoint(state: dict, path: str | os.PathLike) -> Path:
    """Write `state` (a tree of dicts, lists, tuples, numbers, strings, arrays) to `path`.

    Args:
        state: the tree to save. Tensors are saved as their arrays.
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
    tree = {"format": _FORMAT, "state": _encode(state, arrays, "state")}
    arrays[_TREE_KEY] = np.array(json.dumps(tree))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda stream: np.savez(stream, **arrays))
    return path


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint written by `save_checkpoint` (no pickle involved)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_checkpoint: no checkpoint file at {str(path)!r}")
    with np.load(path, allow_pickle=False) as archive:
        if _TREE_KEY not in archive.files:
            raise ValueError(
                f"load_checkpoint: {str(path)!r} is an .npz file but not a gradwork "
                "checkpoint (it has no '__tree__' member); write it with save_checkpoint"
            )
        tree = json.loads(str(archive[_TREE_KEY]))
        arrays = {name: archive[name] for name in archive.files if name != _TREE_KEY}
    if tree.get("format") != _FORMAT:
        raise ValueError(
            f"load_checkpoint: {str(path)!r} has format {tree.get('format')!r}, "
            f"this gradwork reads {_FORMAT!r}"
        )
    return _decode(tree["state"], arrays)


def atomic_write(path: str | os.PathLike, write: Any, mode: str = "wb") -> None:
    """Call `write(stream)` on a temporary file next to `path`, then move it over `path`.

    NOTE: the temporary file lives in the same folder so `os.replace` is a rename
    on one file system (atomic on POSIX and Windows); the data is flushed and
    fsync'ed first so a power cut cannot leave a renamed but empty file.
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, mode) as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        # BaseException: a Ctrl-C in the middle must not leave the temporary behind either.
        Path(temporary).unlink(missing_ok=True)
        raise


def _encode(value: Any, arrays: dict, where: str) -> Any:
    """Replace arrays by references into `arrays`; tag what JSON cannot say itself."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "array") and type(value).__name__ in ("Tensor", "Parameter"):
        value = value.array
    if isinstance(value, np.ndarray | np.generic):
        name = f"a{len(arrays)}"
        arrays[name] = np.asarray(value)
        return {"__array__": name, "scalar": isinstance(value, np.generic)}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return _encode_dict(value, arrays, where)
    raise TypeError(
        f"save_checkpoint: can't save {where} of type {type(value).__name__}; checkpoints hold "
        "dicts, lists, tuples, numbers, strings, None and arrays. Convert it in the "
        "object's state_dict()."
    )


def _encode_dict(value: dict, arrays: dict, where: str) -> Any:
    plain = all(isinstance(k, str) and not k.startswith("__") for k in value)
    if plain:
        return {k: _encode(v, arrays, f"{where}[{k!r}]") for k, v in value.items()}
    # Non-string keys (an optimizer's state is keyed by parameter index): keep them as pairs.
    pairs = [
        [_encode(k, arrays, where), _encode(v, arrays, f"{where}[{k!r}]")] for k, v in value.items()
    ]
    return {"__dict__": pairs}


def _decode(value: Any, arrays: dict) -> Any:
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    if not isinstance(value, dict):
        return value
    if "__array__" in value:
        array = arrays[value["__array__"]]
        return array[()] if value.get("scalar") else array
    if "__tuple__" in value:
        return tuple(_decode(v, arrays) for v in value["__tuple__"])
    if "__dict__" in value:
        return {_decode(k, arrays): _decode(v, arrays) for k, v in value["__dict__"]}
    return {k: _decode(v, arrays) for k, v in value.items()}
