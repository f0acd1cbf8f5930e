"""A tiny PNG writer in pure NumPy + zlib, so the examples need no plotting library."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np


def _chunk(kind: bytes, payload: bytes) -> bytes:
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def write_png(path: str | Path, image: np.ndarray) -> Path:
    """Write a grayscale (H, W) image with values in [0, 1] as an 8-bit PNG.

    Example:
        >>> import tempfile, os
        >>> path = write_png(os.path.join(tempfile.mkdtemp(), "a.png"), np.eye(4))
        >>> path.read_bytes()[:4] == b"\\x89PNG"
        True
    """
    pixels = (np.clip(np.asarray(image, np.float64), 0, 1) * 255 + 0.5).astype(np.uint8)
    if pixels.ndim != 2:
        raise ValueError(f"write_png: expected a 2-D grayscale image, got shape {pixels.shape}")
    height, width = pixels.shape
    # Each row starts with its filter type; 0 means the row is stored as is.
    rows = np.concatenate([np.zeros((height, 1), np.uint8), pixels], axis=1)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    data = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
    data += _chunk(b"IDAT", zlib.compress(rows.tobytes(), 9)) + _chunk(b"IEND", b"")
    path = Path(path)
    path.write_bytes(data)
    return path


def grid(rows: list[np.ndarray], gap: int = 2) -> np.ndarray:
    """Tile images: rows[r] is (n, H, W); one output row per list entry, `gap` pixels apart."""
    count, height, width = rows[0].shape
    canvas = np.ones((len(rows) * (height + gap) - gap, count * (width + gap) - gap))
    for r, images in enumerate(rows):
        for c, image in enumerate(images):
            top, left = r * (height + gap), c * (width + gap)
            canvas[top : top + height, left : left + width] = image
    return canvas
