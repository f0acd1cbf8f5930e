"""Batch norm's compiled kernels (ops/kernels/cpu_numba_norm.py) against the reference.

The per-channel sums are accumulated in float64, in another order than
NumPy's: the statistics and sums equal the reference's within a float32
(or float64) rounding tolerance; given them, the elementwise formulas are
the reference's exactly. Results do not depend on the thread count.
"""

from __future__ import annotations

import numpy as np
import pytest

numba = pytest.importorskip("numba")

import gradwork as gw  # noqa: E402
from gradwork.ops.kernels import compiled, cpu, cpu_numba_norm, reference  # noqa: E402

SHAPES = [
    (16, 3),  # BatchNorm1d on features: L = 1, per-column rows
    (4, 6, 9),  # (N, C, L), L below cpu_numba_norm.SHORT
    (3, 4, 20),  # L above it: per-channel scalars
    (8, 5, 6, 7),
    (5, 3, 2, 2),
    (64, 16, 7, 7),  # threaded when 2 threads: PARALLEL_MIN elements or more
    (256, 130),  # threaded, 2-D
]
assert any(np.prod(s) >= compiled.PARALLEL_MIN for s in SHAPES)


def _tolerance(dtype):
    return 1e-11 if dtype == np.float64 else 1e-5


def _inputs(shape, dtype, affine, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    weight = rng.standard_normal(shape[1]).astype(dtype) if affine else None
    bias = rng.standard_normal(shape[1]).astype(dtype) if affine else None
    grad = rng.standard_normal(shape).astype(dtype)
    return x, weight, bias, grad


def _close(got, want, dtype, count=1):
    """Within the dtype's tolerance; sums over `count` values get an absolute one that grows."""
    tolerance = _tolerance(dtype)
    np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance * count**0.5)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_kernels_equal_the_reference(shape, dtype, affine):
    x, weight, bias, grad = _inputs(shape, dtype, affine)
    count = x.size // shape[1]
    got = cpu_numba_norm.batch_norm_forward(x, weight, bias, 1e-5)
    want = reference.batch_norm_forward(x, weight, bias, 1e-5)
    for a, b in zip(got, want, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        _close(a, b, dtype)
    xhat, invstd = want[1], want[2]
    for need_x in (True, False):
        have = cpu_numba_norm.batch_norm_backward(grad, xhat, invstd, weight, need_x)
        expected = reference.batch_norm_backward(grad, xhat, invstd, weight, need_x)
        assert (have[0] is None) == (not need_x)
        if need_x:
            assert have[0].dtype == dtype
            _close(have[0], expected[0], dtype)
        for a, b in zip(have[1:], expected[1:], strict=True):
            assert a.dtype == b.dtype and a.shape == b.shape == (shape[1],)
            _close(a, b, dtype, count)


@pytest.mark.parametrize("shape", [(8, 5, 6, 7), (16, 3), (4, 6, 9)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_given_the_statistics_the_formulas_are_the_references_exactly(shape, dtype):
    """The same IEEE operations in the same order on the dtype: bit-identical."""
    x, weight, bias, grad = _inputs(shape, dtype, affine=True, seed=1)
    out, xhat, invstd, mean, var = cpu_numba_norm.batch_norm_forward(x, weight, bias, 1e-5)
    c = (1, shape[1]) + (1,) * (len(shape) - 2)
    assert np.array_equal(invstd, 1 / np.sqrt(var + 1e-5))
    assert np.array_equal(xhat, (x - mean) * invstd)
    assert np.array_equal(out, xhat * weight.reshape(c) + bias.reshape(c))
    grad_x, sum_grad_xhat, sum_grad = cpu_numba_norm.batch_norm_backward(
        grad, xhat, invstd, weight, True
    )
    count = x.size // shape[1]
    mean_grad, mean_product = sum_grad.reshape(c) / count, sum_grad_xhat.reshape(c) / count
    expected = invstd * weight.reshape(c) * (grad - mean_grad - xhat * mean_product)
    assert np.array_equal(grad_x, expected)


def test_float32_statistics_are_accumulated_in_float64():
    """Closer to the exact statistics than NumPy's float32 sums (what the reference gets)."""
    x, weight, bias, grad = _inputs((64, 4, 14, 14), np.float32, affine=False, seed=2)
    x += 100  # a large mean: float32 sums lose digits
    exact = reference.batch_norm_forward(x.astype(np.float64), None, None, 1e-5)
    ours = cpu_numba_norm.batch_norm_forward(x, None, None, 1e-5)
    for index in (3, 4):  # mean, var
        np.testing.assert_allclose(ours[index], exact[index], rtol=1e-6)
    sums = cpu_numba_norm.batch_norm_backward(grad, exact[1].astype(np.float32),
                                              exact[2].astype(np.float32), None, False)  # fmt: skip
    exact_sums = reference.batch_norm_backward(grad.astype(np.float64), exact[1], exact[2], None,
                                               False)  # fmt: skip
    for got, want in zip(sums[1:], exact_sums[1:], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6 * np.abs(want).max())


@pytest.mark.parametrize("shape", [(6, 3, 5, 5), (40, 3), (64, 3, 13, 13)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_a_nan_or_inf_stays_in_its_channel(shape, dtype):
    x, weight, bias, grad = _inputs(shape, dtype, affine=True, seed=3)
    x[(1, 1) + (2,) * (len(shape) - 2)] = np.nan
    x[(0, 2) + (0,) * (len(shape) - 2)] = np.inf
    got = cpu_numba_norm.batch_norm_forward(x, weight, bias, 1e-5)
    want = reference.batch_norm_forward(x, weight, bias, 1e-5)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        assert not np.isfinite(a[:, 1:]).any() and np.isfinite(a[:, 0]).all()  # (mean: inf)
        _close(a, b, dtype)
    grad[(2, 0) + (1,) * (len(shape) - 2)] = np.nan
    xhat, invstd = want[1].copy(), want[2].copy()
    xhat[:, 1:], invstd[:, 1:] = 0.5, 2.0  # finite there: only channel 0's NaN gradient spreads
    have = cpu_numba_norm.batch_norm_backward(grad, xhat, invstd, weight, True)
    expected = reference.batch_norm_backward(grad, xhat, invstd, weight, True)
    for a, b in zip(have, expected, strict=True):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        assert np.isnan(a[:, 0] if a.ndim > 1 else a[0]).all()
        assert np.isfinite(a[:, 1:] if a.ndim > 1 else a[1:]).all()


def _forward_backward(x, weight, bias, grad):
    forward = cpu_numba_norm.batch_norm_forward(x, weight, bias, 1e-5)
    backward = cpu_numba_norm.batch_norm_backward(grad, forward[1], forward[2], weight, True)
    return forward + backward


@pytest.mark.parametrize("shape", [(64, 5, 11, 11), (512, 67), (32, 7, 150)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_and_two_threads_give_the_same_bits(shape, dtype):
    """gradwork's 1 or 2 threads, and the channel loop itself split over 2 of Numba's threads
    (compiled.py runs it on one: this checks the split would not change a bit)."""
    assert np.prod(shape) >= compiled.PARALLEL_MIN
    x, weight, bias, grad = _inputs(shape, dtype, affine=True, seed=4)
    before, numba_before = gw.get_num_threads(), None
    try:
        # first as compiled.py runs it (which sets numba's count for this thread: restored after)
        gw.set_num_threads(1)
        results = [_forward_backward(x, weight, bias, grad)]
        numba_before = numba.get_num_threads()
        for threads, numba_threads in ((2, 1), (2, min(2, numba.config.NUMBA_NUM_THREADS))):
            gw.set_num_threads(threads)
            numba.set_num_threads(numba_threads)
            results.append(_forward_backward(x, weight, bias, grad))
    finally:
        gw.set_num_threads(before)
        if numba_before is not None:
            numba.set_num_threads(numba_before)
    for first, *others in zip(*results, strict=True):
        assert all(np.array_equal(first, other) for other in others)


@pytest.mark.parametrize("shape", [(6, 7, 5, 5), (40, 9), (4, 5, 30)])
def test_the_results_do_not_depend_on_the_channel_blocks(shape, monkeypatch):
    x, weight, bias, grad = _inputs(shape, np.float32, affine=True, seed=6)
    whole = _forward_backward(x, weight, bias, grad)
    length = x.size // (shape[0] * shape[1])
    for per_block in (1, 2, 4):
        monkeypatch.setattr(cpu_numba_norm, "_layout", lambda *_, p=per_block: (p, length))
        for a, b in zip(_forward_backward(x, weight, bias, grad), whole, strict=True):
            assert np.array_equal(a, b)


def test_other_layouts_and_dtypes_run_the_numpy_kernels():
    x, weight, bias, grad = _inputs((6, 4, 5, 5), np.float32, affine=True, seed=5)
    strided = x.transpose(0, 1, 3, 2)  # not C-contiguous
    cases = [
        (strided, weight, bias),
        (x, weight.astype(np.float64), bias),  # an affine of another dtype
        (x.astype(np.float16), None, None),
    ]
    for inputs in cases:
        got = cpu_numba_norm.batch_norm_forward(*inputs, 1e-5)
        want = cpu.batch_norm_forward(*inputs, 1e-5)
        for a, b in zip(got, want, strict=True):
            assert a.dtype == b.dtype and np.array_equal(a, b)
    xhat, invstd = cpu.batch_norm_forward(x, weight, bias, 1e-5)[1:3]
    have = cpu_numba_norm.batch_norm_backward(grad[:, :, ::-1], xhat, invstd, weight, True)
    expected = cpu.batch_norm_backward(grad[:, :, ::-1], xhat, invstd, weight, True)
    for a, b in zip(have, expected, strict=True):
        assert np.array_equal(a, b)
