"""Where a mistake was made: the first frame of the stack outside the gradwork package."""

from __future__ import annotations

import os
import sys
from types import FrameType

_PACKAGE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_DIAGNOSE = os.path.join(_PACKAGE, "diagnose")
_MISTAKES = os.path.dirname(os.path.abspath(__file__))
_INSIDE: dict[str, bool] = {}  # filename -> inside gradwork (a cache: this runs every step)


def _inside(filename: str) -> bool:
    inside = _INSIDE.get(filename)
    if inside is None:
        inside = _INSIDE[filename] = os.path.abspath(filename).startswith(_PACKAGE + os.sep)
    return inside


def user_frame(depth: int = 2) -> FrameType | None:
    """The innermost frame outside gradwork, starting `depth` frames above the caller."""
    frame = sys._getframe(depth)
    while frame is not None and _inside(frame.f_code.co_filename):
        frame = frame.f_back
    return frame


def user_location(depth: int = 3) -> tuple[str, int]:
    """`(file, line)` of the user's code that called into gradwork ("?", 0 if none)."""
    frame = user_frame(depth)
    if frame is None:
        return ("?", 0)
    return (frame.f_code.co_filename, frame.f_lineno)


def inside_other_diagnostics() -> bool:
    """True while the doctor, lr_find or another diagnostic runs (on copies, on purpose)."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if filename.startswith(_DIAGNOSE + os.sep) and not filename.startswith(_MISTAKES):
            return True
        frame = frame.f_back
    return False


def short(location: tuple[str, int]) -> str:
    """`file:line`, the file relative to the working directory when it lies below it."""
    filename, line = location
    try:
        relative = os.path.relpath(filename)
    except ValueError:  # another drive on Windows
        relative = filename
    return f"{filename if relative.startswith('..') else relative}:{line}"
