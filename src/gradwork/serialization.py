"""`gradwork.save` / `gradwork.load`: nested state in files that never hold pickles.

Two formats, chosen by the file name:

* `*.safetensors`: Hugging Face's safetensors (see `_safetensors.py`), a flat
  dict of tensors that torch's tooling reads and writes.
* anything else: an `.npz` archive. Arrays are members `a0, a1, ...`; the tree
  around them (dicts, lists, tuples, numbers, strings, None) is JSON in the
  member `__tree__`, an array standing as `{"__array__": "a0"}`. This is also
  the format of training checkpoints (`gradwork.train.save_checkpoint`).

Loading never unpickles, so a file from a stranger cannot run code.

Example:
    >>> import gradwork as gw, io
    >>> buffer = io.BytesIO()
    >>> gw.save({"w": gw.ones(2), "step": 3}, buffer)
    >>> _ = buffer.seek(0)
    >>> gw.load(buffer)
    {'w': tensor([1., 1.]), 'step': 3}
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import numpy as np

from gradwork import _arrays, _safetensors
from gradwork._device import device
from gradwork.tensor import Tensor

__all__ = ["save", "load", "FileFormatError", "atomic_write"]

TREE_KEY = "__tree__"
FORMAT = "gradwork-checkpoint-1"


class FileFormatError(RuntimeError, ValueError):
    """A file that is not what `load` reads: truncated, another format, or damaged.

    A RuntimeError like torch's load errors, and a ValueError like NumPy's.
    """


def save(obj: Any, f: Any, **torch_options: Any) -> None:
    """Save a tensor, an array, or a nested dict/list/tuple of them and plain values.

    Args:
        obj: e.g. `model.state_dict()`, `optimizer.state_dict()`, a tensor.
        f: a path (written atomically) or a binary file object. A path ending
            in `.safetensors` writes that format (a flat dict of tensors).
        torch_options: torch's `pickle_module`, `pickle_protocol`,
            `_use_new_zipfile_serialization`: accepted and ignored (no pickle).
    """
    if _is_safetensors(f):
        data = _safetensors.encode(obj, str(f))
        atomic_write(f, lambda stream: stream.write(data))
        return
    arrays: dict[str, np.ndarray] = {}
    tree = {"format": FORMAT, "state": encode(obj, arrays, "obj", "save")}
    arrays[TREE_KEY] = np.array(json.dumps(tree))
    if isinstance(f, str | os.PathLike):
        atomic_write(f, lambda stream: np.savez(stream, **arrays))
    else:
        np.savez(f, **arrays)


def load(f: Any, map_location: Any = None, weights_only: bool = True, **torch_options: Any) -> Any:
    """Read what `save` wrote: tensors come back as Tensors, arrays as arrays.

    Args:
        f: a path or a binary file object.
        map_location: where tensors go, in torch's forms: None (the device
            each was saved from), a device string or `gradwork.device` (all
            there), a dict from saved to wanted location strings, or a callable
            `fn(tensor, location)` returning the tensor to use (None: the
            default). On a machine without CUDA, ask for "cpu".
        weights_only: accepted; loading is always weights-only (no pickle).
        torch_options: torch's `mmap` and `pickle_load_args`: accepted and ignored.

    Raises:
        FileNotFoundError: no file at the path.
        FileFormatError: the file is truncated, damaged or in another format.
        RuntimeError: a tensor bound for a CUDA device that is not there.

    Example:
        >>> import gradwork as gw, io
        >>> buffer = io.BytesIO()
        >>> gw.save({"w": gw.ones(2)}, buffer)
        >>> _ = buffer.seek(0)
        >>> gw.load(buffer, map_location=lambda tensor, location: tensor * 2)
        {'w': tensor([2., 2.])}
    """
    name = str(f) if isinstance(f, str | os.PathLike) else getattr(f, "name", repr(f))
    restore = _restorer(map_location)
    if isinstance(f, str | os.PathLike) and not Path(f).is_file():
        raise FileNotFoundError(f"load: no file at {name!r}")
    if _is_safetensors(f):
        arrays = _safetensors.decode(Path(f).read_bytes(), name, FileFormatError)
        return {key: restore(Tensor(array), "cpu") for key, array in arrays.items()}
    tree, arrays = read_archive(f, name, "load")
    return decode_archive(tree, arrays, name, "load", tensors=True, restore=restore)


def _restorer(map_location: Any) -> Any:
    """torch's `_get_restore_location`: map_location as `fn(tensor, saved location)`."""
    if map_location is None:
        return _restore
    if isinstance(map_location, dict):
        return lambda tensor, location: _restore(tensor, map_location.get(location, location))
    if isinstance(map_location, str | bytes | device):
        return lambda tensor, location: _restore(tensor, map_location)
    if callable(map_location):

        def restore(tensor: Tensor, location: str) -> Tensor:
            result = map_location(tensor, location)
            return _restore(tensor, location) if result is None else result

        return restore
    raise TypeError(
        f"load: map_location must be None, a device string like 'cpu', a gradwork.device, a "
        f"dict of locations or a callable (tensor, location), got {type(map_location).__name__}"
    )


def _restore(tensor: Tensor, location: Any) -> Tensor:
    """`tensor` (loaded on the CPU) placed at `location`, with torch's errors."""
    text = location.decode() if isinstance(location, bytes) else str(location)
    try:
        target = device(text)
    except RuntimeError:
        raise RuntimeError(
            f"don't know how to restore data location of a gradwork Tensor (tagged with {text}); "
            "pass map_location='cpu' or a location such as 'cuda:0'"
        ) from None
    if target.type == "cpu":
        return tensor
    if target.type != "cuda":
        raise RuntimeError(
            f"Attempting to deserialize object on a {target.type.upper()} device, which gradwork "
            "does not support. Please use gradwork.load with map_location=gradwork.device('cpu') "
            "to map your storages to the CPU."
        )
    from gradwork import cuda

    if not cuda.is_available():
        raise RuntimeError(
            "Attempting to deserialize object on a CUDA device but gradwork.cuda.is_available() "
            "is False. If you are running on a CPU-only machine, please use gradwork.load with "
            "map_location=gradwork.device('cpu') to map your storages to the CPU."
        )
    index, count = target.index or 0, cuda.device_count()
    if index >= count:
        raise RuntimeError(
            f"Attempting to deserialize object on CUDA device {index} but "
            f"gradwork.cuda.device_count() is {count}. Please use gradwork.load with "
            "map_location to map your storages to an existing device."
        )
    tensor.array = _arrays.to_device(tensor.array)  # moved, and still a leaf as saved
    return tensor


def read_archive(f: Any, name: str, caller: str) -> tuple[dict, dict]:
    """The JSON tree and the arrays of an archive written by `save` or `save_checkpoint`."""
    try:
        with np.load(f, allow_pickle=False) as archive:
            if not hasattr(archive, "files") or TREE_KEY not in archive.files:
                raise FileFormatError(_not_ours(name, caller, archive))
            tree = json.loads(str(archive[TREE_KEY]))
            arrays = {key: archive[key] for key in archive.files if key != TREE_KEY}
    except FileFormatError:
        raise
    except Exception as error:  # noqa: BLE001 - zip, zlib, EOF, JSON, ...: every damaged file
        if "pickled" in str(error):
            raise FileFormatError(
                f"{caller}: {name!r} is a Python pickle, not a gradwork file; gradwork never "
                "unpickles (a pickle can run code). Save with gradwork.save or save_checkpoint"
            ) from None
        raise FileFormatError(
            f"{caller}: {name!r} is not a readable gradwork file (an .npz archive written by "
            f"gradwork.save or save_checkpoint): it is truncated, damaged or in another format "
            f"({type(error).__name__}: {error})"
        ) from None
    if not isinstance(tree, dict) or tree.get("format") != FORMAT or "state" not in tree:
        found = tree.get("format") if isinstance(tree, dict) else None
        raise FileFormatError(
            f"{caller}: {name!r} has format {found!r}, this gradwork reads {FORMAT!r}"
        )
    return tree, arrays


def decode_archive(tree: dict, arrays: dict, name: str, caller: str, **options: Any) -> Any:
    """`decode(tree["state"], arrays)`; a tree that does not fit its arrays is a FileFormatError."""
    try:
        return decode(tree["state"], arrays, **options)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
        raise FileFormatError(
            f"{caller}: {name!r} is damaged: its index does not match its arrays "
            f"({type(error).__name__}: {error})"
        ) from None


def _not_ours(name: str, caller: str, archive: Any) -> str:
    members = list(getattr(archive, "files", []))
    if any(member.endswith("data.pkl") or member.endswith("/data") for member in members):
        return (
            f"{caller}: {name!r} was written by torch.save (a pickle inside a zip); gradwork "
            "never unpickles. In torch, save `model.state_dict()` with safetensors "
            "(`safetensors.torch.save_file(sd, 'model.safetensors')`) and load that file here."
        )
    return (
        f"{caller}: {name!r} is an .npz file but not a gradwork checkpoint (it has no "
        f"'{TREE_KEY}' member); write it with gradwork.save or save_checkpoint, or read it "
        "with numpy.load"
    )


def _is_safetensors(f: Any) -> bool:
    return isinstance(f, str | os.PathLike) and str(f).endswith(".safetensors")


def atomic_write(path: str | os.PathLike, write: Any, mode: str = "wb") -> None:
    """Call `write(stream)` on a temporary file next to `path`, then move it over `path`.

    NOTE: the temporary file lives in the same folder so `os.replace` is a rename
    on one file system (atomic on POSIX and Windows); the data is flushed and
    fsync'ed first so a power cut cannot leave a renamed but empty file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = _temporary_beside(path)
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


def _temporary_beside(path: Path) -> tuple[int, str]:
    """A new file `.<name>.<random>.tmp` beside `path`, opened for writing.

    NOTE: mode 0o666 less the umask, like any file `open()` creates, so run-folder
    files get the same mode whether written atomically or not (mkstemp's 0o600 did
    not); O_EXCL keeps the name unique.
    """
    for _ in range(100):
        temporary = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
            return os.open(temporary, flags, 0o666), str(temporary)
        except FileExistsError:
            continue
    raise FileExistsError(f"atomic_write: no free temporary name beside {str(path)!r}")


def encode(value: Any, arrays: dict, where: str, caller: str) -> Any:
    """Replace arrays by references into `arrays`; tag what JSON cannot say itself."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Tensor):
        name = f"a{len(arrays)}"
        on_host = not _arrays.is_device_array(value.array)
        arrays[name] = np.asarray(_arrays.to_host(value.array))  # saved device-independent
        entry = {"__array__": name, "tensor": True, "requires_grad": value.requires_grad}
        if not on_host:  # where load(map_location=None) puts it back, as torch does
            entry["device"] = str(value.device)
        return entry
    if isinstance(value, np.ndarray | np.generic) or _arrays.is_device_array(value):
        name = f"a{len(arrays)}"
        arrays[name] = np.asarray(_arrays.to_host(value))
        return {"__array__": name, "scalar": isinstance(value, np.generic)}
    if isinstance(value, tuple):
        return {
            "__tuple__": [encode(v, arrays, f"{where}[{i}]", caller) for i, v in enumerate(value)]
        }
    if isinstance(value, list):
        return [encode(v, arrays, f"{where}[{i}]", caller) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return _encode_dict(value, arrays, where, caller)
    raise TypeError(
        f"{caller}: can't save {where} of type {type(value).__name__}; gradwork saves "
        "tensors, arrays, dicts, lists, tuples, numbers, strings and None (never pickles). "
        "Save the object's state_dict() instead."
    )


def _encode_dict(value: dict, arrays: dict, where: str, caller: str) -> Any:
    plain = all(isinstance(k, str) and not k.startswith("__") for k in value)
    if plain:
        return {k: encode(v, arrays, f"{where}[{k!r}]", caller) for k, v in value.items()}
    # Non-string keys (an optimizer's state is keyed by parameter index): keep them as pairs.
    pairs = [
        [encode(k, arrays, where, caller), encode(v, arrays, f"{where}[{k!r}]", caller)]
        for k, v in value.items()
    ]
    return {"__dict__": pairs}


def decode(value: Any, arrays: dict, tensors: bool = False, restore: Any = None) -> Any:
    """Rebuild the tree; saved tensors come back as Tensors when `tensors`, else as arrays.

    `restore(tensor, location)` places each tensor (default: its saved device).
    """
    restore = restore or _restore
    if isinstance(value, list):
        return [decode(v, arrays, tensors, restore) for v in value]
    if not isinstance(value, dict):
        return value
    if "__array__" in value:
        array = arrays[value["__array__"]]
        if tensors and value.get("tensor"):
            tensor = Tensor(array, requires_grad=bool(value.get("requires_grad")))
            return restore(tensor, value.get("device", "cpu"))
        return array[()] if value.get("scalar") else array
    if "__tuple__" in value:
        return tuple(decode(v, arrays, tensors, restore) for v in value["__tuple__"])
    if "__dict__" in value:
        pairs = value["__dict__"]
        return {decode(k, arrays, tensors, restore): decode(v, arrays, tensors, restore)
                for k, v in pairs}  # fmt: skip
    return {k: decode(v, arrays, tensors, restore) for k, v in value.items()}
