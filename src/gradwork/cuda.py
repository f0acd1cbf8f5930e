"""`gradwork.cuda`: torch's CUDA queries, answered for a build without a GPU backend.

Scripts written for torch ask `torch.cuda.is_available()` to pick a device;
here the answer is False until the CuPy backend (DESIGN.md) is wired, so they
fall back to the CPU.

Example:
    >>> import gradwork as gw
    >>> "cuda" if gw.cuda.is_available() else "cpu"
    'cpu'
"""

from __future__ import annotations

__all__ = ["is_available", "device_count", "manual_seed", "manual_seed_all", "synchronize"]


def is_available() -> bool:
    """False: gradwork runs on the CPU only in this version."""
    return False


def device_count() -> int:
    """0: no CUDA device is usable by gradwork."""
    return 0


def manual_seed(seed: int) -> None:
    """A no-op kept for torch scripts: with no GPU there is no GPU random stream.

    Use `gradwork.manual_seed(seed)` for gradwork's own (CPU) stream.
    """


def manual_seed_all(seed: int) -> None:
    """A no-op, like `manual_seed`: there are no GPU streams to seed."""


def synchronize(device: object = None) -> None:
    """A no-op: CPU work is synchronous, so there is nothing to wait for."""
