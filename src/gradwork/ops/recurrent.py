"""Fused recurrent primitives: a whole RNN, LSTM or GRU layer (one direction) in one node.

Fused for speed. Unrolled from primitives, an LSTM step is about fifteen graph
nodes, so a 50-step sequence costs hundreds of Python-level ops each way. Here
the input projection of every timestep is computed beforehand in ONE GEMM (the
`Linear` op: x @ W_ih^T + b_ih), and one op runs the recurrence over raw arrays.
Its backward is backpropagation through time written by hand: one loop over the
steps in the opposite order with one small GEMM per step for the recurrent
gradient, then the weight gradient of all steps in a single GEMM. The cell
modules in `gradwork.nn` (`LSTMCell`, ...) compose the same math from ordinary
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

import numpy as np

from gradwork.autograd import Function
from gradwork.ops.kernels.threads import single_threaded_blas


def _check(name: str, gates_x, weight_hh, state, gates: int, batch_sizes) -> None:
    """Explain wrong shapes in terms of the layer, not of NumPy broadcasting."""
    if gates_x.ndim != 3:
        raise ValueError(
            f"{name}: expected the input projection as (sequence, batch, {gates} * hidden), "
            f"got shape {gates_x.shape}"
        )
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


def _steps(length: int, reverse: bool) -> range:
    return range(length - 1, -1, -1) if reverse else range(length)


def _active(batch_sizes, t: int, batch: int) -> int:
    return batch if batch_sizes is None else int(batch_sizes[t])


def _start(state, like, hidden: int):
    """The initial state, zeros when none was given."""
    batch = like.shape[1]
    return np.zeros_like(like, shape=(batch, hidden)) if state is None else state


def _previous(states, initial, reverse: bool):
    """The state each step started from: `states` shifted by one step in time."""
    prev = np.empty_like(states)
    if reverse:
        prev[-1], prev[:-1] = initial, states[1:]
    else:
        prev[0], prev[1:] = initial, states[:-1]
    return prev


def _state_before(states, initial, t: int, reverse: bool):
    """The state step t started from."""
    before = t + 1 if reverse else t - 1
    return initial if before in (-1, len(states)) else states[before]


def _finish(out, states, batch_sizes, steps: int) -> None:
    """Copy the carried states into the output, zeroing rows of ended sequences."""
    if batch_sizes is None:
        return  # the states were written straight into the output
    out[:steps] = states
    for t in range(steps):
        out[t, int(batch_sizes[t]) :] = 0


def _carry(new, old, n: int) -> None:
    """Rows past `n` (sequences not running at this step) keep their state."""
    if n < new.shape[0]:
        new[n:] = old[n:]


def _weight_grads(ctx, d_gates, states, initial, reverse: bool):
    """dW_hh and db_hh, when needed: each step's gate gradient times the state it started from.

    Two GEMMs over all steps: steps 1.. against the stored states shifted by one,
    and the first step against the initial state (no shifted copy is made).
    """
    need_w, need_b = ctx.needs_input_grad[1:3]
    grad_w = grad_b = None
    if need_w:
        first, later, earlier = (
            (-1, d_gates[:-1], states[1:]) if reverse else (0, d_gates[1:], states[:-1])
        )
        hidden, gates = states.shape[-1], d_gates.shape[-1]
        grad_w = later.reshape(-1, gates).T @ earlier.reshape(-1, hidden)
        grad_w += d_gates[first].T @ initial
    if need_b:
        grad_b = d_gates.reshape(-1, d_gates.shape[-1]).sum(axis=0)
    return grad_w, grad_b


class RNNSequence(Function):
    """Elman RNN over a sequence: h_t = act(gates_x[t] + h_{t-1} @ W_hh^T + b_hh).

    `gates_x` is (T, B, H), already x @ W_ih^T + b_ih; `nonlinearity` is 'tanh' or
    'relu'. Returns (T + 1, B, H): the outputs, then h_n.
    """

    @staticmethod
    def forward(
        ctx, gates_x, weight_hh, bias_hh, h0, nonlinearity="tanh", batch_sizes=None, reverse=False
    ):
        _check("rnn", gates_x, weight_hh, h0, 1, batch_sizes)
        steps, batch, hidden = gates_x.shape
        h = h0 = _start(h0, gates_x, hidden)
        pre = gates_x if bias_hh is None else gates_x + bias_hh
        out = np.empty_like(gates_x, shape=(steps + 1, batch, hidden))
        states = out[:steps] if batch_sizes is None else np.empty_like(gates_x)
        w_t = weight_hh.T
        with single_threaded_blas():
            for t in _steps(steps, reverse):
                n = _active(batch_sizes, t, batch)
                new = states[t]
                np.matmul(h[:n], w_t, out=new[:n])
                new[:n] += pre[t, :n]
                if nonlinearity == "tanh":
                    np.tanh(new[:n], out=new[:n])
                else:
                    np.maximum(new[:n], 0, out=new[:n])
                _carry(new, h, n)
                h = new
        out[steps] = h
        _finish(out, states, batch_sizes, steps)
        ctx.save_for_backward(states, h0, weight_hh)
        ctx.options = (nonlinearity, batch_sizes, reverse)
        return out

    @staticmethod
    def backward(ctx, grad):
        states, h0, weight_hh = ctx.saved
        nonlinearity, batch_sizes, reverse = ctx.options
        steps, batch, _ = states.shape
        # NOTE: both derivatives are written through the output: tanh' = 1 - h^2,
        # relu' = [h > 0] (0 at the kink, as torch).
        slope = 1 - states**2 if nonlinearity == "tanh" else (states > 0).astype(states.dtype)
        d_pre = np.zeros_like(states)
        dh = grad[steps].copy()
        with single_threaded_blas():
            for t in _steps(steps, not reverse):
                n = _active(batch_sizes, t, batch)
                dh_n = dh[:n]
                dh_n += grad[t, :n]
                np.multiply(dh_n, slope[t, :n], out=d_pre[t, :n])
                np.matmul(d_pre[t, :n], weight_hh, out=dh_n)
        grad_w, grad_b = _weight_grads(ctx, d_pre, states, h0, reverse)
        return d_pre, grad_w, grad_b, dh


def _sigmoid_(x):
    """In place: x = sigmoid(x) = 1 / (1 + exp(-x)), in four calls and no temporary."""
    np.negative(x, out=x)
    np.exp(x, out=x)
    x += 1
    return np.reciprocal(x, out=x)


def _lstm_factors(like, hidden: int):
    """-1 for the sigmoid gates i, f, o and -2 for g, per gate unit.

    NOTE: with these factors folded into the weights and inputs, ONE
    1 / (1 + exp(k x)) over all four gates gives sigmoid(i), sigmoid(f),
    sigmoid(o) and sigmoid(2 g), and tanh(g) = 2 sigmoid(2 g) - 1 follows in two
    calls on one block. NumPy's float32 exp is about twice as fast as its tanh.
    exp overflows to inf for very negative inputs, and 1 / inf = 0 is the
    right limit, so that warning is silenced.
    """
    factors = np.full_like(like, -1.0, shape=(4, hidden))
    factors[2] = -2.0
    return factors.reshape(-1)


class LSTMSequence(Function):
    """LSTM over a sequence, gates in torch's order i, f, g, o.

    With gates = gates_x[t] + h_{t-1} @ W_hh^T + b_hh split into i, f, g, o:
    c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g), h_t = sigmoid(o) * tanh(c_t).
    `gates_x` is (T, B, 4H), already x @ W_ih^T + b_ih. Returns (T + 2, B, H):
    the outputs, then h_n, then c_n.
    """

    @staticmethod
    def forward(ctx, gates_x, weight_hh, bias_hh, h0, c0, batch_sizes=None, reverse=False):
        _check("lstm", gates_x, weight_hh, h0, 4, batch_sizes)
        steps, batch, hidden = gates_x.shape[0], gates_x.shape[1], weight_hh.shape[1]
        h = h0 = _start(h0, gates_x, hidden)
        c = c0 = _start(c0, gates_x, hidden)
        out = np.empty_like(gates_x, shape=(steps + 2, batch, hidden))
        states = out[:steps] if batch_sizes is None else np.empty_like(out[:steps])
        # `cells` is written in full (rows that skip a step carry their cell state), but
        # nothing writes `tanh_cells` there, and backward's all-steps arithmetic reads
        # it: zeros when some rows skip steps, as in GRUSequence, so that arithmetic
        # never sees uninitialised memory (which can overflow, or be NaN).
        fresh = np.empty_like if batch_sizes is None else np.zeros_like
        cells, tanh_cells = np.empty_like(states), fresh(states)
        factors = _lstm_factors(gates_x, hidden)  # applied once, not at every step
        w_t = weight_hh.T * factors
        # `acts` first holds the scaled input part of the gates, then, step by step,
        # i, f, g, o after their nonlinearities (one big buffer instead of two).
        acts = np.add(gates_x, 0 if bias_hh is None else bias_hh, out=np.empty_like(gates_x))
        acts *= factors
        recurrent = np.empty_like(acts[0])
        i, f, g, o = (slice(k * hidden, (k + 1) * hidden) for k in range(4))
        with single_threaded_blas(), np.errstate(over="ignore"):
            for t in _steps(steps, reverse):
                n = _active(batch_sizes, t, batch)
                gates = acts[t, :n]
                gates += np.matmul(h[:n], w_t, out=recurrent[:n])
                np.exp(gates, out=gates)
                gates += 1
                np.reciprocal(gates, out=gates)
                gates[:, g] *= 2
                gates[:, g] -= 1
                np.multiply(gates[:, f], c[:n], out=cells[t, :n])
                cells[t, :n] += gates[:, i] * gates[:, g]
                np.tanh(cells[t, :n], out=tanh_cells[t, :n])
                np.multiply(gates[:, o], tanh_cells[t, :n], out=states[t, :n])
                _carry(states[t], h, n)
                _carry(cells[t], c, n)
                # Rows that skip this step still hold the caller's input (padding, which
                # may be anything); backward's all-steps slopes read them, so make them 0.
                acts[t, n:] = 0
                h, c = states[t], cells[t]
        out[steps], out[steps + 1] = h, c
        _finish(out, states, batch_sizes, steps)
        ctx.save_for_backward(acts, cells, tanh_cells, states, h0, c0, weight_hh)
        ctx.options = (batch_sizes, reverse)
        return out

    @staticmethod
    def backward(ctx, grad):
        acts, cells, tanh_cells, states, h0, c0, weight_hh = ctx.saved
        batch_sizes, reverse = ctx.options
        steps, batch, hidden = states.shape
        # Everything that does not depend on the incoming gradient, for all steps at once.
        blocks = acts.reshape(steps, batch, 4, hidden)
        # d_gates starts as each gate's slope, written through its output: s (1 - s)
        # for the sigmoids, 1 - g^2 for tanh; each step multiplies its gradient in.
        d_gates = np.subtract(1, acts, out=np.empty_like(acts))
        d_gates *= acts
        slope_g = d_gates.reshape(blocks.shape)[:, :, 2]
        np.multiply(blocks[:, :, 2], blocks[:, :, 2], out=slope_g)
        np.subtract(1, slope_g, out=slope_g)
        out_slope = blocks[:, :, 3] * (1 - tanh_cells**2)  # d h_t / d c_t
        dh, dc = grad[steps].copy(), grad[steps + 1].copy()
        scratch = np.empty_like(blocks[0])
        with single_threaded_blas():
            for t in _steps(steps, not reverse):
                n = _active(batch_sizes, t, batch)
                dh_n, dc_n = dh[:n], dc[:n]
                dh_n += grad[t, :n]
                partial = scratch[:n]  # d loss / d(i, f, g, o) after the nonlinearities
                np.multiply(dh_n, tanh_cells[t, :n], out=partial[:, 3])
                dc_n += dh_n * out_slope[t, :n]
                # d c_t / d(i, f, g) after the nonlinearities: g, c_{t-1}, i.
                np.multiply(dc_n, blocks[t, :n, 2], out=partial[:, 0])
                np.multiply(dc_n, _state_before(cells, c0, t, reverse)[:n], out=partial[:, 1])
                np.multiply(dc_n, blocks[t, :n, 0], out=partial[:, 2])
                dc_n *= blocks[t, :n, 1]  # through c_t = f * c_{t-1} + ...
                d_gates[t, :n] *= partial.reshape(n, -1)
                d_gates[t, n:] = 0  # sequences not running at step t
                np.matmul(d_gates[t, :n], weight_hh, out=dh_n)
        grad_w, grad_b = _weight_grads(ctx, d_gates, states, h0, reverse)
        return d_gates, grad_w, grad_b, dh, dc


class GRUSequence(Function):
    """GRU over a sequence, gates in torch's order r, z, n, with torch's formula.

    With a = gates_x[t] (x @ W_ih^T + b_ih) and b = h_{t-1} @ W_hh^T + b_hh, split
    into r, z, n blocks: r = sigmoid(a_r + b_r), z = sigmoid(a_z + b_z),
    n = tanh(a_n + r * b_n), h_t = (1 - z) * n + z * h_{t-1}. Returns (T + 1, B, H).
    """

    @staticmethod
    def forward(ctx, gates_x, weight_hh, bias_hh, h0, batch_sizes=None, reverse=False):
        _check("gru", gates_x, weight_hh, h0, 3, batch_sizes)
        steps, batch, hidden = gates_x.shape[0], gates_x.shape[1], weight_hh.shape[1]
        h = h0 = _start(h0, gates_x, hidden)
        out = np.empty_like(gates_x, shape=(steps + 1, batch, hidden))
        states = out[:steps] if batch_sizes is None else np.empty_like(out[:steps])
        # Zeros when some rows skip steps, so backward's all-steps arithmetic never
        # reads uninitialised memory there.
        fresh = np.empty_like if batch_sizes is None else np.zeros_like
        acts = fresh(gates_x)  # r, z, n after their nonlinearities
        hidden_n = fresh(states)  # b_n = (h @ W_hn^T + b_hn), which r scales
        w_t = weight_hh.T
        with single_threaded_blas(), np.errstate(over="ignore"):
            for t in _steps(steps, reverse):
                n = _active(batch_sizes, t, batch)
                recurrent = h[:n] @ w_t
                if bias_hh is not None:
                    recurrent += bias_hh
                hidden_n[t, :n] = recurrent[:, 2 * hidden :]
                rz, new = acts[t, :n, : 2 * hidden], acts[t, :n, 2 * hidden :]
                np.add(gates_x[t, :n, : 2 * hidden], recurrent[:, : 2 * hidden], out=rz)
                _sigmoid_(rz)
                np.multiply(rz[:, :hidden], hidden_n[t, :n], out=new)
                new += gates_x[t, :n, 2 * hidden :]
                np.tanh(new, out=new)
                z = rz[:, hidden:]
                np.subtract(h[:n], new, out=states[t, :n])  # h_t = n + z * (h_{t-1} - n)
                states[t, :n] *= z
                states[t, :n] += new
                _carry(states[t], h, n)
                h = states[t]
        out[steps] = h
        _finish(out, states, batch_sizes, steps)
        ctx.save_for_backward(acts, hidden_n, states, h0, weight_hh)
        ctx.options = (batch_sizes, reverse)
        return out

    @staticmethod
    def backward(ctx, grad):
        acts, hidden_n, states, h0, weight_hh = ctx.saved
        batch_sizes, reverse = ctx.options
        steps, batch, hidden = states.shape
        r, z, new = np.split(acts, 3, axis=2)
        # Local derivatives of h_t = (1 - z) * n + z * h_{t-1}, for all steps at once.
        d_new = (1 - z) * (1 - new**2)  # d h_t / d(n before tanh)
        d_update = (_previous(states, h0, reverse) - new) * z * (1 - z)  # ... / d(z pre)
        d_reset = hidden_n * r * (1 - r)  # d(n pre) / d(r pre)
        d_input_n = np.zeros_like(states)  # gradient of a_n, the input part of n
        d_recurrent = np.zeros_like(acts)  # gradient of b = h @ W_hh^T + b_hh
        dh = grad[steps].copy()
        with single_threaded_blas():
            for t in _steps(steps, not reverse):
                n = _active(batch_sizes, t, batch)
                dh_n = dh[:n]
                dh_n += grad[t, :n]
                d = d_recurrent[t, :n].reshape(n, 3, hidden)
                np.multiply(dh_n, d_new[t, :n], out=d_input_n[t, :n])
                np.multiply(dh_n, d_update[t, :n], out=d[:, 1])
                np.multiply(d_input_n[t, :n], d_reset[t, :n], out=d[:, 0])
                np.multiply(d_input_n[t, :n], r[t, :n], out=d[:, 2])  # b_n is scaled by r
                dh_n *= z[t, :n]
                dh_n += d_recurrent[t, :n] @ weight_hh
        d_gates_x = d_recurrent.copy()
        d_gates_x[:, :, 2 * hidden :] = d_input_n
        grad_w, grad_b = _weight_grads(ctx, d_recurrent, states, h0, reverse)
        return d_gates_x, grad_w, grad_b, dh
