"""Running a tape: each op's forward and backward, called directly on arrays.

What the eager step spends besides the array work, a replay skips: no graph
nodes linked, no Tensors wrapped around intermediate results, no version
bookkeeping, no topological sort, no Module calls or Python of the step
function. What it keeps is every array call the eager step makes, with the
same operands in the same order (forward, the reverse walk with its
gradient sums, leaf accumulation, the optimizer's own `step`), which is why
its results are bit-identical to the eager step's.

The walk below mirrors `autograd.engine._propagate` and `_hand_on` line for
line; tests/core/test_compile.py holds the two to the same bits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradwork import _arrays
from gradwork._arrays import is_device_array
from gradwork.autograd import function
from gradwork.autograd.engine import accumulate_leaf
from gradwork.autograd.function import unbroadcast

from ._tape import ARG, CONST, EXTERNAL, VALUE


def replay(events: tuple, releases: tuple, args: list[Any]) -> list[Any]:
    """Run the tape on this call's tensor arguments; return the values (op outputs).

    `releases[i]` (see `release_plan`) names the values and nodes event i
    used last: they are dropped there, as the eager step drops a tensor
    nothing refers to any more, so a replay holds no more memory than it.
    """
    values: list[Any] = [None] * len(releases[-1][2]) if releases else []
    nodes: list[Any] = list(values)
    count = 0
    for event, (done_values, done_nodes, _, walk_drops) in zip(events, releases, strict=True):
        kind = event[0]
        if kind == "call":
            _, cls, sources, options, needs = event
            ctx = cls()
            ctx.needs_input_grad = list(needs)
            out = cls.forward(ctx, *[_array(s, args, values) for s in sources], **options)
            if not isinstance(out, np.ndarray) and not is_device_array(out):
                out = np.asarray(out)  # as the Tensor wrapper does: reductions give scalars
            values[count], nodes[count] = out, ctx
            count += 1
        elif kind == "backward":
            _walk(event[1], event[2], args, values, nodes, walk_drops)
        elif kind == "step":
            event[1].step()
        else:  # zero_grad
            event[1].zero_grad(event[2])
        for k in done_values:
            values[k] = None
        for k in done_nodes:
            nodes[k] = None
    return values


def release_plan(events: tuple, kept: set[int]) -> tuple:
    """For each event: (values it used last, nodes it used last, all value indices,
    and for a backward walk, the values each of its nodes used last).

    A value is used by the calls that read it and by the backward walks that
    start from it or read its shape; a node by the walks that run it (a node
    no walk runs, an op under no_grad, is dropped right after its call).
    Inside a walk a value goes once the last node reading it has run, as the
    eager walk lets go of each node's inputs. `kept` (the step's returned
    values) are never dropped.
    """
    last_value: dict[int, tuple[int, int]] = {}  # value -> (event, position in its walk)
    last_node: dict[int, int] = {}
    count = 0
    for i, event in enumerate(events):
        if event[0] == "call":
            for kind, what in event[2]:
                if kind == VALUE:
                    last_value[what] = (i, -1)
            last_value.setdefault(count, (i, -1))
            last_node[count] = i
            count += 1
        elif event[0] == "backward":
            last_value[event[1]] = (i, -1)
            for position, (index, sources, _) in enumerate(event[2]):
                last_node[index] = i
                for kind, what in sources:
                    if kind == VALUE:
                        last_value[what] = (i, position)
    plan = []
    everything = tuple(range(count))
    for i, event in enumerate(events):
        ending = [(k, pos) for k, (last, pos) in last_value.items() if last == i and k not in kept]
        values = tuple(k for k, pos in ending if pos == -1)
        nodes = tuple(k for k, last in last_node.items() if last == i)
        walk = event[2] if event[0] == "backward" else ()
        walk_drops = tuple(tuple(k for k, pos in ending if pos == p) for p in range(len(walk)))
        plan.append((values, nodes, everything, walk_drops))
    return tuple(plan)


def _array(source: tuple, args: list[Any], values: list[Any]) -> Any:
    kind, what = source
    if kind == VALUE:
        return values[what]
    if kind == EXTERNAL:
        return what.array  # read now: an optimizer may have moved it into its flat buffer
    if kind == ARG:
        return args[what].array
    return what  # CONST


def _tensor(source: tuple, args: list[Any]) -> Any:
    return source[1] if source[0] == EXTERNAL else args[source[1]]


def _walk(root: int, plan: tuple, args: list[Any], values: list[Any], nodes: list[Any],
          drops: tuple) -> None:  # fmt: skip
    """The reverse walk, in the order the eager backward found, with its sums in its order."""
    seed = values[root]
    pending = {root: np.ones_like(seed)}
    for (index, sources, routes), done in zip(plan, drops, strict=True):
        grad = pending.pop(index, None)
        if grad is None:
            _release(values, done)
            continue
        node = nodes[index]
        grads = node.backward(node, grad)
        grads = grads if isinstance(grads, tuple) else (grads,)
        handed_out: tuple = ()
        for source, route, g in zip(sources, routes, grads, strict=False):
            if route is None or g is None:
                continue
            array = _array(source, args, values)
            if g.shape != array.shape:
                g = unbroadcast(g, array.shape)
            if _arrays._NAMESPACES and type(g) is not type(array):
                g = _arrays.asarray_like(g, array)  # a 0-d CPU tensor met a device one
            if route[0] == "node":
                previous = pending.get(route[1])
                pending[route[1]] = g if previous is None else previous + g
            else:
                owned = g is not grad and g.base is None and id(g) not in handed_out
                handed_out += (id(g),)
                accumulate_leaf(_tensor(source, args), g, owned)
        nodes[index] = None  # frees what the node saved, as the eager backward does
        _release(values, done)


def _release(values: list[Any], done: tuple) -> None:
    for k in done:
        values[k] = None


def wrap(value: Any) -> Any:
    """A replayed output as a Tensor outside any graph."""
    return function.make_tensor(value)


__all__ = ["replay", "wrap", "CONST"]
