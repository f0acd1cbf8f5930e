"""Reference recurrences: RNN, LSTM and GRU over a sequence, one plain step at a time.

The definition the fast kernels (`cpu_recurrent.py`) must equal, written to be
read: each step is the cell's formula on `xp` (NumPy, CuPy or the CPU
stand-in), backward is backpropagation through time, one step at a time in the
opposite order. The ops (`gradwork.ops.recurrent`) call whichever module
`gradwork.ops.kernels` selects; tests/ops/test_recurrent_kernels.py compares
the two.

Every kernel pair has the same shape::

    out, work = X_forward(gates_x, weight_hh, bias_hh, h0, ..., batch_sizes, reverse)
    d_gates_x, d_weight_hh, d_bias_hh, d_h0, ... = X_backward(work, weight_hh, grad, ...)

`gates_x` (T, B, G*H) is the input projection x @ W_ih^T + b_ih of every step
(one GEMM, done by the caller). `out` packs the states after the sequence:
out[:T] the hidden state of every step (zero where a sequence has ended),
out[T] the final hidden state, out[T+1] the final cell state (LSTM). `work` is
what backward reads, in a layout private to the module that made it (run
forward and backward under the same kernels). A missing initial state (None)
means zeros.

Variable lengths: `batch_sizes[t]` counts the sequences still running at step
t, longest first, so those are rows [:batch_sizes[t]]; the other rows keep
their state. Run in reverse, a row starts at its own last element, as torch's.

Example:
    >>> import numpy as np
    >>> gates_x = np.ones((2, 1, 4))  # T=2, B=1, H=1: every gate's input is 1
    >>> out, work = lstm_forward(gates_x, np.zeros((4, 1)), None, None, None)
    >>> out[:, 0, 0].round(4).tolist()  # h_1, h_2, then h_n, c_n
    [0.3696, 0.5453, 0.5453, 0.9638]
"""

from __future__ import annotations

import numpy as np

from gradwork._arrays import xp_of


# -- pieces every recurrence shares ------------------------------------------------------------
def time_steps(length: int, reverse: bool) -> range:
    """The order the steps run in."""
    return range(length - 1, -1, -1) if reverse else range(length)


def running(batch_sizes, t: int, batch: int) -> int:
    """How many rows (sequences) take part in step t."""
    return batch if batch_sizes is None else int(batch_sizes[t])


def initial_state(state, gates_x, hidden: int):
    """The given initial state, or zeros (batch, hidden)."""
    if state is not None:
        return state
    return np.zeros_like(gates_x, shape=(gates_x.shape[1], hidden))


def state_before(states, initial, t: int, reverse: bool):
    """The state step t started from: the previous step's, or the initial one."""
    before = t + 1 if reverse else t - 1
    return initial if before in (-1, len(states)) else states[before]


def pack_outputs(states, finals, batch_sizes):
    """(T + len(finals), B, H): the states (zero where a sequence had ended), then finals."""
    steps = states.shape[0]
    out = np.empty_like(states, shape=(steps + len(finals), *states.shape[1:]))
    out[:steps] = states
    if batch_sizes is not None:
        for t in range(steps):
            out[t, int(batch_sizes[t]) :] = 0
    for k, final in enumerate(finals):
        out[steps + k] = final
    return out


def recurrent_weight_grads(d_recurrent, states, initial, reverse, need_weight, need_bias):
    """dW_hh = sum_t d_recurrent[t]^T @ h_{t-1} and db_hh = sum of d_recurrent, or None."""
    grad_w = grad_b = None
    if need_weight:
        grad_w = np.zeros_like(d_recurrent, shape=(d_recurrent.shape[2], states.shape[2]))
        for t in range(states.shape[0]):
            grad_w += d_recurrent[t].T @ state_before(states, initial, t, reverse)
    if need_bias:
        grad_b = d_recurrent.sum(axis=(0, 1))
    return grad_w, grad_b


def _keep_running_rows(new, old, n: int):
    """Rows past n (sequences not running at this step) keep their old value."""
    if n == old.shape[0]:
        return new
    xp = xp_of(new)
    return xp.concatenate([new[:n], old[n:]])


def _sigmoid(x):
    xp = xp_of(x)
    # NOTE: exp(-x) overflows to inf for very negative x, and 1 / (1 + inf) = 0 is
    # the right limit.
    with np.errstate(over="ignore"):
        return 1 / (1 + xp.exp(-x))


# -- Elman RNN: h_t = act(gates_x[t] + h_{t-1} @ W_hh^T + b_hh) ----------------------------------
def rnn_forward(gates_x, weight_hh, bias_hh, h0, nonlinearity="tanh", batch_sizes=None,
                reverse=False):  # fmt: skip
    """Returns (out (T + 1, B, H), work)."""
    xp = xp_of(gates_x)
    steps, batch, hidden = gates_x.shape
    h = h0 = initial_state(h0, gates_x, hidden)
    states = np.zeros_like(gates_x)
    for t in time_steps(steps, reverse):
        n = running(batch_sizes, t, batch)
        pre = gates_x[t, :n] + h[:n] @ weight_hh.T
        if bias_hh is not None:
            pre = pre + bias_hh
        new = xp.tanh(pre) if nonlinearity == "tanh" else xp.maximum(pre, 0)
        h = states[t] = _keep_running_rows(new, h, n)
    return pack_outputs(states, (h,), batch_sizes), (states, h0)


def rnn_backward(work, weight_hh, grad, nonlinearity="tanh", batch_sizes=None, reverse=False,
                 need_weight=True, need_bias=True):  # fmt: skip
    """Returns (d_gates_x, d_weight_hh, d_bias_hh, d_h0)."""
    states, h0 = work
    steps, batch, _ = states.shape
    d_pre = np.zeros_like(states)
    dh = grad[steps].copy()
    for t in time_steps(steps, not reverse):
        n = running(batch_sizes, t, batch)
        dh[:n] += grad[t, :n]
        h = states[t, :n]
        # NOTE: both derivatives through the output: tanh' = 1 - h^2, relu' = [h > 0]
        # (0 at the kink, as torch).
        slope = 1 - h * h if nonlinearity == "tanh" else (h > 0).astype(h.dtype)
        d_pre[t, :n] = dh[:n] * slope
        dh[:n] = d_pre[t, :n] @ weight_hh
    grad_w, grad_b = recurrent_weight_grads(d_pre, states, h0, reverse, need_weight, need_bias)
    return d_pre, grad_w, grad_b, dh


# -- LSTM, torch's gate order i, f, g, o ---------------------------------------------------------
def lstm_forward(gates_x, weight_hh, bias_hh, h0, c0, batch_sizes=None, reverse=False):
    """Returns (out (T + 2, B, H), work).

    gates = gates_x[t] + h_{t-1} @ W_hh^T + b_hh, split into i, f, g, o;
    c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g), h_t = sigmoid(o) * tanh(c_t).
    """
    xp = xp_of(gates_x)
    steps, batch, hidden = gates_x.shape[0], gates_x.shape[1], weight_hh.shape[1]
    h = h0 = initial_state(h0, gates_x, hidden)
    c = c0 = initial_state(c0, gates_x, hidden)
    acts = np.zeros_like(gates_x)  # i, f, g, o after their nonlinearities
    states, cells = np.zeros_like(acts[..., :hidden]), np.zeros_like(acts[..., :hidden])
    for t in time_steps(steps, reverse):
        n = running(batch_sizes, t, batch)
        gates = gates_x[t, :n] + h[:n] @ weight_hh.T
        if bias_hh is not None:
            gates = gates + bias_hh
        i, f, g, o = (gates[:, k * hidden : (k + 1) * hidden] for k in range(4))
        i, f, g, o = _sigmoid(i), _sigmoid(f), xp.tanh(g), _sigmoid(o)
        acts[t, :n] = xp.concatenate([i, f, g, o], axis=1)
        new_c = f * c[:n] + i * g
        new_h = o * xp.tanh(new_c)
        h, c = _keep_running_rows(new_h, h, n), _keep_running_rows(new_c, c, n)
        states[t], cells[t] = h, c
    return pack_outputs(states, (h, c), batch_sizes), (acts, cells, states, h0, c0)


def lstm_backward(work, weight_hh, grad, batch_sizes=None, reverse=False, need_weight=True,
                  need_bias=True):  # fmt: skip
    """Returns (d_gates_x, d_weight_hh, d_bias_hh, d_h0, d_c0)."""
    xp = xp_of(grad)
    acts, cells, states, h0, c0 = work
    steps, batch, hidden = states.shape
    d_gates = np.zeros_like(acts)
    dh, dc = grad[steps].copy(), grad[steps + 1].copy()
    for t in time_steps(steps, not reverse):
        n = running(batch_sizes, t, batch)
        i, f, g, o = (acts[t, :n, k * hidden : (k + 1) * hidden] for k in range(4))
        tanh_c = xp.tanh(cells[t, :n])
        dh[:n] += grad[t, :n]
        dc[:n] += dh[:n] * o * (1 - tanh_c**2)  # h_t = o * tanh(c_t)
        c_before = state_before(cells, c0, t, reverse)[:n]
        d_i = dc[:n] * g * i * (1 - i)  # through the nonlinearity of each gate
        d_f = dc[:n] * c_before * f * (1 - f)
        d_g = dc[:n] * i * (1 - g * g)
        d_o = dh[:n] * tanh_c * o * (1 - o)
        d_gates[t, :n] = xp.concatenate([d_i, d_f, d_g, d_o], axis=1)
        dc[:n] = dc[:n] * f  # c_t = f * c_{t-1} + ...
        dh[:n] = d_gates[t, :n] @ weight_hh
    grad_w, grad_b = recurrent_weight_grads(d_gates, states, h0, reverse, need_weight, need_bias)
    return d_gates, grad_w, grad_b, dh, dc


# -- GRU, torch's gate order r, z, n and formula -------------------------------------------------
def gru_forward(gates_x, weight_hh, bias_hh, h0, batch_sizes=None, reverse=False):
    """Returns (out (T + 1, B, H), work).

    a = gates_x[t], b = h_{t-1} @ W_hh^T + b_hh, split into r, z, n blocks:
    r = sigmoid(a_r + b_r), z = sigmoid(a_z + b_z), n = tanh(a_n + r * b_n),
    h_t = (1 - z) * n + z * h_{t-1}.
    """
    xp = xp_of(gates_x)
    steps, batch, hidden = gates_x.shape[0], gates_x.shape[1], weight_hh.shape[1]
    h = h0 = initial_state(h0, gates_x, hidden)
    acts = np.zeros_like(gates_x)  # r, z, n after their nonlinearities
    hidden_n = np.zeros_like(acts[..., :hidden])  # b_n, which r scales
    states = np.zeros_like(hidden_n)
    for t in time_steps(steps, reverse):
        n = running(batch_sizes, t, batch)
        b = h[:n] @ weight_hh.T
        if bias_hh is not None:
            b = b + bias_hh
        a_r, a_z, a_n = (gates_x[t, :n, k * hidden : (k + 1) * hidden] for k in range(3))
        b_r, b_z, b_n = (b[:, k * hidden : (k + 1) * hidden] for k in range(3))
        r, z = _sigmoid(a_r + b_r), _sigmoid(a_z + b_z)
        new = xp.tanh(a_n + r * b_n)
        acts[t, :n] = xp.concatenate([r, z, new], axis=1)
        hidden_n[t, :n] = b_n
        h = states[t] = _keep_running_rows((1 - z) * new + z * h[:n], h, n)
    return pack_outputs(states, (h,), batch_sizes), (acts, hidden_n, states, h0)


def gru_backward(work, weight_hh, grad, batch_sizes=None, reverse=False, need_weight=True,
                 need_bias=True):  # fmt: skip
    """Returns (d_gates_x, d_weight_hh, d_bias_hh, d_h0)."""
    xp = xp_of(grad)
    acts, hidden_n, states, h0 = work
    steps, batch, hidden = states.shape
    d_gates_x = np.zeros_like(acts)  # gradient of a = gates_x[t]
    d_recurrent = np.zeros_like(acts)  # gradient of b = h @ W_hh^T + b_hh
    dh = grad[steps].copy()
    for t in time_steps(steps, not reverse):
        n = running(batch_sizes, t, batch)
        r, z, new = (acts[t, :n, k * hidden : (k + 1) * hidden] for k in range(3))
        h_before = state_before(states, h0, t, reverse)[:n]
        dh[:n] += grad[t, :n]
        d_new = dh[:n] * (1 - z) * (1 - new * new)  # gradient of a_n + r * b_n
        d_z = dh[:n] * (h_before - new) * z * (1 - z)
        d_r = d_new * hidden_n[t, :n] * r * (1 - r)
        d_gates_x[t, :n] = xp.concatenate([d_r, d_z, d_new], axis=1)
        d_recurrent[t, :n] = xp.concatenate([d_r, d_z, d_new * r], axis=1)
        dh[:n] = dh[:n] * z + d_recurrent[t, :n] @ weight_hh
    grad_w, grad_b = recurrent_weight_grads(
        d_recurrent, states, h0, reverse, need_weight, need_bias
    )
    return d_gates_x, grad_w, grad_b, dh
