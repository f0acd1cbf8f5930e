"""A dependency-free PNG writer and a tiny rasteriser for line and scatter charts.

gradwork draws its few pictures (the tuning history, for one) without
matplotlib: pixels are a NumPy ``uint8`` array of shape (height, width, 3),
and the file is the PNG signature, an IHDR chunk, one zlib-compressed IDAT
chunk and IEND (PNG specification, 2nd edition, sections 5 and 11).
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
WHITE, BLACK, GREY = (255, 255, 255), (0, 0, 0), (220, 220, 220)
BLUE, ORANGE, RED = (31, 119, 180), (255, 127, 14), (214, 39, 40)

# 3x5 bitmap glyphs (rows top to bottom, 3 bits each) for tick labels.
_GLYPHS = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111",
    "3": "111001111001111", "4": "101101111001001", "5": "111100111001111",
    "6": "111100111101111", "7": "111001001001001", "8": "111101111101111",
    "9": "111101111001111", ".": "000000000000010", "-": "000000111000000",
    "e": "000111111100111", "+": "000010111010000", " ": "000000000000000",
}  # fmt: skip


def _chunk(kind: bytes, payload: bytes) -> bytes:
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def encode_png(pixels: np.ndarray) -> bytes:
    """The bytes of an 8-bit RGB PNG of ``pixels`` (height, width, 3) ``uint8``.

    Example:
        >>> data = encode_png(np.zeros((2, 3, 3), np.uint8))
        >>> data[:8] == SIGNATURE, struct.unpack(">II", data[16:24])
        (True, (3, 2))
    """
    pixels = np.asarray(pixels)
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(
            f"gradwork.diagnose.png.encode_png: pixels of shape {pixels.shape} and dtype "
            f"{pixels.dtype}; expected (height, width, 3) uint8 (use .astype(np.uint8))"
        )
    height, width = pixels.shape[:2]
    # NOTE: every scanline starts with its filter type; 0 (None) keeps the writer trivial.
    rows = np.concatenate([np.zeros((height, 1), np.uint8), pixels.reshape(height, -1)], axis=1)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits, truecolour
    return (
        SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 9))
        + _chunk(b"IEND", b"")
    )


def write_png(path: str | os.PathLike, pixels: np.ndarray) -> Path:
    """Write ``pixels`` (height, width, 3) ``uint8`` to ``path`` as a PNG file."""
    path = Path(path)
    path.write_bytes(encode_png(pixels))
    return path


class Canvas:
    """A white RGB image to draw lines, dots and small numbers on.

    Example:
        >>> canvas = Canvas(20, 10)
        >>> canvas.line(0, 0, 19, 9, BLACK)
        >>> canvas.pixels[0, 0].tolist(), canvas.pixels[9, 19].tolist()
        ([0, 0, 0], [0, 0, 0])
    """

    def __init__(self, width: int, height: int, background: tuple = WHITE) -> None:
        self.width, self.height = int(width), int(height)
        self.pixels = np.empty((self.height, self.width, 3), np.uint8)
        self.pixels[:] = background

    def put(self, x: int, y: int, color: tuple) -> None:
        """Colour one pixel; points off the canvas are ignored."""
        if 0 <= x < self.width and 0 <= y < self.height:
            self.pixels[y, x] = color

    def line(self, x0: float, y0: float, x1: float, y1: float, color: tuple) -> None:
        """A one-pixel line between two points (sampled at every pixel step)."""
        steps = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
        for t in np.linspace(0.0, 1.0, steps + 1):
            self.put(round(x0 + t * (x1 - x0)), round(y0 + t * (y1 - y0)), color)

    def dot(self, x: float, y: float, color: tuple, radius: int = 2) -> None:
        """A filled square dot centred on (x, y)."""
        cx, cy = round(x), round(y)
        for dy in range(-radius, radius + 1):
            for dx in range(-radius, radius + 1):
                self.put(cx + dx, cy + dy, color)

    def text(self, x: int, y: int, words: str, color: tuple = BLACK, scale: int = 2) -> None:
        """Digits and ``.-+e`` in a 3x5 font, top-left corner at (x, y)."""
        for position, character in enumerate(words):
            bits = _GLYPHS.get(character, _GLYPHS[" "])
            for index, bit in enumerate(bits):
                if bit == "1":
                    row, column = divmod(index, 3)
                    left, top = x + (4 * position + column) * scale, y + row * scale
                    self.pixels[
                        max(top, 0) : max(top + scale, 0), max(left, 0) : max(left + scale, 0)
                    ] = color

    def save(self, path: str | os.PathLike) -> Path:
        """Write the canvas as a PNG file."""
        return write_png(path, self.pixels)


def _label(value: float) -> str:
    return f"{value:.3g}"


def line_chart(
    series: Sequence[tuple[Sequence[float], Sequence[float], tuple, str]],
    width: int = 640,
    height: int = 400,
) -> Canvas:
    """Draw ``(xs, ys, colour, style)`` series (style ``"line"`` or ``"dots"``) on axes.

    Axes span the finite values of all series; the smallest and largest x and y are
    written at the ends of the axes. Non-finite points are skipped.

    Example:
        >>> chart = line_chart([([0, 1, 2], [3.0, 1.0, 2.0], BLUE, "line")], 120, 80)
        >>> chart.pixels.shape
        (80, 120, 3)
    """
    canvas = Canvas(width, height)
    points = [
        (x, y) for xs, ys, *_ in series for x, y in zip(xs, ys, strict=False) if np.isfinite(y)
    ]
    if not points:
        return canvas
    xs_all, ys_all = zip(*points, strict=False)
    x_low, x_high = float(min(xs_all)), float(max(xs_all))
    y_low, y_high = float(min(ys_all)), float(max(ys_all))
    # NOTE: a flat series would divide by zero; widen its range symmetrically.
    x_high, y_high = max(x_high, x_low + 1e-12), max(y_high, y_low + 1e-12)
    left, right, top, bottom = 60, width - 15, 15, height - 30

    def to_pixel(x: float, y: float) -> tuple[float, float]:
        return (
            left + (x - x_low) / (x_high - x_low) * (right - left),
            bottom - (y - y_low) / (y_high - y_low) * (bottom - top),
        )

    for fraction in (0.25, 0.5, 0.75):
        level = bottom - fraction * (bottom - top)
        canvas.line(left, level, right, level, GREY)
    canvas.line(left, bottom, right, bottom, BLACK)
    canvas.line(left, top, left, bottom, BLACK)
    canvas.text(2, bottom - 10, _label(y_low))
    canvas.text(2, top, _label(y_high))
    canvas.text(left, bottom + 8, _label(x_low))
    canvas.text(right - 4 * 2 * len(_label(x_high)), bottom + 8, _label(x_high))
    for xs, ys, color, style in series:
        pixels = [to_pixel(x, y) for x, y in zip(xs, ys, strict=False) if np.isfinite(y)]
        if style == "line":
            for (a, b), (c, d) in zip(pixels[:-1], pixels[1:], strict=False):
                canvas.line(a, b, c, d, color)
        else:
            for a, b in pixels:
                canvas.dot(a, b, color)
    return canvas
