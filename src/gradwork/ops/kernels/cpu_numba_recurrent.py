"""The LSTM recurrence with each step's pointwise work compiled: one Numba call per step.

`cpu_recurrent_lstm.py` runs a step as one GEMM (h_{t-1} @ W_hh^T) and about
a dozen NumPy calls over the (batch, 4 hidden) gates. Here the GEMM stays
NumPy's (one BLAS thread, `single_threaded_blas`, as there) and everything
else of a step is one compiled pass over the batch rows: the input part and
the bias added, the four nonlinearities, c_t = f c_{t-1} + i g, h_t =
o tanh(c_t), and what backward reads (the activations, c_t, tanh(c_t)).
Backward likewise: dh, dc and the four gate gradients of a step in one pass.

Why it is faster: the gates stream through the cache once per step instead
of once per NumPy call, and the exponentials are vectorised. Numba's np.exp
and np.tanh call libm once per element (measured on a 64 x 512 float32 block:
exp 114 us, tanh 634 us, against NumPy's SIMD exp 47 us, tanh 91 us), so this
module has its own exp (`_exp`: Cephes' range reduction, its polynomial in
float32 and its Pade form in float64, 2^k built from the bits), which the
compiler vectorises (20-30 us for the same block; within 1 ulp in float32
and 1.7 ulp in float64, measured on 2M points). sigmoid(x) = 1 / (1 + exp(-x))
and tanh(x) = 1 - 2 / (1 + exp(2x)) are written on it. A forward step's
pointwise work takes 43 us (64 x 128 cells), backward's 9 us; cpu_recurrent's
NumPy calls about 140 and 65 us (its whole kernel less its GEMMs, per step).
lstm_forward 6.9 -> 4.8 ms, lstm_backward 8.1 -> 7.1 ms (most of it BLAS's).

So the results are not bit-identical to the reference's (another exp, tanh
through exp, FMAs): they agree to rounding (tanh within 4e-16 absolute in
float64, 2e-7 in float32; tests/ops/test_compiled_recurrent.py checks the
tolerances of test_recurrent_kernels.py). exp's argument is clamped where
the result is saturated anyway (|x| past 87 in float32, 708 in float64), so
saturated gates and +-inf give the limits, finite; a NaN stays NaN.

Measured (shared 2-core machine, best of 9 interleaved rounds), the suite's
LSTM(28, 128), batch 64, 28 steps, float32: lstm_forward + lstm_backward,
1 thread CPU time 15.9 -> 11.5 ms (19.4 -> 14.5 in a busier run), 2 threads
wall 22.0 -> 15.5 ms (38.9 -> 30.8 busier). What remains is BLAS's: the 56 per-step
GEMMs ~6 ms, the weight gradient's GEMM ~2.9 ms. The suite's "lstm" training
step (row_lstm, Adam): 1 thread CPU 18.8 -> 14.9 ms, 2 threads wall 56.8 ->
46.4 ms; benchmarks/lstm_bench.py --shape suite, fastest round: gradwork
18.3-18.8 -> 14.4-14.6 ms a step, torch's 15.7-21.3 ms on the same machine.

RNN and GRU are cpu_recurrent's (re-exported), so this module is a whole
recurrent kernel module (`gradwork.ops.kernels.RECURRENT_MODULES`).

Example:
    >>> import numpy as np
    >>> from gradwork.ops.kernels import reference_recurrent as reference
    >>> rng = np.random.default_rng(0)
    >>> gates_x, weight = rng.standard_normal((5, 2, 8)), rng.standard_normal((8, 2))
    >>> fast, _ = lstm_forward(gates_x, weight, None, None, None)
    >>> plain, _ = reference.lstm_forward(gates_x, weight, None, None, None)
    >>> bool(np.allclose(fast, plain, rtol=1e-12, atol=1e-12))
    True
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, overload

from gradwork.ops.kernels import cpu_recurrent
from gradwork.ops.kernels.compiled import jit
from gradwork.ops.kernels.cpu_recurrent import (  # noqa: F401  (not compiled here)
    gru_backward,
    gru_forward,
    rnn_backward,
    rnn_forward,
)
from gradwork.ops.kernels.cpu_recurrent_parts import finish, output_buffers, weight_grads
from gradwork.ops.kernels.reference_recurrent import initial_state, running, time_steps
from gradwork.ops.kernels.threads import single_threaded_blas

__all__ = ["gru_backward", "gru_forward", "lstm_backward", "lstm_forward", "rnn_backward",
           "rnn_forward"]  # fmt: skip


# -- a vectorisable exp ----------------------------------------------------------------------------
@intrinsic
def _power_of_two(typingctx, rounded):
    """2^k, for `rounded` = k + 1.5 * 2^(mantissa bits): whose low bits hold k.

    In LLVM IR because Numba would widen an int32's shift to int64 (twice the vector lanes).
    """
    width = rounded.bitwidth
    mantissa, exponent_bias = (23, 127) if width == 32 else (52, 1023)

    def codegen(context, builder, signature, args):
        integer = ir.IntType(width)
        bits = builder.bitcast(args[0], integer)
        exponent = builder.shl(bits, integer(mantissa))  # k's bits into the exponent field
        exponent = builder.add(exponent, integer(exponent_bias << mantissa))
        return builder.bitcast(exponent, args[0].type)

    return rounded(rounded), codegen


def _exp(x):
    """exp(x) for |x| within the clamp below (typed per float width by the overload)."""
    raise NotImplementedError("compiled code only")


_EXPF_POLYNOMIAL = (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
                    1.6666665459e-1, 5.0000001201e-1)  # fmt: skip
_EXP_P = (1.26177193074810590878e-4, 3.02994407707441961300e-2, 9.99999999999999999910e-1)
_EXP_Q = (3.00198505138664455042e-6, 2.52448340349684104192e-3, 2.27265548208155028766e-1,
          2.00000000000000000009e0)  # fmt: skip


def _exp_for(kind):
    """exp in `kind` (np.float32 or np.float64), from Cephes' expf / exp.

    x = k ln2 + r with k = round(x / ln2) (added to 1.5 * 2^mantissa bits, the
    float's low bits hold k: no float -> int conversion, which NaN would make
    undefined) and |r| <= ln2 / 2; exp(r) by a polynomial (float32) or Cephes'
    Pade form (float64); 2^k built from its bits. x is clamped so that 2^k stays
    a normal number: exp(88) = 1.7e38 (float32) is then the largest result.
    """
    single = kind is np.float32
    one, two = kind(1), kind(2)
    low, high = (kind(-87), kind(88)) if single else (kind(-708), kind(709))
    log2e = kind(1.4426950408889634)
    magic = kind(1.5 * 2.0**23) if single else kind(1.5 * 2.0**52)
    ln2_high = kind(0.693359375) if single else kind(6.93145751953125e-1)  # few bits: k ln2_high
    ln2_low = kind(-2.12194440e-4) if single else kind(1.42860682030941723212e-6)  # is exact
    # expf's polynomial for exp(r) = 1 + r + r^2 (p5 + p4 r + ...), float32
    p0, p1, p2, p3, p4, p5 = map(kind, _EXPF_POLYNOMIAL)
    # exp's Pade form, float64: exp(r) = 1 + 2 P(r^2) r / (Q(r^2) - P(r^2) r)
    q_p0, q_p1, q_p2 = map(kind, _EXP_P)
    q0, q1, q2, q3 = map(kind, _EXP_Q)

    def exp(x):
        if x > high:
            x = high
        if x < low:
            x = low
        rounded = x * log2e + magic
        k = rounded - magic
        r = x - k * ln2_high
        r = r - k * ln2_low
        rr = r * r
        if single:
            y = (((((p0 * r + p1) * r + p2) * r + p3) * r + p4) * r + p5) * rr + r + one
        else:
            p = r * ((q_p0 * rr + q_p1) * rr + q_p2)
            y = one + two * (p / ((((q0 * rr + q1) * rr + q2) * rr + q3) - p))
        return y * _power_of_two(rounded)

    return exp


@overload(_exp)
def _exp_overload(x):
    if isinstance(x, types.Float):
        return _exp_for(np.float32 if x.bitwidth == 32 else np.float64)
    return None


@jit(inline="always", error_model="numpy")
def _sigmoid(x, one):
    return one / (one + _exp(-x))


@jit(inline="always", error_model="numpy")
def _tanh(x, one):
    # 1 - 2 / (1 + exp(2x)): saturates to exactly +-1, absolute error ~1 ulp of 1.
    return one - (one + one) / (one + _exp(x + x))


# -- forward: one step --------------------------------------------------------------------------
# NOTE: every loop below indexes 1-D row views with the loop counter alone: an
# index like `j + hidden` makes Numba check for negative indices, and the loop
# no longer vectorises; nor does a float division without `error_model="numpy"`
# (Python's model adds a ZeroDivisionError branch). One forward step: 340 us -> 60 us.
@jit(inline="always", error_model="numpy")
def _gates(row, hidden):
    """The four gate blocks i, f, g, o of a row of 4 * hidden, as views."""
    return row[:hidden], row[hidden : 2 * hidden], row[2 * hidden : 3 * hidden], row[3 * hidden :]


@jit(inline="always", error_model="numpy")
def _forward_row(r, t, gates_x, recurrent, bias, c_before, acts, cells, tanh_cells, states, one):
    """Row r of step t: gates = gates_x[t] + recurrent + bias, then the cell (i, f, g, o)."""
    hidden = cells.shape[2]
    x_i, x_f, x_g, x_o = _gates(gates_x[t, r], hidden)
    r_i, r_f, r_g, r_o = _gates(recurrent[r], hidden)
    b_i, b_f, b_g, b_o = _gates(bias, hidden)
    a_i, a_f, a_g, a_o = _gates(acts[t, r], hidden)
    c_old, c_new, tanh_new, h_new = c_before[r], cells[t, r], tanh_cells[t, r], states[t, r]
    for j in range(hidden):
        i = _sigmoid(x_i[j] + r_i[j] + b_i[j], one)
        f = _sigmoid(x_f[j] + r_f[j] + b_f[j], one)
        g = _tanh(x_g[j] + r_g[j] + b_g[j], one)
        o = _sigmoid(x_o[j] + r_o[j] + b_o[j], one)
        c = f * c_old[j] + i * g
        tanh_c = _tanh(c, one)
        a_i[j], a_f[j], a_g[j], a_o[j] = i, f, g, o
        c_new[j], tanh_new[j], h_new[j] = c, tanh_c, o * tanh_c


# NOTE: one thread. Split over the rows on 2 threads, a step ran slower on this shared
# 2-core machine (forward + backward step: 122 against 59 us at best, 770 against 105
# median), as cpu_recurrent_lstm.py found for the per-step GEMM.
@jit(error_model="numpy", fastmath={"contract"})  # contract: FMAs, 60 -> 43 us a step
def _forward_step(t, n, gates_x, recurrent, bias, h_before, c_before, acts, cells, tanh_cells,
                  states, one):  # fmt: skip
    for r in range(n):
        _forward_row(r, t, gates_x, recurrent, bias, c_before, acts, cells, tanh_cells, states, one)
    for r in range(n, states.shape[1]):  # sequences not running at step t keep their state
        states[t, r] = h_before[r]
        cells[t, r] = c_before[r]


# -- backward: one step -------------------------------------------------------------------------
@jit(inline="always", error_model="numpy")
def _backward_row(r, t, acts, tanh_cells, c_before, grad, dh, dc, d_gates, one):
    """Row r of step t: the running dh, dc take step t's gradient; the gate gradients out."""
    hidden = dh.shape[1]
    i_, f_, g_, o_ = _gates(acts[t, r], hidden)
    d_i, d_f, d_g, d_o = _gates(d_gates[t, r], hidden)
    tanh_row, c_old, grad_row = tanh_cells[t, r], c_before[r], grad[t, r]
    dh_row, dc_row = dh[r], dc[r]
    for j in range(hidden):
        i, f, g, o, tanh_c = i_[j], f_[j], g_[j], o_[j], tanh_row[j]
        dh_j = dh_row[j] + grad_row[j]
        dc_j = dc_row[j] + dh_j * o * (one - tanh_c * tanh_c)  # h_t = o tanh(c_t)
        d_i[j] = dc_j * g * i * (one - i)
        d_f[j] = dc_j * c_old[j] * f * (one - f)
        d_g[j] = dc_j * i * (one - g * g)
        d_o[j] = dh_j * tanh_c * o * (one - o)
        dc_row[j] = dc_j * f  # c_t = f c_{t-1} + ...; dh is the GEMM's, after this step


@jit(error_model="numpy", fastmath={"contract"})
def _backward_step(t, n, acts, tanh_cells, c_before, grad, dh, dc, d_gates, one):
    for r in range(n):
        _backward_row(r, t, acts, tanh_cells, c_before, grad, dh, dc, d_gates, one)


# -- the kernels ---------------------------------------------------------------------------------
def _compiled(array) -> bool:
    """Whether the compiled loops take this array (else cpu_recurrent's NumPy ones run)."""
    return type(array) is np.ndarray and array.dtype in (np.float32, np.float64)


def _dense(array, dtype):
    """`array` as a C-contiguous array of `dtype` (a copy only when it is not one)."""
    return np.ascontiguousarray(array, dtype=dtype)


def lstm_forward(gates_x, weight_hh, bias_hh, h0, c0, batch_sizes=None, reverse=False):
    if not _compiled(gates_x):
        return cpu_recurrent.lstm_forward(gates_x, weight_hh, bias_hh, h0, c0, batch_sizes,
                                          reverse)  # fmt: skip
    dtype = gates_x.dtype
    steps, batch, hidden = gates_x.shape[0], gates_x.shape[1], weight_hh.shape[1]
    gates_x = _dense(gates_x, dtype)
    # NOTE: the states take gates_x's dtype, as cpu_recurrent's output buffers do.
    h = h0 = _dense(initial_state(h0, gates_x, hidden), dtype)
    c = c0 = _dense(initial_state(c0, gates_x, hidden), dtype)
    bias = np.zeros(4 * hidden, dtype) if bias_hh is None else _dense(bias_hh, dtype)
    out, states = output_buffers(gates_x, hidden, 2, batch_sizes)
    # Rows that skip a step are never read back; zeros keep `work` deterministic.
    fresh = np.empty_like if batch_sizes is None else np.zeros_like
    acts, cells, tanh_cells = fresh(gates_x), np.empty_like(states), fresh(states)
    w_t, recurrent = _dense(weight_hh.T, dtype), np.empty_like(gates_x[0])
    one = dtype.type(1)
    with single_threaded_blas():
        for t in time_steps(steps, reverse):
            n = running(batch_sizes, t, batch)
            np.matmul(h[:n], w_t, out=recurrent[:n])
            _forward_step(t, n, gates_x, recurrent, bias, h, c, acts, cells, tanh_cells, states,
                          one)  # fmt: skip
            h, c = states[t], cells[t]
    out[steps], out[steps + 1] = h, c
    finish(out, states, batch_sizes)
    return out, (acts, cells, tanh_cells, states, h0, c0)


def lstm_backward(work, weight_hh, grad, batch_sizes=None, reverse=False, need_weight=True,
                  need_bias=True):  # fmt: skip
    acts, cells, tanh_cells, states, h0, c0 = work
    if not _compiled(acts):  # forward ran cpu_recurrent's kernel: its `work`
        return cpu_recurrent.lstm_backward(work, weight_hh, grad, batch_sizes, reverse,
                                           need_weight, need_bias)  # fmt: skip
    steps, batch, hidden = states.shape
    grad, weight = _dense(grad, acts.dtype), _dense(weight_hh, acts.dtype)
    # Zeros where a sequence does not run at a step: the compiled loop skips those rows.
    d_gates = (np.empty_like if batch_sizes is None else np.zeros_like)(acts)
    dh, dc = grad[steps].copy(), grad[steps + 1].copy()
    one = acts.dtype.type(1)
    with single_threaded_blas():
        for t in time_steps(steps, not reverse):
            n = running(batch_sizes, t, batch)
            before = t + 1 if reverse else t - 1
            c_before = c0 if before in (-1, steps) else cells[before]
            _backward_step(t, n, acts, tanh_cells, c_before, grad, dh, dc, d_gates, one)
            np.matmul(d_gates[t, :n], weight, out=dh[:n])
    grad_w, grad_b = weight_grads(d_gates, states, h0, reverse, need_weight, need_bias)
    return d_gates, grad_w, grad_b, dh, dc
