"""Input checks on device data, reported at the next host sync (torch's CUDA behaviour).

Checking a value held on a GPU from Python (`if target.max() >= classes`)
waits for the device to finish its queue: one such check in every loss call
serialises the GPU with Python. Instead an op computes the "something is
wrong" flag ON the device, registers it here with its message, and goes on
with safe values (an out-of-range class index is clipped, so nothing
crashes). Pending flags are read when the program next reads device data on
the host anyway (`Tensor.item()`, `.tolist()`, `bool()`, `.cpu()`, `gw.cuda.synchronize()`,
`_arrays.to_host`): that read raises the op's usual error, saying it was found
asynchronously, as torch reports a device-side assert at a later CUDA call.

Flags are merged per message key on the device, so a loop that never reads
anything back keeps a bounded number of tiny arrays here.

Example:
    >>> from gradwork import _standin as xp
    >>> target = xp.asarray([0, 7])
    >>> defer(("demo", 3), target >= 3, target, lambda bad: f"class {bad:g} >= 3")
    >>> raise_pending()
    Traceback (most recent call last):
    ...
    ValueError: class 7 >= 3 (detected asynchronously: ...)
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from gradwork._arrays import xp_of

# key -> (0-d bool: any bad element so far, 0-d: the first bad value, message of that value)
_pending: dict[Hashable, tuple[Any, Any, Callable[[Any], str]]] = {}

ASYNC_NOTE = (
    "detected asynchronously: the check ran on the device and is reported at this host "
    "read, so the op that failed may be several calls back; for a synchronous error run "
    "the same step on the CPU"
)


def defer(key: Hashable, bad: Any, values: Any, message: Callable[[Any], str]) -> None:
    """Register a device check: `bad` (bool array) marks the offending `values`;
    `message(first_bad_value)` is the error raised at the next host read.

    Nothing is read from the device here: the flag and the first bad value are
    reduced and merged on it.
    """
    xp = xp_of(bad)
    flag = bad.any()
    first = values.reshape(-1)[xp.argmax(bad.reshape(-1))] if bad.size else values.sum()
    if key in _pending:
        old_flag, old_first, _ = _pending[key]
        first = xp.where(old_flag, old_first, first)  # keep the earliest offender
        flag = xp.logical_or(old_flag, flag)
    _pending[key] = (flag, first, message)


def pending() -> int:
    """How many checks wait to be read (tests; no device read)."""
    return len(_pending)


def raise_pending() -> None:
    """Read every pending flag in ONE host transfer; raise the first failed check's error.

    Called where the program reads device data anyway. The pending list is
    cleared first, so the error is raised once.
    """
    if not _pending:
        return
    checks = list(_pending.values())
    _pending.clear()
    xp = xp_of(checks[0][0])
    flags_and_values = xp.stack([xp.stack([f.astype("float64"), v.astype("float64")])
                                 for f, v, _ in checks])  # fmt: skip
    host = xp.asnumpy(flags_and_values) if hasattr(xp, "asnumpy") else flags_and_values
    for (flag, value), (_, _, message) in zip(host, checks, strict=True):
        if flag:
            raise ValueError(f"{message(value.item())} ({ASYNC_NOTE})")


def discard() -> None:
    """Forget every pending check without reading it (tests, or after a caught error)."""
    _pending.clear()
