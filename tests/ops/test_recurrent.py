"""The fused recurrent primitives: gradcheck (always) and an unrolled torch oracle.

Each entry runs one op on a small batch (seq 4, batch 3, hidden 3) in both
directions, with and without variable lengths (`batch_sizes`), and compares the
packed output (outputs, h_n[, c_n]) and every input gradient with the same
recurrence unrolled step by step in torch.
"""

import inspect

import numpy as np
import pytest

import gradwork as gw
from gradwork import ops
from gradwork.diagnose import gradcheck
from gradwork.ops import recurrent
from gradwork.ops.kernels import threads as blas
from tests.helpers import assert_parity, randn64, to_numpy

STEPS, BATCH, HIDDEN = 4, 3, 3


def torch_rnn_step(torch, x, h, c, weight, bias, nonlinearity="tanh"):
    pre = x + h @ weight.T + bias
    return (torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)), None


def torch_lstm_step(torch, x, h, c, weight, bias):
    i, f, g, o = (x + h @ weight.T + bias).chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def torch_gru_step(torch, x, h, c, weight, bias):
    a_r, a_z, a_n = x.chunk(3, dim=1)
    b_r, b_z, b_n = (h @ weight.T + bias).chunk(3, dim=1)
    r, z = torch.sigmoid(a_r + b_r), torch.sigmoid(a_z + b_z)
    n = torch.tanh(a_n + r * b_n)
    return (1 - z) * n + z * h, None


def torch_sequence(
    torch, step, gates_x, weight, bias, h0, c0=None, batch_sizes=None, reverse=False
):
    """The recurrence unrolled in torch, rows past batch_sizes[t] frozen and output 0."""
    steps = gates_x.shape[0]
    h, c = h0, c0
    outputs = [None] * steps
    for t in reversed(range(steps)) if reverse else range(steps):
        n = gates_x.shape[1] if batch_sizes is None else batch_sizes[t]
        new_h, new_c = step(
            torch, gates_x[t, :n], h[:n], None if c is None else c[:n], weight, bias
        )
        outputs[t] = torch.cat([new_h, torch.zeros_like(h[n:])])
        h = torch.cat([new_h, h[n:]])
        c = None if c is None else torch.cat([new_c, c[n:]])
    finals = [h] if c is None else [h, c]
    return torch.cat([torch.stack(outputs), torch.stack(finals)])


# name: (op, gates per hidden unit, has a cell state, torch step, extra options)
TABLE = {
    "rnn_tanh": (ops.RNNSequence, 1, False, torch_rnn_step, {"nonlinearity": "tanh"}),
    "rnn_relu": (ops.RNNSequence, 1, False, torch_rnn_step, {"nonlinearity": "relu"}),
    "lstm": (ops.LSTMSequence, 4, True, torch_lstm_step, {}),
    "gru": (ops.GRUSequence, 3, False, torch_gru_step, {}),
}
VARIANTS = {
    "forward": {},
    "reverse": {"reverse": True},
    "lengths": {"batch_sizes": [3, 2, 2, 1]},
    "lengths_reverse": {"batch_sizes": [3, 3, 1, 1], "reverse": True},
}


def make_inputs(gates, has_cell, bias=True):
    inputs = [randn64(STEPS, BATCH, gates * HIDDEN), randn64(gates * HIDDEN, HIDDEN) * 0.5]
    inputs[1] = gw.tensor(inputs[1].data, requires_grad=True)
    inputs.append(randn64(gates * HIDDEN) if bias else None)
    inputs.append(randn64(BATCH, HIDDEN))
    if has_cell:
        inputs.append(randn64(BATCH, HIDDEN))
    return inputs


def test_every_recurrent_primitive_has_an_entry():
    defined = {
        cls
        for _, cls in inspect.getmembers(recurrent, inspect.isclass)
        if issubclass(cls, gw.Function) and cls is not gw.Function
    }
    assert defined == {entry[0] for entry in TABLE.values()}
    assert defined <= set(ops.PRIMITIVES)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", TABLE)
def test_gradcheck(name, variant):
    op, gates, has_cell, _, options = TABLE[name]
    inputs = make_inputs(gates, has_cell)
    if name == "rnn_relu":  # keep pre-activations away from the kink at 0
        inputs[0] = gw.tensor(inputs[0].array + np.sign(inputs[0].array), requires_grad=True)
    gradcheck(lambda *xs: op.apply(*xs, **options, **VARIANTS[variant]), inputs)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", TABLE)
def test_torch_parity(torch, name, variant):
    op, gates, has_cell, step, options = TABLE[name]
    inputs = make_inputs(gates, has_cell)
    extra = VARIANTS[variant]

    def step_with_options(torch, *args):
        return step(torch, *args, **options)

    def theirs(gates_x, weight, bias, h0, c0=None):
        return torch_sequence(torch, step_with_options, gates_x, weight, bias, h0, c0, **extra)

    assert_parity(torch, lambda *xs: op.apply(*xs, **options, **extra), theirs, inputs)


@pytest.mark.parametrize("name", TABLE)
def test_without_bias_and_initial_state(name):
    """bias_hh and the initial states may be None (zeros), and are then not differentiated."""
    op, gates, has_cell, _, options = TABLE[name]
    gates_x, weight, _, h0, *cell = make_inputs(gates, has_cell)
    zeros = gw.zeros(BATCH, HIDDEN, dtype=gw.float64)
    explicit = op.apply(gates_x, weight, None, zeros, *([zeros] if has_cell else []), **options)
    implicit = op.apply(gates_x, weight, None, None, *([None] if has_cell else []), **options)
    np.testing.assert_allclose(to_numpy(implicit), to_numpy(explicit), atol=1e-12)
    gradcheck(
        lambda x, w: op.apply(x, w, None, None, *([None] * has_cell), **options), [gates_x, weight]
    )


def test_float32_stays_float32():
    gates_x = gw.randn(STEPS, BATCH, 4 * HIDDEN, requires_grad=True)
    weight = gw.randn(4 * HIDDEN, HIDDEN, requires_grad=True)
    out = ops.LSTMSequence.apply(gates_x, weight, None, None, None)
    out.sum().backward()
    assert out.dtype == np.float32 and gates_x.grad.dtype == np.float32
    assert weight.grad.dtype == np.float32


def test_shape_errors_name_the_layer():
    gates_x = gw.randn(STEPS, BATCH, 4 * HIDDEN)
    with pytest.raises(ValueError, match="lstm: weight_hh has shape"):
        ops.LSTMSequence.apply(gates_x, gw.randn(3 * HIDDEN, HIDDEN), None, None, None)
    with pytest.raises(ValueError, match=r"lstm: initial state has shape \(2, 3\)"):
        ops.LSTMSequence.apply(gates_x, gw.randn(4 * HIDDEN, HIDDEN), None, gw.zeros(2, 3), None)


def test_blas_thread_count_is_restored():
    """The loops run BLAS on one thread and give the old count back, even on an error."""
    controls = blas._find_controls()
    if not controls:
        pytest.skip("NumPy's BLAS is not a bundled OpenBLAS")
    get, _ = controls[0]
    before = get()
    ops.LSTMSequence.apply(
        gw.randn(STEPS, BATCH, 4 * HIDDEN), gw.randn(4 * HIDDEN, HIDDEN), None, None, None
    )
    assert get() == before
    with pytest.raises(RuntimeError), blas.single_threaded_blas():
        assert all(get() == 1 for get, _ in controls)
        raise RuntimeError("inside the loop")
    assert get() == before
