"""RNN, LSTM, GRU: torch parity per configuration and input kind, gradcheck, truncated BPTT.

Parity loads torch's own state_dict unchanged into the gradwork layer, runs
both in float64 and compares outputs, final states, and the gradients of the
input, the initial states and every parameter under the same random projection.
"""

import numpy as np
import pytest

import gradwork as gw
from gradwork import nn
from gradwork.diagnose import gradcheck
from gradwork.nn.utils_rnn import pack_padded_sequence
from tests.helpers import to_numpy

STEPS, BATCH, INPUT, HIDDEN = 5, 3, 4, 3
LENGTHS = [5, 2, 4]  # unsorted; sorted below for enforce_sorted=True

# name: (layer, constructor arguments); every layer class appears at least once.
LAYERS = {
    "rnn": ("RNN", {}),
    "rnn_relu_two_layers": ("RNN", {"nonlinearity": "relu", "num_layers": 2}),
    "rnn_bidirectional_no_bias": ("RNN", {"bidirectional": True, "bias": False}),
    "lstm": ("LSTM", {}),
    "lstm_two_layers_bidirectional": ("LSTM", {"num_layers": 2, "bidirectional": True}),
    "lstm_batch_first": ("LSTM", {"batch_first": True}),
    "lstm_two_layers_dropout_0": ("LSTM", {"num_layers": 2, "dropout": 0.0}),
    "gru": ("GRU", {}),
    "gru_bidirectional_batch_first": ("GRU", {"bidirectional": True, "batch_first": True}),
    "gru_two_layers_no_bias": ("GRU", {"num_layers": 2, "bias": False}),
}
INPUTS = ["padded", "initial_state", "unbatched", "packed_sorted", "packed_unsorted", "lengths"]


def test_every_sequence_layer_has_a_test_table():
    from tests.nn import test_embedding, test_rnn_cell

    covered = {layer for layer, _ in LAYERS.values()}
    covered |= {cell for cell, _, _ in test_rnn_cell.CELLS.values()}
    covered |= {"Embedding"} if test_embedding.CONFIGS else set()
    assert covered == set(nn.SEQUENCE_LAYERS)


def make_pair(torch, layer, kwargs):
    theirs = getattr(torch.nn, layer)(INPUT, HIDDEN, **kwargs).double()
    ours = getattr(nn, layer)(INPUT, HIDDEN, **kwargs)
    ours.load_state_dict(theirs.state_dict())  # torch's tensors, unchanged
    return ours.double(), theirs


def make_input(kwargs, kind):
    rng = np.random.default_rng(3)
    shape = (BATCH, STEPS, INPUT) if kwargs.get("batch_first") else (STEPS, BATCH, INPUT)
    if kind == "unbatched":
        shape = (STEPS, INPUT)
    return rng.standard_normal(shape)


def make_state(layer, kwargs, unbatched=False):
    directions = 2 if kwargs.get("bidirectional") else 1
    shape = (kwargs.get("num_layers", 1) * directions,) + (
        (HIDDEN,) if unbatched else (BATCH, HIDDEN)
    )
    rng = np.random.default_rng(4)
    return [rng.standard_normal(shape) for _ in range(2 if layer == "LSTM" else 1)]


def run(library, module, x, states, kind, batch_first, lstm):
    """Call `module` the way `kind` says; return (output tensor, [final states])."""
    hx = None if not states else (tuple(states) if lstm else states[0])
    lengths = sorted(LENGTHS, reverse=True) if kind == "packed_sorted" else LENGTHS
    if kind.startswith("packed"):
        pack = (
            library.nn.utils.rnn.pack_padded_sequence
            if library.__name__ == "torch"
            else (pack_padded_sequence)
        )
        packed = pack(x, lengths, batch_first, enforce_sorted=kind == "packed_sorted")
        output, state = module(packed, hx)
        output = output.data
    elif kind == "lengths" and library.__name__ == "torch":
        packed = library.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first, False)
        output, state = module(packed, hx)
        total = x.shape[1 if batch_first else 0]
        output, _ = library.nn.utils.rnn.pad_packed_sequence(
            output, batch_first, total_length=total
        )
    elif kind == "lengths":
        output, state = module(x, hx, lengths=lengths)
    else:
        output, state = module(x, hx)
    return output, list(state) if lstm else [state]


@pytest.mark.parametrize("kind", INPUTS)
@pytest.mark.parametrize("name", LAYERS)
def test_torch_parity(torch, name, kind):
    layer, kwargs = LAYERS[name]
    ours, theirs = make_pair(torch, layer, kwargs)
    data = make_input(kwargs, kind)
    state_data = make_state(layer, kwargs, kind == "unbatched") if kind != "padded" else []
    x, tx = gw.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    states = [gw.tensor(s, requires_grad=True) for s in state_data]
    torch_states = [torch.tensor(s, requires_grad=True) for s in state_data]
    batch_first, lstm = kwargs.get("batch_first", False), layer == "LSTM"
    out, finals = run(gw, ours, x, states, kind, batch_first, lstm)
    expected, expected_finals = run(torch, theirs, tx, torch_states, kind, batch_first, lstm)

    rng = np.random.default_rng(5)
    loss, torch_loss = 0, 0
    for mine, reference in zip([out, *finals], [expected, *expected_finals], strict=True):
        np.testing.assert_allclose(to_numpy(mine), to_numpy(reference), atol=1e-10)
        weights = rng.standard_normal(mine.shape)
        loss = loss + (mine * gw.tensor(weights)).sum()
        torch_loss = torch_loss + (reference * torch.tensor(weights)).sum()
    loss.backward()
    torch_loss.backward()
    np.testing.assert_allclose(to_numpy(x.grad), to_numpy(tx.grad), atol=1e-10)
    for mine, reference in zip(states, torch_states, strict=True):
        np.testing.assert_allclose(to_numpy(mine.grad), to_numpy(reference.grad), atol=1e-10)
    for (key, parameter), (_, reference) in zip(
        ours.named_parameters(), theirs.named_parameters(), strict=True
    ):
        np.testing.assert_allclose(
            to_numpy(parameter.grad), to_numpy(reference.grad), atol=1e-10, err_msg=key
        )


class Flattened(nn.Module):
    """A layer whose output and final states come out as one vector, for gradcheck."""

    def __init__(self, layer, lengths=None):
        super().__init__()
        self.layer, self.lengths = layer, lengths

    def forward(self, x, *states):
        hx = None if not states else (tuple(states) if len(states) == 2 else states[0])
        output, state = self.layer(x, hx, lengths=self.lengths)
        state = state if isinstance(state, tuple) else (state,)
        return gw.cat([output.reshape(-1)] + [s.reshape(-1) for s in state])


@pytest.mark.parametrize("name", LAYERS)
def test_gradcheck(name):
    layer, kwargs = LAYERS[name]
    module = getattr(nn, layer)(2, 2, **kwargs)
    shape = (2, 3, 2) if kwargs.get("batch_first") else (3, 2, 2)
    x = gw.randn(*shape, dtype=gw.float64, requires_grad=True)
    states = [gw.tensor(s[:, :2, :2], requires_grad=True) for s in make_state(layer, kwargs)]
    gradcheck(Flattened(module), [x, *states])
    gradcheck(Flattened(module, lengths=[1, 3]), [x])


def test_packed_output_round_trips_and_keeps_order(torch):
    ours, theirs = make_pair(torch, "GRU", {})
    data = make_input({}, "padded")
    packed = pack_padded_sequence(gw.tensor(data), LENGTHS, enforce_sorted=False)
    output, _ = ours(packed)
    expected, _ = theirs(
        torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(data), LENGTHS, enforce_sorted=False)
    )
    assert output.batch_sizes.tolist() == expected.batch_sizes.tolist()
    assert output.sorted_indices.tolist() == expected.sorted_indices.tolist()
    assert output.unsorted_indices.tolist() == expected.unsorted_indices.tolist()


def test_lengths_zero_the_padding_and_stop_the_state():
    lstm = nn.LSTM(INPUT, HIDDEN)
    x = gw.randn(STEPS, BATCH, INPUT)
    output, (h_n, _) = lstm(x, lengths=LENGTHS)
    assert np.all(output.array[2:, 1] == 0) and np.all(output.array[4:, 2] == 0)
    alone, (h_alone, _) = lstm(x[:2, 1:2])  # sequence 1 on its own, only its 2 steps
    np.testing.assert_allclose(to_numpy(h_n)[0, 1], to_numpy(h_alone)[0, 0], rtol=1e-5, atol=1e-6)


def test_dropout_between_layers_only_in_training():
    lstm = nn.LSTM(INPUT, HIDDEN, num_layers=2, dropout=0.5)
    x = gw.randn(STEPS, BATCH, INPUT)
    first, second = lstm(x)[0], lstm(x)[0]
    assert not np.allclose(to_numpy(first), to_numpy(second))  # different masks
    lstm.eval()
    np.testing.assert_array_equal(to_numpy(lstm(x)[0]), to_numpy(lstm(x)[0]))


def test_default_initialisation_is_torchs_uniform():
    gru = nn.GRU(8, 16, num_layers=2, bidirectional=True)
    names = [name for name, _ in gru.named_parameters()]
    assert names[:4] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert names[4] == "weight_ih_l0_reverse" and gru.weight_ih_l1.shape == (48, 32)
    for parameter in gru.parameters():
        assert np.abs(parameter.array).max() <= 0.25 and parameter.array.std() > 0.1
        assert parameter.dtype == np.float32


def test_float32_forward_backward():
    lstm = nn.LSTM(INPUT, HIDDEN, batch_first=True)
    output, (h_n, c_n) = lstm(gw.randn(BATCH, STEPS, INPUT))
    (output.sum() + h_n.sum() + c_n.sum()).backward()
    assert output.dtype == np.float32 and lstm.weight_hh_l0.grad.dtype == np.float32


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: nn.LSTM(4, 3, proj_size=2), "proj_size=2 .* not supported"),
        (lambda: nn.RNN(4, 3, nonlinearity="sigmoid"), "nonlinearity must be"),
        (lambda: nn.GRU(4, 3, dropout=1.5), "dropout must be"),
        (lambda: nn.LSTM(4, 3)(gw.randn(5, 2, 6)), "input_size=4"),
        (lambda: nn.LSTM(4, 3)(gw.randn(5, 2, 4), (gw.zeros(1, 2, 3),)), r"\(h_0, c_0\)"),
        (lambda: nn.GRU(4, 3)(gw.randn(5, 2, 4), gw.zeros(2, 2, 3)), "h_0 has shape"),
        (lambda: pack_padded_sequence(gw.randn(5, 3, 4), [2, 5, 4]), "enforce_sorted=False"),
        (lambda: pack_padded_sequence(gw.randn(5, 3, 4), [6, 5, 4]), "lengths must be in"),
    ],
)
def test_errors_explain_the_fix(make, message):
    with pytest.raises((ValueError, RuntimeError), match=message):
        make()


def test_truncated_bptt_without_detach_says_to_detach():
    """Backpropagating chunk 2 into chunk 1's freed graph names the fix: detach the state."""
    lstm = nn.LSTM(INPUT, HIDDEN)
    chunks = gw.randn(4, STEPS, BATCH, INPUT)
    output, state = lstm(chunks[0])
    output.sum().backward()
    output, _ = lstm(chunks[1], state)  # the state still hangs on chunk 1's graph
    with pytest.raises(RuntimeError, match="detach") as error:
        output.sum().backward()
    assert "h.detach()" in str(error.value) and "c.detach()" in str(error.value)
    # The documented fix works, chunk after chunk.
    state = None
    for chunk in chunks:
        output, state = lstm(chunk, state)
        output.sum().backward()
        state = tuple(s.detach() for s in state)
    assert lstm.weight_hh_l0.grad is not None


def test_long_sequence_backward_has_no_depth_limit():
    """BPTT over 3000 steps of cells (about 30k nodes) runs on the iterative engine."""
    cell = nn.RNNCell(2, 2)
    h, x = None, gw.randn(3000, 1, 2)
    for t in range(x.shape[0]):
        h = cell(x[t], h)
    h.sum().backward()
    assert np.isfinite(cell.weight_hh.grad.array).all()


def test_torch_spellings_of_the_sequence_helpers():
    from gradwork.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    import gradwork.nn.functional as F
    import gradwork.nn.utils

    weight = gw.tensor([[0.0, 1.0], [2.0, 3.0]])
    assert F.embedding(gw.tensor([1, 0]), weight).tolist() == [[2.0, 3.0], [0.0, 1.0]]
    padded = gw.randn(3, 2, 4)
    packed = pack_padded_sequence(padded, [3, 1])
    unpacked, lengths = pad_packed_sequence(packed)
    assert gradwork.nn.utils.rnn.pack_padded_sequence is pack_padded_sequence
    assert unpacked.shape == (3, 2, 4) and list(to_numpy(lengths)) == [3, 1]
