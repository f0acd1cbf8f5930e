"""Peak memory added by a block of code, for any framework in the same process.

Linux keeps a high-water mark of the process's resident memory (VmHWM), and
writing "5" to /proc/self/clear_refs resets it to the current size. So the
peak a block added is VmHWM after the block minus the resident size before
it; this counts NumPy's and PyTorch's allocators alike. Elsewhere the figure
is reported as nan.
"""

from __future__ import annotations

import math
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR = Path("/proc/self/clear_refs")


def _kib(field: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


class PeakMemory:
    """`with PeakMemory() as peak: ...` then `peak.added_mib`."""

    def __enter__(self) -> PeakMemory:
        self.supported = _STATUS.exists() and _CLEAR.exists()
        self.added_mib = math.nan
        if self.supported:
            try:
                _CLEAR.write_text("5")
            except OSError:
                self.supported = False
            self.before = _kib("VmRSS") if self.supported else 0
        return self

    def __exit__(self, *exc: object) -> None:
        if self.supported:
            self.added_mib = max(_kib("VmHWM") - self.before, 0) / 1024
