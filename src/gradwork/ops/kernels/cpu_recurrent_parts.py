"""Pieces the fast recurrences share (`cpu_recurrent.py`, `cpu_recurrent_lstm.py`).

They write into preallocated arrays with `out=` and views, and know about
variable lengths (`batch_sizes`): rows past `batch_sizes[t]` skip step t.

Example:
    >>> import numpy as np
    >>> states = np.arange(3.0).reshape(3, 1, 1)
    >>> previous(states, np.full((1, 1), -1.0), reverse=False)[:, 0, 0].tolist()
    [-1.0, 0.0, 1.0]
"""

from __future__ import annotations

import numpy as np


def output_buffers(gates_x, hidden: int, finals: int, batch_sizes):
    """The packed output (T + finals, B, H) and the array the loop writes the states into:
    the output itself when every row runs every step, else a separate one (copied after)."""
    steps, batch = gates_x.shape[:2]
    out = np.empty_like(gates_x, shape=(steps + finals, batch, hidden))
    states = out[:steps] if batch_sizes is None else np.empty_like(out[:steps])
    return out, states


def finish(out, states, batch_sizes) -> None:
    """Copy the states into the output, zeroing rows of sequences that had ended."""
    if batch_sizes is None:
        return  # the states were written straight into the output
    steps = states.shape[0]
    out[:steps] = states
    for t in range(steps):
        out[t, int(batch_sizes[t]) :] = 0


def carry(new, old, n: int) -> None:
    """Rows past `n` (sequences not running at this step) keep their state."""
    if n < new.shape[0]:
        new[n:] = old[n:]


def previous(states, initial, reverse: bool):
    """The state each step started from: `states` shifted by one step in time (a copy)."""
    prev = np.empty_like(states)
    if reverse:
        prev[-1], prev[:-1] = initial, states[1:]
    else:
        prev[0], prev[1:] = initial, states[:-1]
    return prev


def previous_pairs(states, initial, start: int, stop: int, reverse: bool):
    """For steps [start, stop): (steps, the states they started from) as slice/array pairs.

    No copy: steps whose previous state is stored are one block against `states`
    shifted by one; the step that started from `initial` (if in range) is its own pair.
    """
    length = states.shape[0]
    if not reverse and start == 0:
        pairs = [(slice(0, 1), initial[None]), (slice(1, stop), states[: stop - 1])]
    elif not reverse:
        pairs = [(slice(start, stop), states[start - 1 : stop - 1])]
    elif stop == length:
        pairs = [(slice(length - 1, length), initial[None])]
        pairs.append((slice(start, length - 1), states[start + 1 : length]))
    else:
        pairs = [(slice(start, stop), states[start + 1 : stop + 1])]
    return [(steps, before) for steps, before in pairs if steps.stop > steps.start]


def weight_grads(d_gates, states, initial, reverse, need_weight, need_bias):
    """dW_hh and db_hh: each step's gate gradient times the state it started from.

    Two GEMMs over all steps, on every BLAS thread: steps 1.. against the stored
    states shifted by one, and the first step against the initial state (no
    shifted copy is made).
    """
    grad_w = grad_b = None
    if need_weight:
        grad_w = np.zeros_like(d_gates, shape=(d_gates.shape[-1], states.shape[-1]))
        for steps, before in previous_pairs(states, initial, 0, states.shape[0], reverse):
            grad_w += flat(d_gates[steps]).T @ flat(before)
    if need_bias:
        grad_b = flat(d_gates).sum(axis=0)
    return grad_w, grad_b


def flat(array):
    """(T, B, X) -> (T * B, X), a view."""
    return array.reshape(-1, array.shape[-1])
