"""`gradwork.accelerator`: torch's device-agnostic accelerator queries.

Example:
    >>> import gradwork as gw
    >>> gw.accelerator.is_available(), gw.accelerator.current_accelerator()
    (False, None)
"""

from __future__ import annotations

__all__ = ["is_available", "current_accelerator", "device_count"]


def is_available() -> bool:
    """False: gradwork has no accelerator backend wired in this version."""
    return False


def current_accelerator(check_available: bool = False) -> None:
    """None: there is no accelerator (torch returns its `device` when there is one)."""
    return None


def device_count() -> int:
    """0 accelerators."""
    return 0
