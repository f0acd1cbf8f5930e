"""Capture and replay: `gradwork.compile(step_fn)` runs a fixed-shape training step
without rebuilding its graph (issue "CPU speed").

The first call runs `step_fn` eagerly while a recorder writes down, in order,
every op's forward (its class, where each input comes from, its options),
each `backward()` walk (the topological order and where every gradient goes)
and each `optimizer.zero_grad()` / `optimizer.step()`: the *tape* (`_tape.py`).
Later calls with the same input signature run the tape (`_replay.py`): the
same array calls in the same order, so the same bits, minus the Python of
the step, its Module calls, graph nodes, Tensor wrappers, version counting
and the topological sort.

Files: `_tape.py` records (and refuses what it cannot replay), `_replay.py`
runs a tape, `_step.py` holds the guards and the cache of tapes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._step import CompiledStep

__all__ = ["CompiledStep", "compile"]


def compile(step_fn: Callable[..., Any], *, check_every: int = 0) -> CompiledStep:  # noqa: A001 - torch's name
    """Trace `step_fn` once per input signature and replay it on later calls.

    `step_fn(*args)` is one training step on tensors: forward, loss,
    `loss.backward()`, `optimizer.step()` (and `zero_grad()`), returning the
    loss tensor (or None, or tuples/lists/dicts of tensors). Replays give
    results bit-identical to running `step_fn` eagerly: they make the same
    NumPy calls on the same operands in the same order.

    A new trace (an eager run that records) happens when the guards fail:
    a tensor argument's shape, dtype or requires_grad changes, a non-tensor
    argument's value changes, grad mode or inference mode changes, a module
    the step called switches train/eval, or a parameter or buffer the ops
    read changes shape, dtype or requires_grad. A tape is kept per input
    signature, so a smaller last batch costs one trace, not one per epoch.

    The step runs eagerly (with a warning naming why) when it does what a
    tape cannot replay: reading a tensor's value (`.item()`, `float(t)`,
    `if t:` - return the loss and read it outside), feeding an op a tensor
    made outside the ops (a factory, `.detach()`, a dropout mask: its values
    would be frozen) or an array that is not an argument, changing a tensor
    in place, changing parameters, gradients or a module buffer from Python
    on raw arrays (`p.array -= ...`, `p.grad = None`, clipping by hand, batch
    norm's `num_batches_tracked`), changing an optimizer's hyperparameters
    (a scheduler stepped inside the step), hooks or `retain_grad()`, a graph
    carried over from an earlier step, `autograd.grad`, a closure given to
    `optimizer.step`, anomaly detection, torch-spelled custom Functions, or
    returning something other than tensors.

    NOT detected (the replay repeats the traced step's ops): a Python
    branch on anything not guarded above (a step counter, a global, a
    random draw made in Python), and Python side effects on anything but
    tensors and optimizers (appending to a list, printing, a counter).
    Keep those outside the compiled function, or pass `check_every=N` to
    re-run the step eagerly every N calls and re-trace; `stats["changed"]`
    counts the re-traces whose sequence of ops differed from the tape's.

    The tape is a flat list of kernel calls on buffers named by position
    (ARG, VALUE, EXTERNAL, CONST): on a GPU the same list could be recorded
    once into a CUDA graph and launched as one, since it holds no Python
    decisions. That is NOT done (docs/gpu.md, "CUDA graphs"): it needs ops
    writing into buffers the tape owns and keeps alive (a graph bakes in
    addresses; today each replayed op allocates its output as in eager
    mode), the optimizer's per-step scalars (Adam's bias corrections) in
    device memory rather than kernel arguments a graph would freeze, and
    cuBLAS calls that CuPy allows during stream capture.

    Tracing swaps a few class attributes (Tensor.__init__, Tensor.item,
    Module.__call__, ...) for the length of one eager step and puts them
    back after, even on an error: trace in one thread at a time.

    Args:
        step_fn: the step; its tensor arguments may be nested in tuples,
            lists and dicts.
        check_every: every this many calls, run eagerly and re-trace (0: never).

    Returns:
        A callable with `stats` (traces, replays, eager, changed) and
        `reasons()` (why a signature runs eagerly).

    Example:
        >>> import gradwork as gw
        >>> model = gw.nn.Linear(3, 1)
        >>> opt = gw.optim.SGD(model.parameters(), lr=0.1)
        >>> def step(x, y):
        ...     opt.zero_grad()
        ...     loss = ((model(x) - y) ** 2).mean()
        ...     loss.backward()
        ...     opt.step()
        ...     return loss
        >>> fast = gw.compile(step)
        >>> x, y = gw.ones(4, 3), gw.zeros(4, 1)
        >>> for _ in range(3):
        ...     loss = fast(x, y)
        >>> fast.stats["traces"], fast.stats["replays"]
        (1, 2)
    """
    return CompiledStep(step_fn, check_every=check_every)
