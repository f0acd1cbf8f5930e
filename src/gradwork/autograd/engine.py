"""Reverse mode: `backward` accumulates into `.grad`; `grad` returns gradients instead.

Both walk the same graph in reverse topological order (iteratively, so a graph
thousands of ops deep cannot hit Python's recursion limit) and hand each
node's input gradients on to the node that made that input.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np

from gradwork import _arrays
from gradwork._arrays import asarray_like, xp_of
from gradwork.autograd import anomaly, function
from gradwork.autograd.anomaly import _check_backward
from gradwork.autograd.function import (
    Function,
    _check_saved_versions,
    _run_backward,
    unbroadcast,
)

# --------------------------------------------------------------------------
# Reverse-mode backward
# --------------------------------------------------------------------------
_FREED_TWICE = (
    "Trying to backward through the graph a second time: its saved values were "
    "freed by the first backward. Call .backward(retain_graph=True) the first time "
    "if you really need two backward passes through the same graph."
)
_FREED_STALE = (
    "Part of this graph was already freed by an earlier backward: this usually means "
    "a tensor from a previous step - typically the hidden state carried over from the "
    "previous chunk in truncated backpropagation through time - is still attached to "
    "its old graph. Detach it between chunks (`h = h.detach()`, or `(h.detach(), "
    "c.detach())` for an LSTM) so gradients stop at the chunk boundary. If instead two "
    "losses share part of a graph, add them and call backward once, or pass "
    "retain_graph=True to the first backward."
)


def _topological_order(roots: list[Function]) -> list[Function]:
    """Nodes reachable from `roots`, each after every node that feeds it a gradient.

    Iterative depth-first search, so a graph thousands of ops deep (a long
    recurrent unroll) cannot hit Python's recursion limit. Post-orders from
    several roots that share one `visited` set, reversed, are still a
    topological order.
    """
    order: list[Function] = []
    visited: set[Function] = set()
    for root in roots:
        if root in visited:
            continue
        visited.add(root)
        stack: list[tuple[Function, Iterator]] = [(root, iter(root.parents))]
        while stack:
            node, parents = stack[-1]
            for parent in parents:
                if parent is not None and parent not in visited:
                    visited.add(parent)
                    if parent.inputs is None:  # freed by an earlier backward
                        raise RuntimeError(_FREED_STALE)
                    stack.append((parent, iter(parent.parents)))
                    break
            else:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def _run_hooks(tensor: Any, grad: Any) -> Any:
    for hook in tensor._hooks.values():
        result = hook(function.make_tensor(grad))
        if result is not None:
            grad = getattr(result, "array", result)
    return grad


def accumulate_leaf(tensor: Any, grad: Any, owned: bool = False) -> None:
    """Add `grad` into `tensor.grad`.

    `owned` says the array is new and referenced nowhere else; otherwise it
    is copied, because one array can reach several leaves (add's backward
    hands its incoming gradient to both inputs) and `.grad` may later be
    changed in place (gradient clipping).
    """
    if tensor._hooks:
        grad = _run_hooks(tensor, grad)
        owned = False
    if grad.dtype != tensor.array.dtype:
        grad = grad.astype(tensor.array.dtype)
        owned = True
    if tensor.grad is None:
        tensor.grad = function.make_tensor(grad if owned else xp_of(grad).array(grad, copy=True))
    else:
        # np.asarray: NumPy hands back a scalar, not a 0-dim array, for 0-dim sums.
        tensor.grad.array = xp_of(grad).asarray(tensor.grad.array + grad)


def backward(tensor: Any, grad: Any = None, retain_graph: bool = False) -> None:
    """Accumulate d(tensor)/d(leaf) into the `.grad` of every leaf that requires it.

    Args:
        tensor: the output to differentiate.
        grad: d(loss)/d(tensor); may be omitted only for a one-element tensor.
        retain_graph: keep the saved values, so backward can run again.
    """
    if not tensor.requires_grad:
        raise RuntimeError(
            "backward: this tensor does not require grad and has no grad_fn. Set "
            "requires_grad=True on the inputs (model parameters already have it), and "
            "make sure the loss was not computed inside `no_grad()` or from .detach()."
        )
    implicit = grad is None
    if grad is None:
        if tensor.array.size != 1:
            raise RuntimeError(
                f"backward: grad can be implicitly created only for scalar outputs, but "
                f"this tensor has shape {tuple(tensor.shape)}. Reduce it first "
                f"(loss.sum() or loss.mean()) or pass gradient=... of the same shape."
            )
        grad = np.ones_like(tensor.array)
    else:
        grad = getattr(grad, "array", grad)
        grad = asarray_like(grad, tensor.array, dtype=tensor.array.dtype)
        if grad.shape != tensor.array.shape:
            raise RuntimeError(
                f"backward: gradient has shape {grad.shape} but the tensor has shape "
                f"{tuple(tensor.array.shape)}; they must match."
            )
    root = tensor.grad_fn
    if root is None:  # a leaf: d(t)/d(t) is the identity
        if function._tracer is not None:
            function._tracer.refuse("backward() was called on a leaf tensor")
        accumulate_leaf(tensor, grad)
        return
    if root.inputs is None:
        raise RuntimeError(_FREED_TWICE)
    order = _topological_order([root])
    if function._tracer is not None:  # gradwork.compile is recording this step
        function._tracer.on_backward(tensor, implicit, order)
    # The root's own hooks and retain_grad run in `_visit_output`, like any node's.
    _propagate(order, {root: grad}, retain_graph)
    if function._tracer is not None:
        function._tracer.after_backward()


def _propagate(
    order: list[Function], pending: dict, retain_graph: bool, capture: _Capture | None = None
) -> None:
    """Run each node's backward in `order`, handing gradients on to its inputs.

    `pending` maps nodes (which hash by identity) to the gradient still to pass
    them. Without `capture` the gradients reaching leaves go into `.grad`; with
    it (`autograd.grad`) they are collected for its targets instead, no `.grad`
    is touched, and only the nodes that lead to a target run.
    """
    for node in order:
        grad = pending.pop(node, None)
        if grad is None:
            continue
        if node._output_ref is not None:  # hooks / retain_grad on a non-leaf
            grad = _visit_output(node, grad)
        if capture is not None:
            if node in capture.nodes:
                capture.add(node, grad)
            if node not in capture.needed:
                continue
        if node.saved_versions:
            _check_saved_versions(node)
        grads = _run_backward(node, grad)
        if anomaly.enabled:
            _check_backward(node, grad, grads)
        _hand_on(node, grad, grads, pending, capture)
        if not retain_graph:
            node.saved = node.saved_versions = ()
            node.inputs = node.parents = None  # frees the graph; marks the node as freed


def _hand_on(node: Function, grad: Any, grads: tuple, pending: dict, capture: Any) -> None:
    """Give each input's gradient to its parent node, or to the leaf (or capture)."""
    handed_out: tuple = ()  # ids of arrays this node gave to leaves: spot one given twice
    for tensor, parent, g, needed in zip(
        node.inputs, node.parents, grads, node.needs_input_grad, strict=False
    ):
        if not needed or g is None:
            continue
        if g.shape != tensor.array.shape:
            g = unbroadcast(g, tensor.array.shape)
        if _arrays._NAMESPACES and type(g) is not type(tensor.array):
            g = _arrays.asarray_like(g, tensor.array)  # a 0-d CPU tensor met a device one
        if parent is not None:
            previous = pending.get(parent)
            pending[parent] = g if previous is None else previous + g
        elif capture is not None:
            capture.add(id(tensor), g)
        else:
            # Fresh, unshared arrays go to .grad without a copy.
            owned = g is not grad and g.base is None and id(g) not in handed_out
            handed_out += (id(g),)
            accumulate_leaf(tensor, g, owned)


def _visit_output(node: Function, grad: Any) -> Any:
    output = node._output_ref()
    if output is None:
        return grad
    if output._hooks:
        grad = _run_hooks(output, grad)
    if output._retains_grad:
        output.grad = function.make_tensor(grad)
    return grad


def track_output(node: Function, tensor: Any) -> None:
    """Let `backward` reach a non-leaf tensor (for its hooks or retain_grad)."""
    node._output_ref = weakref.ref(tensor)


# --------------------------------------------------------------------------
# autograd.grad: the same walk, collecting instead of accumulating
# --------------------------------------------------------------------------
class _Capture:
    """The targets of `grad`: gradients that reach them are kept, and `.grad` is left alone.

    A non-leaf target is found by its node (the gradient a node receives is
    the gradient of its output tensor), a leaf by identity. `needed` holds the
    nodes with a target somewhere below them: only those must run backward.
    """

    def __init__(self, inputs: tuple, order: list[Function]) -> None:
        self.nodes = {t.grad_fn for t in inputs if t.grad_fn is not None}
        self.leaves = {id(t) for t in inputs if t.grad_fn is None}
        self.grads: dict = {}
        self.needed: set[Function] = set()
        for node in reversed(order):  # inputs' side first: a node's parents are settled
            if any(
                self._leads_to_target(*edge)
                for edge in zip(node.inputs, node.parents, strict=False)
            ):
                self.needed.add(node)

    def _leads_to_target(self, tensor: Any, parent: Function | None) -> bool:
        if parent is None:
            return id(tensor) in self.leaves
        return parent in self.nodes or parent in self.needed

    def add(self, key: Any, g: Any) -> None:
        previous = self.grads.get(key)
        self.grads[key] = g if previous is None else previous + g


def _as_tuple(values: Any) -> tuple:
    return (values,) if isinstance(values, function._tensor_type) else tuple(values)


def _output_grads(outputs: tuple, grad_outputs: Any) -> list:
    """The gradient to start from at each output, checked as torch checks it."""
    given = [None] * len(outputs) if grad_outputs is None else list(_as_tuple(grad_outputs))
    if len(given) != len(outputs):
        raise RuntimeError(
            f"grad: got {len(given)} grad_outputs for {len(outputs)} outputs; pass one per "
            "output (None for a one-element output)"
        )
    grads = []
    for i, (out, g) in enumerate(zip(outputs, given, strict=False)):
        if not isinstance(out, function._tensor_type) or not out.requires_grad:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn"
            )
        if g is None:
            if out.array.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            g = np.ones_like(out.array)
        g = asarray_like(getattr(g, "array", g), out.array, dtype=out.array.dtype)
        if g.shape != out.array.shape:
            raise RuntimeError(
                f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and "
                f"output[{i}] has a shape of {out.array.shape}."
            )
        grads.append(g)
    return grads


def grad(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    only_inputs: bool = True,
    allow_unused: bool | None = None,
    is_grads_batched: bool = False,
    materialize_grads: bool = False,
) -> tuple:
    """The gradients of `outputs` with respect to `inputs`, leaving every `.grad` untouched.

    Args:
        outputs: a tensor or a sequence of tensors to differentiate.
        inputs: a tensor or a sequence of tensors (leaves or not).
        grad_outputs: d(loss)/d(output) for each output; None for one-element outputs.
        retain_graph: keep the graph for another backward (default: `create_graph`).
        create_graph: not supported: gradients are first-order arrays in gradwork.
        only_inputs: ignored, as in torch (deprecated there).
        allow_unused: return None for an input the outputs do not depend on,
            instead of raising (default: `materialize_grads`).
        is_grads_batched: not supported.
        materialize_grads: return zeros instead of None for unused inputs.

    Returns:
        A tuple with one gradient tensor (or None) per input.

    Example:
        >>> import gradwork as gw
        >>> x = gw.tensor([1.0, 2.0], requires_grad=True)
        >>> gw.autograd.grad((x * x).sum(), x)
        (tensor([2., 4.]),)
        >>> x.grad is None
        True
    """
    if create_graph or is_grads_batched:
        flag = "create_graph" if create_graph else "is_grads_batched"
        raise NotImplementedError(
            f"grad({flag}=True): gradwork computes first-order gradients on raw arrays "
            "(DESIGN.md), so gradients of gradients are not available; use torch for "
            "higher-order derivatives, or a finite difference of grad()."
        )
    if allow_unused is None:
        allow_unused = materialize_grads
    if materialize_grads and not allow_unused:
        raise ValueError(
            "Expected allow_unused to be True or not passed when materialize_grads=True, "
            "but got: allow_unused=False."
        )
    if function._tracer is not None:
        function._tracer.refuse("autograd.grad() was called")
    outputs, inputs = _as_tuple(outputs), _as_tuple(inputs)
    for tensor in inputs:
        if not isinstance(tensor, function._tensor_type) or not tensor.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    capture = _walk_for_grad(outputs, _output_grads(outputs, grad_outputs), inputs, retain_graph)
    return tuple(_captured(capture, tensor, i, allow_unused, materialize_grads)
                 for i, tensor in enumerate(inputs))  # fmt: skip


def _walk_for_grad(outputs: tuple, grads: list, inputs: tuple, retain_graph: Any) -> _Capture:
    pending: dict = {}
    for out, g in zip(outputs, grads, strict=False):
        if out.grad_fn is None:
            continue  # a leaf output: seen below, if it is also an input
        if out.grad_fn.inputs is None:
            raise RuntimeError(_FREED_TWICE)
        previous = pending.get(out.grad_fn)
        pending[out.grad_fn] = g if previous is None else previous + g
    order = _topological_order(list(pending))
    capture = _Capture(inputs, order)
    for out, g in zip(outputs, grads, strict=False):
        if out.grad_fn is None and id(out) in capture.leaves:
            capture.add(id(out), g)  # d(x)/d(x) is the identity
    _propagate(order, pending, bool(retain_graph), capture)
    return capture


def _captured(capture: _Capture, tensor: Any, index: int, allow_unused: bool,
              materialize: bool) -> Any:  # fmt: skip
    """The gradient `grad` returns for one input: hooked, cast, and never shared."""
    leaf = tensor.grad_fn is None
    g = capture.grads.get(id(tensor) if leaf else tensor.grad_fn)
    if g is None:
        if materialize:
            return function.make_tensor(np.zeros_like(tensor.array))
        if allow_unused:
            return None
        raise RuntimeError(
            f"The differentiated Tensor at index {index} appears to not have been used in the "
            "graph. Set allow_unused=True if this is the desired behavior."
        )
    if leaf and tensor._hooks:  # a non-leaf's hooks already ran in `_visit_output`
        g = _run_hooks(tensor, g)
    # A copy: the array may be the caller's grad_output, or another input's gradient.
    return function.make_tensor(xp_of(g).array(g, dtype=tensor.array.dtype, copy=True))
