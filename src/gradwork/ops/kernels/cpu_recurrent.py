"""Fast CPU recurrences: the loops of `reference_recurrent.py` in fewer, cheaper NumPy calls.

Same functions, arguments and results as the reference (read that first);
tests/ops/test_recurrent_kernels.py checks they agree. The LSTM, the one the
benchmarks lean on, has its own module (`cpu_recurrent_lstm.py`). Here, RNN and GRU:

- The per-step products run on ONE BLAS thread (`single_threaded_blas`; why:
  cpu_recurrent_lstm.py). The weight gradient of all steps is one big GEMM
  after the loop, on every thread.
- Every array a step touches is allocated before the loop and written with
  `out=` where NumPy allows; a step slices views out of them.
- What does not depend on the incoming gradient (each gate's slope) is
  computed for all steps at once before backward's loop, so the loop only
  multiplies the running gradient in.

Example:
    >>> import numpy as np
    >>> from gradwork.ops.kernels import reference_recurrent as reference
    >>> rng = np.random.default_rng(0)
    >>> gates_x, weight = rng.standard_normal((5, 2, 3)), rng.standard_normal((3, 1))
    >>> fast, _ = gru_forward(gates_x, weight, None, None)
    >>> plain, _ = reference.gru_forward(gates_x, weight, None, None)
    >>> bool(np.allclose(fast, plain))
    True
"""

from __future__ import annotations

import numpy as np

from gradwork.ops.kernels.cpu_recurrent_lstm import lstm_backward, lstm_forward
from gradwork.ops.kernels.cpu_recurrent_parts import (
    carry,
    finish,
    output_buffers,
    previous,
    weight_grads,
)
from gradwork.ops.kernels.reference_recurrent import initial_state, running, time_steps
from gradwork.ops.kernels.threads import single_threaded_blas

__all__ = ["gru_backward", "gru_forward", "lstm_backward", "lstm_forward", "rnn_backward",
           "rnn_forward"]  # fmt: skip


# -- Elman RNN -----------------------------------------------------------------------------------
def rnn_forward(gates_x, weight_hh, bias_hh, h0, nonlinearity="tanh", batch_sizes=None,
                reverse=False):  # fmt: skip
    steps, batch, hidden = gates_x.shape
    h = h0 = initial_state(h0, gates_x, hidden)
    pre = gates_x if bias_hh is None else gates_x + bias_hh
    out, states = output_buffers(gates_x, hidden, 1, batch_sizes)
    w_t = weight_hh.T
    with single_threaded_blas():
        for t in time_steps(steps, reverse):
            n = running(batch_sizes, t, batch)
            new = states[t]
            np.matmul(h[:n], w_t, out=new[:n])
            new[:n] += pre[t, :n]
            if nonlinearity == "tanh":
                np.tanh(new[:n], out=new[:n])
            else:
                np.maximum(new[:n], 0, out=new[:n])
            carry(new, h, n)
            h = new
    out[steps] = h
    finish(out, states, batch_sizes)
    return out, (states, h0)


def rnn_backward(work, weight_hh, grad, nonlinearity="tanh", batch_sizes=None, reverse=False,
                 need_weight=True, need_bias=True):  # fmt: skip
    states, h0 = work
    steps, batch, _ = states.shape
    # NOTE: both derivatives are written through the output: tanh' = 1 - h^2,
    # relu' = [h > 0] (0 at the kink, as torch).
    slope = 1 - states**2 if nonlinearity == "tanh" else (states > 0).astype(states.dtype)
    d_pre = np.zeros_like(states)
    dh = grad[steps].copy()
    with single_threaded_blas():
        for t in time_steps(steps, not reverse):
            n = running(batch_sizes, t, batch)
            dh_n = dh[:n]
            dh_n += grad[t, :n]
            np.multiply(dh_n, slope[t, :n], out=d_pre[t, :n])
            np.matmul(d_pre[t, :n], weight_hh, out=dh_n)
    grad_w, grad_b = weight_grads(d_pre, states, h0, reverse, need_weight, need_bias)
    return d_pre, grad_w, grad_b, dh


# -- GRU -----------------------------------------------------------------------------------------
def _sigmoid_(x):
    """In place: x = sigmoid(x) = 1 / (1 + exp(-x)), in four calls and no temporary."""
    np.negative(x, out=x)
    np.exp(x, out=x)
    x += 1
    return np.reciprocal(x, out=x)


def gru_forward(gates_x, weight_hh, bias_hh, h0, batch_sizes=None, reverse=False):
    steps, batch, hidden = gates_x.shape[0], gates_x.shape[1], weight_hh.shape[1]
    h = h0 = initial_state(h0, gates_x, hidden)
    out, states = output_buffers(gates_x, hidden, 1, batch_sizes)
    # Zeros when some rows skip steps, so backward's all-steps arithmetic never
    # reads uninitialised memory there.
    fresh = np.empty_like if batch_sizes is None else np.zeros_like
    acts = fresh(gates_x)  # r, z, n after their nonlinearities
    hidden_n = fresh(states)  # b_n = (h @ W_hn^T + b_hn), which r scales
    w_t = weight_hh.T
    with single_threaded_blas(), np.errstate(over="ignore"):
        for t in time_steps(steps, reverse):
            n = running(batch_sizes, t, batch)
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
            carry(states[t], h, n)
            h = states[t]
    out[steps] = h
    finish(out, states, batch_sizes)
    return out, (acts, hidden_n, states, h0)


def gru_backward(work, weight_hh, grad, batch_sizes=None, reverse=False, need_weight=True,
                 need_bias=True):  # fmt: skip
    acts, hidden_n, states, h0 = work
    steps, batch, hidden = states.shape
    r, z, new = np.split(acts, 3, axis=2)
    # Local derivatives of h_t = (1 - z) * n + z * h_{t-1}, for all steps at once.
    d_new = (1 - z) * (1 - new**2)  # d h_t / d(n before tanh)
    d_update = (previous(states, h0, reverse) - new) * z * (1 - z)  # ... / d(z pre)
    d_reset = hidden_n * r * (1 - r)  # d(n pre) / d(r pre)
    d_input_n = np.zeros_like(states)  # gradient of a_n, the input part of n
    d_recurrent = np.zeros_like(acts)  # gradient of b = h @ W_hh^T + b_hh
    dh = grad[steps].copy()
    with single_threaded_blas():
        for t in time_steps(steps, not reverse):
            n = running(batch_sizes, t, batch)
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
    grad_w, grad_b = weight_grads(d_recurrent, states, h0, reverse, need_weight, need_bias)
    return d_gates_x, grad_w, grad_b, dh
