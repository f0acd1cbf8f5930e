"""The CPU stand-in device for tests: `with standin_device():` or the `standin` fixture.

Other test folders can use it too: `from tests.device.fixtures import standin_device`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from gradwork import _device_checks, _standin


@contextlib.contextmanager
def standin_device() -> Iterator[None]:
    """Run a block with `device="cuda"` meaning the CPU stand-in; put things back after.

    Leaves the stand-in on when it was on already (GRADWORK_CUDA_STANDIN=1).
    Device-side checks left unread by a test are dropped, so none leaks into the next.
    """
    was_on = _standin.enabled()
    _standin.enable()
    _device_checks.discard()
    try:
        yield
    finally:
        _device_checks.discard()
        if not was_on:
            _standin.disable()
