"""The compiled LSTM recurrence (ops/kernels/cpu_numba_recurrent.py) equals the reference.

Not bit-identical (its own vectorised exp; tanh through exp): within the
tolerances of tests/ops/test_recurrent_kernels.py, whose inputs and variants
(reverse, variable lengths, initial states, bias) it reuses.
"""

from __future__ import annotations

import numpy as np
import pytest

numba = pytest.importorskip("numba")

import gradwork as gw  # noqa: E402
from gradwork.ops.kernels import (  # noqa: E402
    compiled,
    cpu_numba_recurrent,
    cpu_recurrent,
    reference_recurrent,
)
from tests.ops.test_recurrent_kernels import VARIANTS, _assert_same, _inputs, _run  # noqa: E402

DTYPES = [np.float64, np.float32]


def _compare(inputs, batch_sizes, reverse, dtype, need=(True, True)):
    mine = _run(cpu_numba_recurrent, "lstm", inputs, batch_sizes, reverse, need)
    plain = _run(reference_recurrent, "lstm", inputs, batch_sizes, reverse, need)
    assert mine[0].dtype == dtype
    _assert_same(mine, plain, dtype)
    return mine


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("with_state", [True, False], ids=["state", "zero_state"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_lstm_equals_reference(variant, with_state, with_bias, dtype):
    batch_sizes, reverse = VARIANTS[variant]
    inputs = _inputs(4, 2, with_state, with_bias, batch_sizes, dtype, seed=5)
    _compare(inputs, batch_sizes, reverse, dtype)


def _large_inputs(dtype, batch_sizes=None, seed=1):
    """Batch 64, hidden 128: the suite's step, at compiled.PARALLEL_MIN (where kernels split)."""
    rng = np.random.default_rng(seed)
    steps, batch, hidden = (3 if batch_sizes is None else len(batch_sizes)), 64, 128
    assert batch * 4 * hidden >= compiled.PARALLEL_MIN
    gates_x = (rng.standard_normal((steps, batch, 4 * hidden)) * 2).astype(dtype)
    weight = (rng.standard_normal((4 * hidden, hidden)) * 0.1).astype(dtype)
    bias = rng.standard_normal(4 * hidden).astype(dtype)
    initial = [rng.standard_normal((batch, hidden)).astype(dtype) for _ in range(2)]
    grad = rng.standard_normal((steps + 2, batch, hidden)).astype(dtype)
    return gates_x, weight, bias, initial, grad


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("variant", ["forward", "lengths_reverse"])
def test_large_batch_equals_reference_and_does_not_depend_on_threads(variant, dtype):
    """The compiled steps run on one thread; gradwork's thread count (BLAS's) changes nothing."""
    batch_sizes, reverse = {"forward": (None, False), "lengths_reverse": ([64, 64, 40], True)}[
        variant
    ]
    inputs = _large_inputs(dtype, batch_sizes)
    before = gw.get_num_threads()
    try:
        gw.set_num_threads(1)
        one = _compare(inputs, batch_sizes, reverse, dtype)
        gw.set_num_threads(2)
        two = _compare(inputs, batch_sizes, reverse, dtype)
    finally:
        gw.set_num_threads(before)
    np.testing.assert_array_equal(one[0], two[0])
    for k, (a, b) in enumerate(zip(one[1], two[1], strict=True)):
        if k == 1:  # dW_hh: one GEMM over all steps on every BLAS thread, whose split
            # rounds differently (as in cpu_recurrent); not the compiled loops' doing.
            tolerance = 2e-5 if dtype == np.float32 else 1e-12
            np.testing.assert_allclose(a, b, rtol=tolerance, atol=tolerance)
        else:
            np.testing.assert_array_equal(a, b, err_msg=f"gradient {k}")


def test_weight_and_bias_gradients_only_when_asked():
    inputs = _inputs(4, 2, True, True, None, np.float64)
    _, grads = _compare(inputs, None, False, np.float64, need=(False, False))
    assert grads[1] is None and grads[2] is None
    assert all(g is not None for g in (grads[0], grads[3], grads[4]))


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_saturated_gates_give_finite_values(dtype):
    """Gates far past the range of exp: clamped inside the compiled exp; the limits hold."""
    gates_x, weight, bias, initial, grad = _inputs(4, 2, True, True, None, dtype)
    gates_x = gates_x * dtype(1e4)
    gates_x[0, 0, :3] = [1e30, -1e30, 0]
    out, work = cpu_numba_recurrent.lstm_forward(gates_x, weight, bias, *initial, None, False)
    with np.errstate(over="ignore"):
        plain, _ = reference_recurrent.lstm_forward(gates_x, weight, bias, *initial, None, False)
    grads = cpu_numba_recurrent.lstm_backward(work, weight, grad, None, False)
    assert np.isfinite(out).all() and all(np.isfinite(g).all() for g in grads)
    np.testing.assert_allclose(out, plain, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_nan_and_inf_inputs_propagate_as_in_the_reference(dtype):
    gates_x, weight, bias, initial, grad = _inputs(4, 2, True, True, None, dtype)
    gates_x[1, 2, 0] = np.nan  # row 2's input gate at step 1: NaN from then on
    gates_x[2, 0, 5] = np.inf  # row 0's forget gate saturates to 1: finite
    gates_x[3, 1, 7] = -np.inf  # row 1's g gate saturates to -1: finite
    mine, _ = cpu_numba_recurrent.lstm_forward(gates_x, weight, bias, *initial, None, False)
    with np.errstate(all="ignore"):
        plain, _ = reference_recurrent.lstm_forward(gates_x, weight, bias, *initial, None, False)
    assert np.isnan(plain).any() and not np.isnan(plain[:, :2]).any()
    np.testing.assert_allclose(mine, plain, atol=2e-5 if dtype == np.float32 else 1e-12)


def test_backward_twice_gives_the_same():
    """backward only reads `work` (retain_graph=True)."""
    gates_x, weight, bias, initial, grad = _inputs(4, 2, True, True, [4, 4, 2, 1, 1], np.float64)
    _, work = cpu_numba_recurrent.lstm_forward(gates_x, weight, bias, *initial, [4, 4, 2, 1, 1])
    first = cpu_numba_recurrent.lstm_backward(work, weight, grad, [4, 4, 2, 1, 1])
    second = cpu_numba_recurrent.lstm_backward(work, weight, grad, [4, 4, 2, 1, 1])
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_strided_inputs_are_taken_as_they_come():
    """A gates_x / grad that are views with other strides give the contiguous result."""
    gates_x, weight, bias, initial, grad = _inputs(4, 2, True, True, None, np.float32)
    strided_x = np.asfortranarray(gates_x)
    strided_grad = np.asfortranarray(grad)
    out, work = cpu_numba_recurrent.lstm_forward(strided_x, weight, bias, *initial, None, True)
    grads = cpu_numba_recurrent.lstm_backward(work, weight, strided_grad, None, True)
    want = _run(cpu_numba_recurrent, "lstm", (gates_x, weight, bias, initial, grad), None, True)
    np.testing.assert_array_equal(out, want[0])
    for a, b in zip(grads, want[1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_other_dtypes_run_cpu_recurrent():
    gates_x, weight, bias, initial, grad = _inputs(4, 2, True, True, None, np.float16)
    mine, work = cpu_numba_recurrent.lstm_forward(gates_x, weight, bias, *initial, None, False)
    theirs, their_work = cpu_recurrent.lstm_forward(gates_x, weight, bias, *initial, None, False)
    np.testing.assert_array_equal(mine, theirs)
    mine = cpu_numba_recurrent.lstm_backward(work, weight, grad)
    theirs = cpu_recurrent.lstm_backward(their_work, weight, grad)
    for a, b in zip(mine, theirs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_rnn_and_gru_are_cpu_recurrents():
    for name in ("rnn_forward", "rnn_backward", "gru_forward", "gru_backward"):
        assert getattr(cpu_numba_recurrent, name) is getattr(cpu_recurrent, name)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_the_compiled_exp_is_within_a_few_ulps(dtype):
    exp = cpu_numba_recurrent._exp

    @numba.njit(error_model="numpy")
    def exps(x, out):
        for k in range(x.size):
            out[k] = exp(x[k])

    low, high = (-87, 88) if dtype == np.float32 else (-708, 709)
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.uniform(low, high, 20000), rng.uniform(-2, 2, 20000)]).astype(dtype)
    out = np.empty_like(x)
    exps(x, out)
    np.testing.assert_allclose(out, np.exp(x), rtol=4 * np.finfo(dtype).eps)
    special = np.array([np.nan, np.inf, -np.inf, 0], dtype)
    exps(special, out[:4])
    assert np.isnan(out[0]) and np.isfinite(out[1:3]).all() and out[3] == 1
