"""Elementwise selection, `np.where(condition, a, b)`, without branches on NumPy floats.

NumPy's `where` picks each element with a branch, and on a data-dependent
condition (the sign of an activation) the branch is mispredicted half the
time: 386 us for 128x784 float32 values, where `exp` of the same array took
131 us (1 thread). On float arrays of one dtype and shape the same choice is
a bit mask: all ones where the condition holds, zeros elsewhere, then
(a & mask) | (b & ~mask) on the raw bits, which copies every selected value
bit for bit (NaN, -0.0 and infinities included), so it equals `np.where`
exactly: 140 against 605 us for a 100k-element select, 53 against 489 us for
`np.where(condition, grad, 0)` (tests/ops/test_survey_fast_paths.py compares
them). Anything else (device arrays, broadcasting, mixed dtypes, scalars)
takes `np.where` itself.
"""

from __future__ import annotations

import numpy as np

_UNSIGNED = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def _bits_apply(condition, a):
    """True when the bit form applies: NumPy float arrays shaped like a bool condition."""
    return (
        type(a) is np.ndarray
        and type(condition) is np.ndarray
        and condition.dtype == np.bool_
        and a.dtype.kind == "f"
        and a.dtype.itemsize in _UNSIGNED
        and a.shape == condition.shape
    )


def _mask(condition, unsigned):
    """All bits set where `condition` holds, none elsewhere: -1 and 0 as unsigned integers."""
    mask = condition.view(np.uint8).astype(unsigned)
    return np.negative(mask, out=mask)  # 1 -> all ones (unsigned arithmetic wraps)


def where_reference(condition, a, b):
    """The definition."""
    return np.where(condition, a, b)


def where(condition, a, b):
    """a where condition holds, else b; equal to np.where(condition, a, b).

    Example:
        >>> where(np.array([True, False]), np.array([1.0, 2.0]), np.array([-1.0, -2.0]))
        array([ 1., -2.])
    """
    if not (_bits_apply(condition, a) and type(b) is np.ndarray and b.dtype == a.dtype
            and b.shape == a.shape):  # fmt: skip
        return where_reference(condition, a, b)
    unsigned = _UNSIGNED[a.dtype.itemsize]
    mask = _mask(condition, unsigned)
    out = np.bitwise_and(a.view(unsigned), mask)
    np.invert(mask, out=mask)
    mask &= b.view(unsigned)
    out |= mask
    return out.view(a.dtype)


def keep_where(condition, a):
    """a where condition holds, else 0: np.where(condition, a, 0) in a's dtype.

    Example:
        >>> keep_where(np.array([True, False]), np.array([np.nan, np.nan], np.float32))
        array([nan,  0.], dtype=float32)
    """
    if not _bits_apply(condition, a):
        return where_reference(condition, a, a.dtype.type(0))
    unsigned = _UNSIGNED[a.dtype.itemsize]
    mask = _mask(condition, unsigned)
    mask &= a.view(unsigned)
    return mask.view(a.dtype)
