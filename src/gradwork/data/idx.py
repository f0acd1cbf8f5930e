"""Reader for the IDX format of MNIST-style files (gzip-compressed or raw).

Layout: two zero bytes, a type code, the number of dimensions, then one
big-endian uint32 per dimension, then the values in C order, big-endian.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise FileNotFoundError(f"read_idx: no file at {path}")
    raw = path.read_bytes()
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as error:
        raise ValueError(
            f"read_idx: {path} is a corrupt or truncated gzip file ({error}); delete it and "
            f"download it again."
        ) from error


def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode the bytes of an (uncompressed) IDX file into a native-endian array."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(
            f"read_idx: {name} is not an IDX file: it must start with two zero bytes, a type "
            f"code and a rank, got {raw[:4]!r}"
        )
    code, rank = raw[2], raw[3]
    if code not in _TYPES:
        raise ValueError(
            f"read_idx: {name} has unknown IDX type code 0x{code:02X}; expected one of "
            f"{', '.join(f'0x{c:02X}' for c in _TYPES)}"
        )
    header = 4 + 4 * rank
    if len(raw) < header:
        raise ValueError(f"read_idx: {name} is truncated inside its header ({len(raw)} bytes)")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=rank, offset=4))
    dtype = _TYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header
    if found != expected:
        problem = "truncated" if found < expected else "longer than its header says"
        raise ValueError(
            f"read_idx: {name} is {problem}: shape {shape} of {dtype.name} needs {expected} "
            f"bytes of data, found {found}; the file is damaged, download it again."
        )
    values = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    # NOTE: astype copies into native byte order and gives a writable array.
    return values.astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzip or raw, detected from its first bytes) into a NumPy array.

    The type code in the magic number gives the dtype, its last byte the rank.
    Truncated, padded or corrupt files raise ValueError naming the file.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny-idx1-ubyte"
        >>> _ = path.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]))
        >>> read_idx(path).tolist()
        [7, 8, 9]
    """
    path = Path(path)
    return parse_idx(_read_bytes(path), str(path))


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> None:
    """Write `array` as an IDX file (gzip when `compress`, default: name ends in .gz).

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "x-idx2-ubyte.gz"
        >>> write_idx(path, np.arange(6, dtype=np.uint8).reshape(2, 3))
        >>> read_idx(path).shape
        (2, 3)
    """
    path = Path(path)
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in _TYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise ValueError(
            f"write_idx: IDX stores uint8, int8, int16, int32, float32 or float64, got "
            f"{array.dtype}; convert with .astype first"
        )
    code = codes[native]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    payload = header + array.astype(_TYPES[code], copy=False).tobytes()
    compress = path.name.endswith(".gz") if compress is None else compress
    path.write_bytes(gzip.compress(payload, mtime=0) if compress else payload)
