"""Variable-length recurrences never read memory they did not write.

With variable lengths, rows of sequences that are not running at a step skip
that step's work, yet backward does some arithmetic for all steps at once. Any
buffer that backward reads there must have been written (or zeroed): an
uninitialised `np.empty` row holds whatever the allocator returns, which can
overflow (FloatingPointError under `np.errstate(all="raise")`) or leak NaN into
the gradients.

Two ways to make such a read show up reliably rather than by chance:

* through the public API, fill freed heap memory with huge values right before
  each call, so that `np.empty` is likely to hand them back;
* on the ops, swap the fast kernels' `np.empty` / `np.empty_like` for versions
  that always return poison (huge or NaN), so that a read of an unwritten element
  can never pass unnoticed.
"""

import types

import numpy as np
import pytest

import gradwork as gw
from gradwork import nn, ops
from gradwork.nn.utils_rnn import pack_padded_sequence  # = gradwork.nn.utils.rnn's
from gradwork.ops.kernels import cpu_recurrent, cpu_recurrent_lstm, cpu_recurrent_parts
from tests.helpers import to_numpy

# Squared, this overflows float64 (and float32), so a read of it raises under errstate.
HUGE = 1e300


def _dirty_heap() -> None:
    """Allocate and free arrays full of HUGE, so that fresh allocations likely reuse them.

    Sizes cover NumPy's small-block cache (under 1 KiB, reused per exact size) and
    malloc's bins for the small arrays these tests use.
    """
    junk = [np.full(size, HUGE) for size in range(1, 1024) for _ in range(2)]
    del junk


def _random_batch(rng):
    """A float64 (steps, batch, input) batch with distinct, unsorted lengths."""
    steps, batch = int(rng.integers(3, 8)), int(rng.integers(2, 6))
    lengths = rng.integers(1, steps + 1, size=batch)
    lengths[rng.integers(batch)] = steps  # the padded length is the longest one
    return rng.standard_normal((steps, batch, 4)), [int(n) for n in lengths]


@pytest.mark.parametrize("bidirectional", [False, True], ids=["forward", "bidirectional"])
def test_lstm_packed_backward_never_reads_garbage(bidirectional):
    """30 variable-length forward + backward passes, each after the heap was dirtied."""
    rng = np.random.default_rng(0)
    for seed in range(30):
        gw.manual_seed(seed)
        lstm = nn.LSTM(4, int(rng.integers(2, 6)), bidirectional=bidirectional).double()
        data, lengths = _random_batch(rng)
        x = gw.tensor(data, requires_grad=True)
        _dirty_heap()
        with np.errstate(all="raise"):
            packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
            output, (h_n, c_n) = lstm(packed)
            (output.data.sum() + h_n.sum() + c_n.sum()).backward()
        for name, grad in [("input", x.grad), *((k, p.grad) for k, p in lstm.named_parameters())]:
            assert np.isfinite(to_numpy(grad)).all(), f"seed {seed}: non-finite gradient of {name}"


def _poisoned_numpy(fill: float) -> types.SimpleNamespace:
    """NumPy, except that fresh float buffers hold `fill` instead of leftover bytes."""

    def empty_like(prototype, dtype=None, order="K", subok=True, shape=None):
        return np.full_like(prototype, fill, dtype, order, subok, shape)

    def empty(shape, dtype=float, order="C"):
        return np.full(shape, fill, dtype, order)

    poisoned = types.SimpleNamespace(**{name: getattr(np, name) for name in dir(np)})
    poisoned.empty, poisoned.empty_like = empty, empty_like
    return poisoned


# op, gates per hidden unit, whether it has a cell state, extra options
OPS = {
    "lstm": (ops.LSTMSequence, 4, True, {}),
    "gru": (ops.GRUSequence, 3, False, {}),
    "rnn_tanh": (ops.RNNSequence, 1, False, {"nonlinearity": "tanh"}),
    "rnn_relu": (ops.RNNSequence, 1, False, {"nonlinearity": "relu"}),
}
LENGTHS = {"forward": ([4, 4, 2, 1, 1], False), "reverse": ([4, 3, 3, 1, 1], True)}


def _run_op(name, batch_sizes, reverse, padding=0.0):
    """Output and every input gradient of one op on a fixed variable-length batch.

    `padding` fills the input where a sequence is not running (a caller's padding).
    """
    op, gates, has_cell, options = OPS[name]
    rng = np.random.default_rng(1)
    steps, batch, hidden = len(batch_sizes), batch_sizes[0], 3
    inputs = [
        rng.standard_normal((steps, batch, gates * hidden)),
        rng.standard_normal((gates * hidden, hidden)) * 0.5,
        rng.standard_normal(gates * hidden),
        rng.standard_normal((batch, hidden)),
    ] + ([rng.standard_normal((batch, hidden))] if has_cell else [])
    for t, running in enumerate(batch_sizes):
        inputs[0][t, running:] = padding
    tensors = [gw.tensor(a, requires_grad=True) for a in inputs]
    out = op.apply(*tensors, **options, batch_sizes=batch_sizes, reverse=reverse)
    (out * gw.tensor(rng.standard_normal(out.shape))).sum().backward()
    return [to_numpy(out).copy()] + [to_numpy(t.grad).copy() for t in tensors]


@pytest.mark.parametrize("fill", [HUGE, np.nan], ids=["huge", "nan"])
@pytest.mark.parametrize("direction", LENGTHS)
@pytest.mark.parametrize("name", OPS)
def test_poisoned_buffers_change_nothing(monkeypatch, name, direction, fill):
    """Same results when every np.empty buffer starts as poison, and no FP error."""
    batch_sizes, reverse = LENGTHS[direction]
    expected = _run_op(name, batch_sizes, reverse)
    for module in (cpu_recurrent, cpu_recurrent_lstm, cpu_recurrent_parts):
        monkeypatch.setattr(module, "np", _poisoned_numpy(fill))
    with np.errstate(all="raise"):
        got = _run_op(name, batch_sizes, reverse)
    for mine, reference in zip(got, expected, strict=True):
        np.testing.assert_array_equal(to_numpy(mine), to_numpy(reference))


@pytest.mark.parametrize("direction", LENGTHS)
@pytest.mark.parametrize("name", OPS)
def test_padding_values_change_nothing(name, direction):
    """Whatever the input holds where a sequence has ended, it is never computed with."""
    batch_sizes, reverse = LENGTHS[direction]
    expected = _run_op(name, batch_sizes, reverse)
    with np.errstate(all="raise"):
        got = _run_op(name, batch_sizes, reverse, padding=HUGE)
    for mine, reference in zip(got, expected, strict=True):
        np.testing.assert_array_equal(to_numpy(mine), to_numpy(reference))


@pytest.mark.parametrize("bidirectional", [False, True], ids=["forward", "bidirectional"])
def test_lstm_packed_gradients_match_torch(torch, bidirectional):
    """A variable-length float64 batch: outputs and all gradients equal torch's."""
    hidden, lengths = 3, [5, 2, 4, 1]
    theirs = torch.nn.LSTM(4, hidden, bidirectional=bidirectional).double()
    ours = nn.LSTM(4, hidden, bidirectional=bidirectional)
    ours.load_state_dict(theirs.state_dict())
    ours = ours.double()
    rng = np.random.default_rng(2)
    data = rng.standard_normal((5, len(lengths), 4))
    directions = 2 if bidirectional else 1
    states = [rng.standard_normal((directions, len(lengths), hidden)) for _ in range(2)]
    x, tx = gw.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    hx = tuple(gw.tensor(s, requires_grad=True) for s in states)
    thx = tuple(torch.tensor(s, requires_grad=True) for s in states)

    _dirty_heap()
    with np.errstate(all="raise"):
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        output, (h_n, c_n) = ours(packed, hx)
    expected, (th_n, tc_n) = theirs(
        torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, enforce_sorted=False), thx
    )

    loss, torch_loss = 0, 0
    for mine, reference in zip([output.data, h_n, c_n], [expected.data, th_n, tc_n], strict=True):
        np.testing.assert_allclose(to_numpy(mine), to_numpy(reference), atol=1e-12)
        weights = rng.standard_normal(tuple(mine.shape))
        loss = loss + (mine * gw.tensor(weights)).sum()
        torch_loss = torch_loss + (reference * torch.tensor(weights)).sum()
    with np.errstate(all="raise"):
        loss.backward()
    torch_loss.backward()

    np.testing.assert_allclose(to_numpy(x.grad), to_numpy(tx.grad), atol=1e-12)
    for mine, reference in zip(hx, thx, strict=True):
        np.testing.assert_allclose(to_numpy(mine.grad), to_numpy(reference.grad), atol=1e-12)
    for (key, parameter), (_, reference) in zip(
        ours.named_parameters(), theirs.named_parameters(), strict=True
    ):
        np.testing.assert_allclose(
            to_numpy(parameter.grad), to_numpy(reference.grad), atol=1e-12, err_msg=key
        )
