"""`gradwork.cuda`: torch's CUDA queries, answered by gradwork's CUDA backend.

The backend is CuPy on a machine with an NVIDIA GPU (`pip install
"gradwork[cuda12]"` or `"gradwork[cuda13]"`), or the CPU stand-in that plays
CuPy in tests (`GRADWORK_CUDA_STANDIN=1`, see `gradwork._standin`). Without
either, `is_available()` is False and scripts written for torch fall back to
the CPU.

Example:
    >>> import gradwork as gw
    >>> device = "cuda" if gw.cuda.is_available() else "cpu"
    >>> gw.ones(2, device=device).device.type == device
    True
"""

from __future__ import annotations

from typing import Any

from gradwork import _arrays, _device_checks, random

__all__ = ["is_available", "device_count", "manual_seed", "manual_seed_all", "synchronize",
           "current_device"]  # fmt: skip


def is_available() -> bool:
    """True when tensors can go to `device="cuda"` (CuPy with a GPU, or the stand-in)."""
    return _arrays.device_count() > 0


def device_count() -> int:
    """How many CUDA devices gradwork can use (0 without a backend, 1 for the stand-in)."""
    return _arrays.device_count()


def current_device() -> int:
    """The index of the current CUDA device (gradwork uses device 0)."""
    _require("current_device")
    return 0


def manual_seed(seed: int) -> None:
    """Seed the random stream CUDA tensors are drawn from.

    gradwork draws every random tensor on the host from its one stream and
    copies it to the device, so a seed gives the same values on the CPU and
    on the GPU: this reseeds that stream (as `gradwork.manual_seed` does) and
    the backend's own generator, for any draw made on the device.

    Example:
        >>> import gradwork as gw
        >>> gw.cuda.manual_seed(0); a = gw.rand(2)
        >>> gw.cuda.manual_seed(0); b = gw.rand(2)
        >>> a.tolist() == b.tolist()
        True
    """
    random.manual_seed(seed)
    namespace = _arrays.cuda_namespace()
    if namespace is not None:
        namespace.random.seed(seed)


def manual_seed_all(seed: int) -> None:
    """`manual_seed` on every device (there is one stream for all of them)."""
    manual_seed(seed)


def synchronize(device: Any = None) -> None:
    """Wait for the device's queued work to finish (time a GPU step only after this).

    A no-op without a backend: CPU work is synchronous.
    """
    namespace = _arrays.cuda_namespace()
    if namespace is not None:
        namespace.cuda.Device().synchronize()
        _device_checks.raise_pending()  # device-side checks are reported at a sync


def _require(what: str) -> None:
    if not is_available():
        raise AssertionError(
            f"gradwork.cuda.{what}: gradwork not compiled with CUDA enabled; {_arrays.INSTALL_HINT}"
        )
