"""Fused recurrent primitives: a whole RNN, LSTM or GRU layer (one direction) in one node.

Fused for speed. Unrolled from primitives, an LSTM step is about fifteen graph
nodes, so a 50-step sequence costs hundreds of Python-level ops each way. Here
the input projection of every timestep is computed beforehand in ONE GEMM (the
`Linear` op: x @ W_ih^T + b_ih), and one op runs the recurrence over raw arrays.
Its backward is backpropagation through time: one loop over the steps in the
opposite order with one small GEMM per step for the recurrent gradient, then
the weight gradient of all steps at once. The loops are the kernels layer's
business (`gradwork.ops.kernels`: `reference_recurrent.py` is the plain
definition, step by step, `cpu_recurrent.py` the fast form). The cell modules
in `gradwork.nn` (`LSTMCell`, ...) compose the same math from ordinary
primitives, for reading and for checking these ops against.

An op has one output array, so the states are packed after the sequence::

    out[:T]    the hidden state at every step (zero after a sequence has ended)
    out[T]     the final hidden state h_n
    out[T+1]   the final cell state c_n (LSTM only)

The caller slices them apart (basic slices are views).

Variable lengths: `batch_sizes[t]` counts the sequences still running at step
t. Sequences are sorted longest first (as in a `PackedSequence`), so those are
rows `[:batch_sizes[t]]`; the other rows keep their state and output zero. Run in
reverse, a row therefore starts at its own last element, as torch's does.
"""

from __future__ import annotations

from gradwork.autograd import Function
from gradwork.ops import kernels


def _check(name: str, gates_x, weight_hh, state, gates: int, batch_sizes) -> None:
    """Explain wrong shapes in terms of the layer, not of NumPy broadcasting."""
    if gates_x.ndim != 3:
        raise ValueError(
            f"{name}: expected the input projection as (sequence, batch, {gates} * hidden), "
            f"got shape {gates_x.shape}"
        )
    if gates_x.shape[0] == 0:
        raise ValueError(f"{name}: expected a sequence of at least one step, got 0 steps")
    hidden = weight_hh.shape[1]
    if weight_hh.shape != (gates * hidden, hidden) or gates_x.shape[2] != gates * hidden:
        raise ValueError(
            f"{name}: weight_hh has shape {weight_hh.shape} and the input projection "
            f"{gates_x.shape}; expected weight_hh ({gates} * hidden, hidden) and a last "
            f"input dimension of {gates} * hidden"
        )
    if state is not None and state.shape != (gates_x.shape[1], hidden):
        raise ValueError(
            f"{name}: initial state has shape {state.shape}, expected (batch, hidden) = "
            f"{(gates_x.shape[1], hidden)}"
        )
    if batch_sizes is not None and len(batch_sizes) != gates_x.shape[0]:
        raise ValueError(
            f"{name}: got {len(batch_sizes)} batch sizes for {gates_x.shape[0]} timesteps"
        )


class RNNSequence(Function):
    """Elman RNN over a sequence: h_t = act(gates_x[t] + h_{t-1} @ W_hh^T + b_hh).

    `gates_x` is (T, B, H), already x @ W_ih^T + b_ih; `nonlinearity` is 'tanh' or
    'relu'. Returns (T + 1, B, H): the outputs, then h_n. Backward:
    d pre_t = (dh_t + d out_t) * act'(pre_t), dh_{t-1} = d pre_t @ W_hh.
    """

    @staticmethod
    def forward(
        ctx, gates_x, weight_hh, bias_hh, h0, nonlinearity="tanh", batch_sizes=None, reverse=False
    ):
        _check("rnn", gates_x, weight_hh, h0, 1, batch_sizes)
        options = (nonlinearity, batch_sizes, reverse)
        out, work = kernels.rnn_forward(gates_x, weight_hh, bias_hh, h0, *options)
        ctx.save_for_backward(weight_hh, *work)
        ctx.options = options
        return out

    @staticmethod
    def backward(ctx, grad):
        weight_hh, *work = ctx.saved
        need_w, need_b = ctx.needs_input_grad[1:3]
        return kernels.rnn_backward(work, weight_hh, grad, *ctx.options, need_w, need_b)


class LSTMSequence(Function):
    """LSTM over a sequence, gates in torch's order i, f, g, o.

    With gates = gates_x[t] + h_{t-1} @ W_hh^T + b_hh split into i, f, g, o:
    c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g), h_t = sigmoid(o) * tanh(c_t).
    `gates_x` is (T, B, 4H), already x @ W_ih^T + b_ih. Returns (T + 2, B, H):
    the outputs, then h_n, then c_n. Backward, with dh_t and dc_t the running
    gradients: dc_t += dh_t * o * (1 - tanh(c_t)^2); the gates get
    di = dc_t * g, df = dc_t * c_{t-1}, dg = dc_t * i, do = dh_t * tanh(c_t), each
    times its nonlinearity's slope; dc_{t-1} = dc_t * f, dh_{t-1} = d gates @ W_hh.
    """

    @staticmethod
    def forward(ctx, gates_x, weight_hh, bias_hh, h0, c0, batch_sizes=None, reverse=False):
        _check("lstm", gates_x, weight_hh, h0, 4, batch_sizes)
        _check("lstm", gates_x, weight_hh, c0, 4, batch_sizes)
        options = (batch_sizes, reverse)
        out, work = kernels.lstm_forward(gates_x, weight_hh, bias_hh, h0, c0, *options)
        ctx.save_for_backward(weight_hh, *work)
        ctx.options = options
        return out

    @staticmethod
    def backward(ctx, grad):
        weight_hh, *work = ctx.saved
        need_w, need_b = ctx.needs_input_grad[1:3]
        return kernels.lstm_backward(work, weight_hh, grad, *ctx.options, need_w, need_b)


class GRUSequence(Function):
    """GRU over a sequence, gates in torch's order r, z, n, with torch's formula.

    With a = gates_x[t] (x @ W_ih^T + b_ih) and b = h_{t-1} @ W_hh^T + b_hh, split
    into r, z, n blocks: r = sigmoid(a_r + b_r), z = sigmoid(a_z + b_z),
    n = tanh(a_n + r * b_n), h_t = (1 - z) * n + z * h_{t-1}. Returns (T + 1, B, H).
    Backward: the input part a_n gets dn = dh_t (1 - z)(1 - n^2), its recurrent
    part b_n gets dn * r; dz = dh_t (h_{t-1} - n) z (1 - z),
    dr = dn * b_n * r (1 - r); dh_{t-1} = dh_t * z + d b @ W_hh.
    """

    @staticmethod
    def forward(ctx, gates_x, weight_hh, bias_hh, h0, batch_sizes=None, reverse=False):
        _check("gru", gates_x, weight_hh, h0, 3, batch_sizes)
        options = (batch_sizes, reverse)
        out, work = kernels.gru_forward(gates_x, weight_hh, bias_hh, h0, *options)
        ctx.save_for_backward(weight_hh, *work)
        ctx.options = options
        return out

    @staticmethod
    def backward(ctx, grad):
        weight_hh, *work = ctx.saved
        need_w, need_b = ctx.needs_input_grad[1:3]
        return kernels.gru_backward(work, weight_hh, grad, *ctx.options, need_w, need_b)
