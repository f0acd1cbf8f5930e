"""The fast recurrence kernels (cpu_recurrent) equal the plain reference (reference_recurrent).

Every kernel pair runs on the same random inputs: forward and reverse, every
row running or variable lengths (`batch_sizes`, longest first), with and
without an initial state and a recurrent bias. Forward outputs and every
gradient must agree; float64 to 1e-12, float32 to float32 rounding.
"""

import numpy as np
import pytest

from gradwork.ops import kernels
from gradwork.ops.kernels import cpu_recurrent, reference_recurrent
from tests.helpers import to_numpy

STEPS, BATCH, HIDDEN = 5, 4, 3

# name: (kernel prefix, gates per hidden unit, initial states, extra leading options)
CELLS = {
    "rnn_tanh": ("rnn", 1, 1, ("tanh",)),
    "rnn_relu": ("rnn", 1, 1, ("relu",)),
    "lstm": ("lstm", 4, 2, ()),
    "gru": ("gru", 3, 1, ()),
}
VARIANTS = {
    "forward": (None, False),
    "reverse": (None, True),
    "lengths": ([4, 4, 2, 1, 1], False),
    "lengths_reverse": ([4, 3, 3, 1, 1], True),
}


def _inputs(gates, states, with_state, with_bias, batch_sizes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    steps = STEPS if batch_sizes is None else len(batch_sizes)
    batch = BATCH if batch_sizes is None else batch_sizes[0]
    gates_x = rng.standard_normal((steps, batch, gates * HIDDEN)).astype(dtype)
    if batch_sizes is not None:  # the caller's padding, which no kernel may compute with
        for t, running in enumerate(batch_sizes):
            gates_x[t, running:] = 1e30
    weight = (rng.standard_normal((gates * HIDDEN, HIDDEN)) * 0.7).astype(dtype)
    bias = rng.standard_normal(gates * HIDDEN).astype(dtype) if with_bias else None
    initial = [
        rng.standard_normal((batch, HIDDEN)).astype(dtype) if with_state else None
        for _ in range(states)
    ]
    grad = rng.standard_normal((steps + states, batch, HIDDEN)).astype(dtype)
    return gates_x, weight, bias, initial, grad


def _run(module, name, inputs, batch_sizes, reverse, need=(True, True)):
    prefix, _, _, extra = CELLS[name]
    gates_x, weight, bias, initial, grad = inputs
    forward = getattr(module, prefix + "_forward")
    backward = getattr(module, prefix + "_backward")
    with np.errstate(over="raise", invalid="raise"):
        out, work = forward(gates_x.copy(), weight, bias, *initial, *extra, batch_sizes, reverse)
        grads = backward(work, weight, grad.copy(), *extra, batch_sizes, reverse, *need)
    return out, grads


def _assert_same(fast, plain, dtype):
    tolerance = {"rtol": 1e-12, "atol": 1e-12} if dtype == np.float64 else {"atol": 2e-5}
    out_fast, grads_fast = fast
    out_plain, grads_plain = plain
    np.testing.assert_allclose(
        to_numpy(out_fast), to_numpy(out_plain), **tolerance, err_msg="forward"
    )
    assert len(grads_fast) == len(grads_plain)
    for k, (mine, reference) in enumerate(zip(grads_fast, grads_plain, strict=True)):
        assert (mine is None) == (reference is None), f"gradient {k}"
        if mine is not None:
            assert mine.dtype == reference.dtype == dtype, f"gradient {k}"
            np.testing.assert_allclose(
                to_numpy(mine), to_numpy(reference), **tolerance, err_msg=f"gradient {k}"
            )


@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("with_state", [True, False], ids=["state", "zero_state"])
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", CELLS)
def test_fast_kernels_equal_reference(name, variant, with_state, with_bias):
    batch_sizes, reverse = VARIANTS[variant]
    _, gates, states, _ = CELLS[name]
    inputs = _inputs(gates, states, with_state, with_bias, batch_sizes, np.float64)
    fast = _run(cpu_recurrent, name, inputs, batch_sizes, reverse)
    plain = _run(reference_recurrent, name, inputs, batch_sizes, reverse)
    _assert_same(fast, plain, np.float64)


@pytest.mark.parametrize("variant", ["forward", "lengths_reverse"])
@pytest.mark.parametrize("name", CELLS)
def test_float32_matches_and_stays_float32(name, variant):
    batch_sizes, reverse = VARIANTS[variant]
    _, gates, states, _ = CELLS[name]
    inputs = _inputs(gates, states, True, True, batch_sizes, np.float32, seed=3)
    fast = _run(cpu_recurrent, name, inputs, batch_sizes, reverse)
    plain = _run(reference_recurrent, name, inputs, batch_sizes, reverse)
    assert fast[0].dtype == np.float32
    _assert_same(fast, plain, np.float32)


@pytest.mark.parametrize("name", CELLS)
def test_weight_and_bias_gradients_only_when_asked(name):
    _, gates, states, _ = CELLS[name]
    inputs = _inputs(gates, states, True, True, None, np.float64)
    for module in (cpu_recurrent, reference_recurrent):
        _, grads = _run(module, name, inputs, None, False, need=(False, False))
        assert grads[1] is None and grads[2] is None, module.__name__
        assert grads[0] is not None and grads[3] is not None, module.__name__


def test_lstm_saturated_gates_give_finite_values():
    """Gates far past +-80: exp overflows inside the fast sigmoid; the limits are exact."""
    inputs = list(_inputs(4, 2, True, True, None, np.float32))
    inputs[0] = inputs[0] * 1e4
    fast_out, _ = cpu_recurrent.lstm_forward(inputs[0], *inputs[1:3], *inputs[3], None,
                                                      False)  # fmt: skip
    plain_out, _ = reference_recurrent.lstm_forward(inputs[0], *inputs[1:3], *inputs[3], None,
                                                    False)  # fmt: skip
    assert np.isfinite(fast_out).all()
    np.testing.assert_allclose(to_numpy(fast_out), to_numpy(plain_out), atol=1e-6)


def test_the_kernels_layer_dispatches_to_the_selected_module():
    """kernels.lstm_forward runs the fast kernel by default and the reference on request."""
    inputs = _inputs(4, 2, False, True, None, np.float32)
    gates_x, weight, bias, _, _ = inputs
    calls = []

    def spy(module):
        original = module.lstm_forward

        def wrapped(*args):
            calls.append(module.__name__.rsplit(".", 1)[1])
            return original(*args)

        return wrapped

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cpu_recurrent, "lstm_forward", spy(cpu_recurrent))
        patch.setattr(reference_recurrent, "lstm_forward", spy(reference_recurrent))
        with kernels.using("cpu"):
            kernels.lstm_forward(gates_x, weight, bias, None, None, None, False)
        with kernels.using("reference"):
            kernels.lstm_forward(gates_x, weight, bias, None, None, None, False)
    assert calls == ["cpu_recurrent", "reference_recurrent"]


@pytest.mark.parametrize("name", CELLS)
def test_backward_twice_gives_the_same(name):
    """backward only reads `work`: a second backward (retain_graph=True) repeats the first."""
    prefix, gates, states, extra = CELLS[name]
    inputs = _inputs(gates, states, True, True, [4, 4, 2, 1, 1], np.float64)
    gates_x, weight, bias, initial, grad = inputs
    for module in (cpu_recurrent, reference_recurrent):
        _, work = getattr(module, prefix + "_forward")(
            gates_x, weight, bias, *initial, *extra, [4, 4, 2, 1, 1], False
        )
        backward = getattr(module, prefix + "_backward")
        first = backward(work, weight, grad, *extra, [4, 4, 2, 1, 1], False, True, True)
        second = backward(work, weight, grad, *extra, [4, 4, 2, 1, 1], False, True, True)
        for k, (a, b) in enumerate(zip(first, second, strict=True)):
            np.testing.assert_array_equal(
                to_numpy(a), to_numpy(b), err_msg=f"{module.__name__} gradient {k}"
            )


@pytest.mark.parametrize("variant", ["forward", "lengths_reverse"])
@pytest.mark.parametrize("name", CELLS)
def test_device_arrays_run_the_reference_on_the_device(name, variant):
    """On the CPU stand-in for CUDA (arrays that refuse silent conversion to NumPy), the
    dispatcher runs the xp-generic reference; results stay on the device, equal the CPU's."""
    from gradwork import _standin
    from tests.device.fixtures import standin_device

    prefix, gates, states, extra = CELLS[name]
    batch_sizes, reverse = VARIANTS[variant]
    inputs = _inputs(gates, states, True, True, batch_sizes, np.float64)
    gates_x, weight, bias, initial, grad = inputs
    want_out, want_grads = _run(cpu_recurrent, name, inputs, batch_sizes, reverse)
    with standin_device():
        device = [_standin.asarray(a) for a in (gates_x, weight, bias, *initial, grad)]
        d_gates_x, d_weight, d_bias, *d_initial, d_grad = device
        forward = getattr(kernels, prefix + "_forward")
        backward = getattr(kernels, prefix + "_backward")
        out, work = forward(d_gates_x, d_weight, d_bias, *d_initial, *extra, batch_sizes, reverse)
        grads = backward(work, d_weight, d_grad, *extra, batch_sizes, reverse, True, True)
        assert all(isinstance(g, _standin.ndarray) for g in (out, *grads))
        got_out, got_grads = out.get(), [g.get() for g in grads]
    np.testing.assert_allclose(to_numpy(got_out), to_numpy(want_out), rtol=1e-12, atol=1e-12)
    for mine, reference in zip(got_grads, want_grads, strict=True):
        np.testing.assert_allclose(to_numpy(mine), to_numpy(reference), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", CELLS)
def test_an_empty_sequence_is_refused_with_a_clear_message(name):
    import gradwork as gw
    from gradwork import ops

    op = {"rnn": ops.RNNSequence, "lstm": ops.LSTMSequence, "gru": ops.GRUSequence}
    prefix, gates, states, extra = CELLS[name]
    gates_x = gw.zeros(0, 2, gates * HIDDEN)
    initial = [gw.zeros(2, HIDDEN) for _ in range(states)]
    with pytest.raises(ValueError, match="at least one step, got 0"):
        op[prefix].apply(gates_x, gw.zeros(gates * HIDDEN, HIDDEN), None, *initial, *extra)
