"""The safetensors format, written and read with NumPy alone.

Layout (https://huggingface.co/docs/safetensors): 8 bytes, a little-endian
uint64 N; N bytes of UTF-8 JSON mapping each name to `{"dtype", "shape",
"data_offsets": [begin, end]}` (offsets into the data that follows), plus an
optional `"__metadata__"` dict of strings; then the raw little-endian bytes
of every tensor, back to back, with no gaps.

Why not the `safetensors` package: gradwork's core depends on NumPy alone, and
the format is small enough to write here. The files are byte for byte what
`safetensors.numpy.save` writes (same order, same padding); the test extra
installs the package and checks both directions, through torch too.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

from gradwork._arrays import to_host

_CODES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
          "I8": "i1", "U8": "u1", "U16": "<u2", "U32": "<u4", "U64": "<u8",
          "BOOL": "?"}  # fmt: skip
_NAMES = {np.dtype(code): name for name, code in _CODES.items()}
# The reference writer stores tensors by dtype, widest first (its Dtype enum order,
# descending), then by name: every tensor's data then starts at a multiple of its
# item size, and files come out byte for byte as `safetensors.numpy.save` writes them.
_ORDER = {"BOOL": 0, "U8": 4, "I8": 5, "I16": 9, "U16": 10, "F16": 11, "BF16": 12, "I32": 13,
          "U32": 14, "F32": 15, "F64": 17, "I64": 18, "U64": 19}  # fmt: skip


def encode(tensors: Any, path: str) -> bytes:
    """The bytes of a safetensors file holding the flat dict `tensors` (name -> tensor or array)."""
    if not isinstance(tensors, dict):
        raise TypeError(
            f"save: {path!r} is a .safetensors file, which holds a flat dict of tensors; "
            f"got {type(tensors).__name__}. Save model.state_dict(), or use another suffix."
        )
    header: dict[str, Any] = {}
    chunks, offset = [], 0
    arrays = {}
    for name, value in tensors.items():
        array = getattr(value, "array", value)
        array = np.asarray(to_host(array))  # device arrays: an explicit copy to the host
        if not isinstance(name, str) or array.dtype not in _NAMES:
            raise TypeError(
                f"save: {path!r}: safetensors holds str names and numeric arrays; entry "
                f"{name!r} is {array.dtype if isinstance(name, str) else type(name).__name__}"
            )
        arrays[name] = array
    for name in sorted(arrays, key=lambda n: (-_ORDER[_NAMES[arrays[n].dtype]], n)):
        array = arrays[name]
        data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": _NAMES[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}  # fmt: skip
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the reference writer pads the header to 8 bytes
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def decode(blob: bytes, path: str, error: type) -> dict:
    """The dict of arrays in a safetensors file's bytes; `error` is raised on a bad file."""
    header, data = _split(blob, path, error)
    result, end = {}, 0
    for name, entry in sorted(header.items(), key=lambda item: _offsets(item, path, error)[0]):
        begin, stop = _offsets((name, entry), path, error)
        if begin != end or stop < begin or stop > len(data):
            raise error(f"load: {path!r}: the data of {name!r} ({begin}..{stop}) is out of place")
        result[name] = _array(data[begin:stop], entry, name, path, error)
        end = stop
    if end != len(data):
        raise error(f"load: {path!r}: {len(data) - end} bytes after the last tensor")
    return {name: result[name] for name in sorted(result)}


def _offsets(item: tuple, path: str, error: type) -> tuple[int, int]:
    name, entry = item
    offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
    if not (
        isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)
    ):
        raise error(
            f"load: {path!r} is damaged or not a safetensors file: the header entry of "
            f"{name!r} has no valid data_offsets ({entry!r})"
        )
    return offsets[0], offsets[1]


def _split(blob: bytes, path: str, error: type) -> tuple[dict, bytes]:
    if len(blob) < 8:
        raise error(f"load: {path!r} is too short to be a safetensors file ({len(blob)} bytes)")
    (size,) = struct.unpack("<Q", blob[:8])
    if size > len(blob) - 8:
        raise error(
            f"load: {path!r} is truncated or not a safetensors file: its header claims "
            f"{size} bytes, the file has {len(blob) - 8} after the length"
        )
    try:
        header = json.loads(blob[8 : 8 + size].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as problem:
        raise error(f"load: {path!r} is not a safetensors file: bad header ({problem})") from None
    if not isinstance(header, dict):
        raise error(f"load: {path!r} is not a safetensors file: the header is not a JSON object")
    header.pop("__metadata__", None)
    return header, blob[8 + size :]


def _array(data: bytes, entry: dict, name: str, path: str, error: type) -> np.ndarray:
    kind, shape = entry.get("dtype"), entry.get("shape", ())
    if not (isinstance(shape, list) and all(type(n) is int and n >= 0 for n in shape)):
        raise error(f"load: {path!r}: tensor {name!r} has an invalid shape {shape!r}")
    shape = tuple(shape)
    if kind == "BF16":  # NumPy has no bfloat16: widen to float32 (the top 16 bits)
        bits = np.frombuffer(data, "<u2").astype(np.uint32) << 16
        return bits.view(np.float32).reshape(shape)
    if kind not in _CODES:
        raise error(
            f"load: {path!r}: tensor {name!r} has dtype {kind!r}, which gradwork can't read"
        )
    array = np.frombuffer(data, _CODES[kind])
    if array.size != int(np.prod(shape)):
        raise error(f"load: {path!r}: tensor {name!r} has {array.size} values for shape {shape}")
    return array.reshape(shape).astype(array.dtype.newbyteorder("="), copy=True)
