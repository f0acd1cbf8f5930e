"""`gemm_into`, `gemm_series`: C += A @ B on strided views, by the OpenBLAS bundled with NumPy.

NumPy's matmul always writes a fresh (or overwritten) output and needs each
operand's rows to be its own: it cannot add into C (BLAS's beta = 1) or
read a matrix whose rows are a window of longer rows (a leading dimension
larger than the width). The zero-copy convolution (`cpu_conv_shifted.py`)
needs both: the input seen by kernel position (i, j) is a column offset
into the flattened padded input, so each product reads a window of rows
and adds into one accumulator. `cblas_sgemm`/`cblas_dgemm` do exactly that.

NumPy 2.x bundles `scipy-openblas` with prefixed, ILP64 names
(`scipy_cblas_sgemm64_`: 64-bit integers); older wheels used `cblas_sgemm64_`
(also ILP64) or plain `cblas_sgemm` (32-bit). The integer width follows the
name's `64_` suffix, and the first use checks a small product against
NumPy's before trusting it: when no symbol is found or the check fails,
`available()` is False and callers keep their NumPy path.

Example:
    >>> import numpy as np
    >>> a, b = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
    >>> c = np.ones((2, 4), np.float32)
    >>> if available():
    ...     gemm_into(a, b, c)
    ... else:
    ...     c += a @ b
    >>> c[0, 0]
    np.float32(4.0)
"""

from __future__ import annotations

import ctypes
import glob
import os

import numpy as np

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112
_NAMES = (  # (single, double, 64-bit integers)
    ("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_", True),
    ("cblas_sgemm64_", "cblas_dgemm64_", True),
    ("scipy_cblas_sgemm", "scipy_cblas_dgemm", False),
    ("cblas_sgemm", "cblas_dgemm", False),
)
_gemms: dict | None = None  # dtype -> ctypes function; {} when unusable
_largest = 2**31 - 1  # the largest size or leading dimension the found library takes


def _load() -> tuple[dict, int]:
    """(dtype -> sgemm/dgemm of NumPy's bundled OpenBLAS, largest integer), or ({}, 0)."""
    site = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for path in sorted(glob.glob(os.path.join(site, "*openblas*"))):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for single, double, ilp64 in _NAMES:
            if hasattr(library, single) and hasattr(library, double):
                integer = ctypes.c_int64 if ilp64 else ctypes.c_int
                found = {}
                for dtype, name, scalar in ((np.float32, single, ctypes.c_float),
                                            (np.float64, double, ctypes.c_double)):  # fmt: skip
                    function = getattr(library, name)
                    function.restype = None
                    function.argtypes = (
                        [ctypes.c_int] * 3 + [integer] * 3
                        + [scalar, ctypes.c_void_p, integer, ctypes.c_void_p, integer]
                        + [scalar, ctypes.c_void_p, integer]
                    )  # fmt: skip
                    found[np.dtype(dtype)] = function
                return found, 2**63 - 1 if ilp64 else 2**31 - 1
    return {}, 0


def _leading(view) -> tuple[int, bool] | None:
    """(leading dimension, transposed) of a 2-D view BLAS can read as is, else None."""
    item = view.itemsize
    rows, cols = view.shape
    s0, s1 = view.strides
    if (s1 == item or cols == 1) and s0 % item == 0 and s0 // item >= max(cols, 1):
        return s0 // item, False
    if (s0 == item or rows == 1) and s1 % item == 0 and s1 // item >= max(rows, 1):
        return s1 // item, True
    return None


def _raw_gemm(a, b, c, beta, la, lb, lc) -> None:
    """cblas ?gemm on views with their `_leading` (leading dimension, transposed) pairs."""
    m, k = a.shape
    n = b.shape[1]
    _gemms[c.dtype](ROW_MAJOR, TRANS if la[1] else NO_TRANS, TRANS if lb[1] else NO_TRANS,
                    m, n, k, 1.0, a.ctypes.data, la[0], b.ctypes.data, lb[0],
                    beta, c.ctypes.data, lc[0])  # fmt: skip


def _self_check() -> bool:
    """A product with windows of longer rows, a transpose and beta = 1, against NumPy."""
    rng = np.random.default_rng(0)
    for dtype in _gemms:
        wide = rng.standard_normal((5, 11)).astype(dtype)
        a, b = rng.standard_normal((4, 5)).astype(dtype), wide[:, 2:9]
        a_t = np.ascontiguousarray(a[:, :3].T).T  # a transposed layout
        c = np.ones((3, 4, 10), dtype)[1, :, 1:8]  # a window of longer rows too
        gemm_into(a, b, c)
        gemm_into(a_t, wide[:3, 1:8], c)
        want = 1 + a @ b + a[:, :3] @ wide[:3, 1:8]
        if not np.allclose(c, want, rtol=1e-4, atol=1e-4):
            return False
    return True


def available() -> bool:
    """True when the bundled BLAS was found and passed its check (found on first call)."""
    global _gemms, _largest
    if _gemms is None:
        try:
            _gemms, _largest = _load()
            _gemms = _gemms if _gemms and _self_check() else {}
        except (OSError, AttributeError, TypeError, ValueError, OverflowError):
            _gemms = {}
    return bool(_gemms)


def gemm_into(a, b, c, beta: float = 1.0) -> None:
    """c = beta * c + a @ b in place; a, b, c 2-D views of one float dtype, rows strided.

    Each operand may be a window of longer rows (a leading dimension) or the
    transpose of one. Call only when `available()`.
    """
    if not _gemms and not available():
        raise RuntimeError("gemm_into: no usable cblas in NumPy's bundled OpenBLAS")
    if not (a.dtype == b.dtype == c.dtype) or c.dtype not in _gemms:
        raise TypeError(f"gemm_into: float32/float64 operands of one dtype, got "
                        f"{a.dtype}, {b.dtype}, {c.dtype}")  # fmt: skip
    if a.shape[1] != b.shape[0] or c.shape != (a.shape[0], b.shape[1]):
        raise ValueError(f"gemm_into: shapes {a.shape} @ {b.shape} -> {c.shape} do not match")
    la, lb, lc = _leading(a), _leading(b), _leading(c)
    if la is None or lb is None or lc is None or lc[1]:
        raise ValueError("gemm_into: each operand needs unit stride along one axis "
                         "(and c along its rows)")  # fmt: skip
    if max(*a.shape, b.shape[1], la[0], lb[0], lc[0]) > _largest:
        raise OverflowError(f"gemm_into: a size or row stride over {_largest}, this BLAS's limit")
    if c.size:
        _raw_gemm(a, b, c, beta, la, lb, lc)


def gemm_series(a, b, c, steps, first_beta: float = 0.0, then_beta: float = 1.0) -> None:
    """For each (sa, sb, sc) in steps: c' = beta * c' + a' @ b', where x' is the view x moved
    sx elements along its array; beta is `first_beta` for the first product, then
    `then_beta`.

    The products of a convolution over kernel positions differ only in where
    their windows start: this checks the three views once and then moves
    pointers (measured on 1x1 matrices, 1 thread: 10 us a product in a series
    of nine, against 17-21 us for `gemm_into`, whose checks and pointer
    look-ups run every call). Every moved view must lie inside its array:
    checked against each view's base buffer.
    """
    if not steps:
        return
    gemm_into(a[:0], b, c[:0])  # the checks of dtype, shapes and strides, on no rows
    if a.shape[0] > _largest:
        raise OverflowError(f"gemm_series: {a.shape[0]} rows, over this BLAS's {_largest}")
    if not c.size:
        return
    la, lb, lc = _leading(a), _leading(b), _leading(c)
    function, item = _gemms[c.dtype], c.itemsize
    m, k = a.shape
    n = b.shape[1]
    ta, tb = (TRANS if la[1] else NO_TRANS), (TRANS if lb[1] else NO_TRANS)
    pointers = []
    for view, shifts in zip((a, b, c), zip(*steps, strict=True), strict=True):
        low, high = _bounds(view)
        if low == high:  # nothing read (k = 0): any pointer will do
            pointers.append(view.ctypes.data)
            continue
        owner = view.base if isinstance(view.base, np.ndarray) else view
        start, end = _bounds(owner)
        if min(shifts) * item + low < start or max(shifts) * item + high > end:
            raise ValueError("gemm_series: a moved view leaves its array")
        pointers.append(view.ctypes.data)
    pa, pb, pc = pointers
    for index, (sa, sb, sc) in enumerate(steps):
        function(ROW_MAJOR, ta, tb, m, n, k, 1.0, pa + sa * item, la[0], pb + sb * item, lb[0],
                 first_beta if index == 0 else then_beta, pc + sc * item, lc[0])  # fmt: skip


def _bounds(view) -> tuple[int, int]:
    """The first and one-past-last byte address a view touches."""
    low = high = view.ctypes.data
    for size, stride in zip(view.shape, view.strides, strict=True):
        if size == 0:
            return low, low
        if stride < 0:
            low += (size - 1) * stride
        else:
            high += (size - 1) * stride
    return low, high + view.itemsize
