"""Fast paths added by the everyday-model survey (benchmarks/survey.py), each
against the plain reference it must equal."""

from __future__ import annotations

import numpy as np
import pytest

from gradwork.ops._scatter import add_rows_at, add_rows_at_reference
from tests.helpers import to_numpy


@pytest.mark.parametrize("rows, width, count, dtype", [
    (5, 3, 40, np.float32),      # many repeats
    (20000, 64, 3200, np.float32),
    (7, 1, 9, np.float64),
    (4, 5, 0, np.float32),       # no rows looked up
])  # fmt: skip
def test_add_rows_at_equals_np_add_at(rows, width, count, dtype):
    rng = np.random.default_rng(rows + count)
    indices = rng.integers(0, rows, count).astype(np.int32)  # int32: the widening matters
    values = rng.standard_normal((count, width)).astype(dtype)
    fast = np.zeros((rows, width), dtype)
    plain = np.zeros((rows, width), dtype)
    add_rows_at(fast, indices, values)
    add_rows_at_reference(plain, indices, values)
    np.testing.assert_array_equal(fast, plain)  # same additions, same order: bit-identical
    if count:
        assert np.abs(plain).sum() > 0


def test_add_rows_at_in_blocks_of_rows_is_still_bit_identical(monkeypatch):
    from gradwork.ops import _scatter

    monkeypatch.setattr(_scatter, "CHUNK", 7)  # blocks of 2 rows of width 3, and a remainder
    rng = np.random.default_rng(5)
    indices, values = rng.integers(0, 4, 25), rng.standard_normal((25, 3)).astype(np.float32)
    fast, plain = np.zeros((4, 3), np.float32), np.zeros((4, 3), np.float32)
    add_rows_at(fast, indices, values)
    add_rows_at_reference(plain, indices, values)
    np.testing.assert_array_equal(fast, plain)


def test_add_rows_at_accumulates_repeats_on_a_view():
    # a non-contiguous table (every other column) takes the definition and is still right
    table = np.zeros((3, 4), np.float32)
    add_rows_at(table[:, ::2], np.array([1, 1, 0]), np.ones((3, 2), np.float32))
    assert table.tolist() == [[1, 0, 1, 0], [2, 0, 2, 0], [0, 0, 0, 0]]


def test_erf_float32_within_two_ulp_of_the_float64_series():
    from gradwork.ops.special import erf, erf_float32

    x = np.concatenate([np.linspace(-6, 6, 200001), [0.0, 1e-30, -1e-10, 3.999, 4.001]])
    x = x.astype(np.float32)
    exact = erf(x.astype(np.float64))  # the series and continued fraction: a few float64 ulp
    fast = erf_float32(x)
    assert fast.dtype == np.float32
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    assert np.max(np.abs(fast - exact) / ulp) <= 2.0
    tiny = x[np.abs(x) < 1e-3]  # relative accuracy near 0, where erf(x) ~ 2x/sqrt(pi)
    np.testing.assert_allclose(erf_float32(tiny), erf(tiny.astype(np.float64)), rtol=3e-7)


def test_erf_float32_edges():
    from gradwork.ops.special import erf

    out = erf(np.array([np.nan, np.inf, -np.inf, 0.0], np.float32))
    assert out.dtype == np.float32
    assert np.isnan(out[0]) and out[1:].tolist() == [1.0, -1.0, 0.0]


def test_gelu_matches_torch_in_float32():
    torch = pytest.importorskip("torch")
    import gradwork as gw

    x = np.random.default_rng(0).standard_normal(4096).astype(np.float32) * 3
    ours = to_numpy(gw.nn.functional.gelu(gw.from_numpy(x)))
    theirs = torch.nn.functional.gelu(torch.from_numpy(x)).numpy()
    # NOTE: 1 + erf cancels for x << 0 in both frameworks: an absolute bound of ~1 ulp of x
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)


def _special_values(dtype, shape, seed):
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(shape).astype(dtype)
    flat = values.reshape(-1)
    flat[:5] = [np.nan, -0.0, np.inf, -np.inf, 0.0]
    return values


def _bytes(array):
    return np.ascontiguousarray(array).view(np.uint8).tobytes()


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_where_and_keep_where_equal_np_where_bit_for_bit(dtype):
    from gradwork.ops._select import keep_where, where

    shape = (37, 29)
    a, b = _special_values(dtype, shape, 1), _special_values(dtype, shape, 2)[::-1]  # a view
    condition = np.random.default_rng(3).random(shape) < 0.5
    for got, expected in (
        (where(condition, a, b), np.where(condition, a, b)),
        (where(condition.T, a.T, b.T), np.where(condition.T, a.T, b.T)),  # strided views
        (keep_where(condition, a), np.where(condition, a, dtype(0))),
    ):
        assert got.dtype == expected.dtype and got.shape == expected.shape
        # bit for bit: NaN payloads and the sign of zero included
        assert _bytes(got) == _bytes(expected)


def test_where_falls_back_to_np_where_when_it_must_broadcast_or_promote():
    from gradwork.ops._select import keep_where, where

    condition = np.array([True, False, True])
    row = np.arange(3.0, dtype=np.float32)
    assert where(condition, row, np.float32(7)).tolist() == [0.0, 7.0, 2.0]  # a scalar
    assert where(condition[:, None], row, -row).shape == (3, 3)  # broadcasting
    assert where(condition, row, row.astype(np.float64)).dtype == np.float64  # promotion
    assert keep_where(np.array([1, 0, 2]), row).tolist() == [0.0, 0.0, 2.0]  # not bool


def test_where_op_gradients_match_torch_with_non_finite_gradients():
    torch = pytest.importorskip("torch")
    import gradwork as gw

    x = np.array([-2.0, -0.5, 0.0, 0.5, 3.0], np.float32)
    ours = gw.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    for lib, t in ((gw, ours), (torch, theirs)):
        lib.nn.functional.leaky_relu(t, 0.1).backward(lib.tensor([1.0, np.inf, 2.0, 3.0, 4.0]))
        assert lib.sigmoid(t).dtype == t.dtype
    np.testing.assert_array_equal(to_numpy(ours.grad), theirs.grad.numpy())


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_sigmoid_equals_its_two_branch_definition(dtype):
    import gradwork as gw

    x = (_special_values(dtype, (3000,), 4) * 20).astype(dtype)
    e = np.exp(-np.abs(x))
    definition = np.where(x >= 0, 1 / (1 + e), e / (1 + e))  # stable on both sides
    got = to_numpy(gw.sigmoid(gw.tensor(x)))
    assert got.dtype == definition.dtype
    np.testing.assert_array_equal(got, definition)  # NaN where NaN, exact elsewhere
