"""RNNCell, LSTMCell, GRUCell: torch parity, gradcheck, and agreement with the fused layers."""

import numpy as np
import pytest

import gradwork as gw
from gradwork import nn
from gradwork.diagnose import gradcheck
from tests.helpers import to_numpy

INPUT, HIDDEN, BATCH = 4, 3, 2

# name: (cell, arguments, matching sequence layer and its arguments)
CELLS = {
    "rnn_cell": ("RNNCell", {}, ("RNN", {})),
    "rnn_cell_relu": ("RNNCell", {"nonlinearity": "relu"}, ("RNN", {"nonlinearity": "relu"})),
    "lstm_cell": ("LSTMCell", {}, ("LSTM", {})),
    "lstm_cell_no_bias": ("LSTMCell", {"bias": False}, ("LSTM", {"bias": False})),
    "gru_cell": ("GRUCell", {}, ("GRU", {})),
}


def test_every_cell_has_an_entry():
    assert {cell for cell, _, _ in CELLS.values()} == {"RNNCell", "LSTMCell", "GRUCell"}


def states_for(cell, unbatched=False):
    shape = (HIDDEN,) if unbatched else (BATCH, HIDDEN)
    count = 2 if cell == "LSTMCell" else 1
    return [gw.randn(*shape, dtype=gw.float64, requires_grad=True) for _ in range(count)]


def call(module, x, states):
    hx = None if not states else (tuple(states) if len(states) == 2 else states[0])
    out = module(x, hx)
    return list(out) if isinstance(out, tuple) else [out]


@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("unbatched", [False, True])
@pytest.mark.parametrize("name", CELLS)
def test_torch_parity(torch, name, unbatched, with_state):
    cell, kwargs, _ = CELLS[name]
    theirs = getattr(torch.nn, cell)(INPUT, HIDDEN, **kwargs).double()
    ours = getattr(nn, cell)(INPUT, HIDDEN, **kwargs)
    ours.load_state_dict(theirs.state_dict())
    ours.double()
    x = gw.randn(*((INPUT,) if unbatched else (BATCH, INPUT)), dtype=gw.float64, requires_grad=True)
    states = states_for(cell, unbatched) if with_state else []
    tx = torch.tensor(to_numpy(x), requires_grad=True)
    torch_states = [torch.tensor(to_numpy(s), requires_grad=True) for s in states]
    outputs, expected = call(ours, x, states), call(theirs, tx, torch_states)
    rng = np.random.default_rng(2)
    loss = torch_loss = 0
    for mine, reference in zip(outputs, expected, strict=True):
        np.testing.assert_allclose(to_numpy(mine), to_numpy(reference), atol=1e-12)
        weights = rng.standard_normal(mine.shape)
        loss = loss + (mine * gw.tensor(weights)).sum()
        torch_loss = torch_loss + (reference * torch.tensor(weights)).sum()
    loss.backward()
    torch_loss.backward()
    for mine, reference in zip([x, *states], [tx, *torch_states], strict=True):
        np.testing.assert_allclose(to_numpy(mine.grad), to_numpy(reference.grad), atol=1e-12)
    for (key, parameter), (_, reference) in zip(
        ours.named_parameters(), theirs.named_parameters(), strict=True
    ):
        np.testing.assert_allclose(
            to_numpy(parameter.grad), to_numpy(reference.grad), atol=1e-12, err_msg=key
        )


@pytest.mark.parametrize("name", CELLS)
def test_gradcheck(name):
    cell, kwargs, _ = CELLS[name]
    module = getattr(nn, cell)(INPUT, HIDDEN, **kwargs)
    x = gw.randn(BATCH, INPUT, dtype=gw.float64, requires_grad=True)
    if "relu" in name:  # keep pre-activations off the kink
        module.bias_ih.array[...] = 1.0
    states = states_for(cell)

    def fn(x, *states):
        return gw.cat([out.reshape(-1) for out in call(module, x, states)])

    gradcheck(fn, [x, *states])


@pytest.mark.parametrize("name", CELLS)
def test_cells_unrolled_equal_the_fused_layer(name):
    """The readable cell and the fused sequence op compute the same function and gradient."""
    cell_name, kwargs, (layer_name, layer_kwargs) = CELLS[name]
    cell = getattr(nn, cell_name)(INPUT, HIDDEN, **kwargs).double()
    layer = getattr(nn, layer_name)(INPUT, HIDDEN, **layer_kwargs).double()
    layer.load_state_dict({key + "_l0": value for key, value in cell.state_dict().items()})
    x = gw.randn(6, BATCH, INPUT, dtype=gw.float64)
    state, outputs = None, []
    for t in range(6):
        state = cell(x[t], state)
        outputs.append(state[0] if isinstance(state, tuple) else state)
    unrolled = gw.stack(outputs)
    fused, _ = layer(x)
    np.testing.assert_allclose(to_numpy(unrolled), to_numpy(fused), atol=1e-12)
    unrolled.sum().backward()
    fused.sum().backward()
    np.testing.assert_allclose(
        to_numpy(cell.weight_hh.grad), to_numpy(layer.weight_hh_l0.grad), atol=1e-12
    )
