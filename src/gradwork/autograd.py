"""The autodiff engine: `Function`, the graph, and reverse-mode `backward`.

A primitive op subclasses `Function` and writes two static methods on raw
arrays, side by side::

    class Mul(Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, grad):
            a, b = ctx.saved
            return grad * b, grad * a

`Mul.apply(x, y)` unwraps tensors, runs `forward`, and - when a gradient is
needed - links the output to a fresh `Function` instance (the ctx, which is
also the graph node). `backward` walks those nodes in reverse topological
order. It is the ONE place where a gradient of a broadcast operand is summed
back to that operand's shape, so no op's backward ever thinks about
broadcasting.

This module knows nothing of `Tensor` beyond its attributes (`array`,
`requires_grad`, `grad_fn`, `grad`, `_hooks`, `_retains_grad`, `_version_counter`,
`_base`): tensor.py sits
above it and installs the constructor through `_set_tensor_factory`.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

__all__ = [
    "Function",
    "backward",
    "grad",
    "inference_mode",
    "is_inference_mode_enabled",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
    "detect_anomaly",
    "is_anomaly_enabled",
    "module_scope",
    "unbroadcast",
]


# --------------------------------------------------------------------------
# Switches. Grad mode is per thread, as in torch: a `no_grad` evaluation in
# one thread must not stop another thread's backward. Anomaly mode is a plain
# module global (one dict lookup per op), so it costs nothing when off.
# --------------------------------------------------------------------------
class _ThreadState(threading.local):
    grad_enabled = True
    inference = False

    def __init__(self) -> None:
        self.saved_modes: list[bool] = []  # for nested set_grad_enabled blocks
        self.saved_inference: list[tuple[bool, bool]] = []  # for nested inference_mode blocks
        self.module_path: list[str] = []  # filled by nn.Module.__call__ in anomaly mode


_state = _ThreadState()
_anomaly_enabled = False
_make_tensor: Callable[..., Any] | None = None  # installed by tensor.py
_tensor_type: type = type(None)  # installed by tensor.py


def _set_tensor_factory(factory: Callable[..., Any], tensor_type: type) -> None:
    """Called once by tensor.py: the Tensor class, and how to wrap an op's output."""
    global _make_tensor, _tensor_type
    _make_tensor, _tensor_type = factory, tensor_type


def make_tensor(array: Any, grad_fn: Function | None = None) -> Any:
    """Wrap an array in a Tensor (with `grad_fn` as its graph node): the engine's constructor."""
    return _make_tensor(array, grad_fn)


def is_grad_enabled() -> bool:
    """Whether ops record the graph for backward in this thread (False inside `no_grad`)."""
    return _state.grad_enabled


class set_grad_enabled(contextlib.ContextDecorator):  # noqa: N801 - torch's name
    """Turn graph recording on or off inside a `with` block or a decorated function.

    The setting belongs to the current thread. The previous mode is kept on a
    per-thread stack, so one decorator instance is safe to use from many threads.
    """

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)

    def __enter__(self) -> None:
        _state.saved_modes.append(_state.grad_enabled)
        _state.grad_enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        _state.grad_enabled = _state.saved_modes.pop()


class no_grad(set_grad_enabled):  # noqa: N801
    """Run ops without recording a graph: for evaluation and parameter updates.

    Example:
        >>> import gradwork as gw
        >>> x = gw.ones(2, requires_grad=True)
        >>> with gw.no_grad():
        ...     y = x * 2
        >>> y.requires_grad
        False
    """

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):  # noqa: N801
    """Record the graph again, e.g. inside a function called under `no_grad`."""

    def __init__(self) -> None:
        super().__init__(True)


def is_inference_mode_enabled() -> bool:
    """Whether this thread is inside `inference_mode()` (torch's name)."""
    return _state.inference


class inference_mode(contextlib.ContextDecorator):  # noqa: N801 - torch's name
    """`no_grad` for code that will never need a gradient: evaluation and serving.

    As in torch, `inference_mode(False)` turns graph recording back on inside
    an outer `inference_mode()`. Usable as `with`, `@inference_mode()` or bare
    `@inference_mode`.

    NOTE: torch also marks tensors made inside as inference tensors and makes
    ops faster by skipping version counting; gradwork only stops recording the
    graph (already the fast path here), and its tensors carry no inference flag.

    Example:
        >>> import gradwork as gw
        >>> w = gw.ones(2, requires_grad=True)
        >>> with gw.inference_mode():
        ...     y = w * 2
        >>> y.requires_grad, gw.is_inference_mode_enabled()
        (False, False)
    """

    def __new__(cls, mode: Any = True) -> Any:
        if isinstance(mode, bool):
            return super().__new__(cls)
        return cls()(mode)  # used as a bare decorator: `mode` is the function

    def __init__(self, mode: bool = True) -> None:
        self.mode = mode

    def __enter__(self) -> None:
        _state.saved_inference.append((_state.grad_enabled, _state.inference))
        _state.grad_enabled, _state.inference = not self.mode, self.mode

    def __exit__(self, *exc: object) -> None:
        _state.grad_enabled, _state.inference = _state.saved_inference.pop()


# --------------------------------------------------------------------------
# Anomaly mode
# --------------------------------------------------------------------------
def is_anomaly_enabled() -> bool:
    return _anomaly_enabled


class detect_anomaly(contextlib.ContextDecorator):  # noqa: N801 - torch's name
    """Stop at the FIRST op that produces a NaN or Inf, forward or backward.

    The error names the op, the pass, the module path (when the op ran inside
    an `nn.Module`) and the range of the op's inputs, e.g.
    ``log in forward got min=0.0, max=2.0: produced -inf``. When the mode is
    off the only cost is one boolean test per op.

    Example:
        >>> import gradwork as gw
        >>> x = gw.tensor([0.0, 1.0], requires_grad=True)
        >>> with gw.detect_anomaly():
        ...     x.log()
        Traceback (most recent call last):
        ...
        FloatingPointError: log in forward got min=0, max=1: produced -inf
    """

    def __init__(self) -> None:
        self.previous: list[bool] = []

    def __enter__(self) -> None:
        global _anomaly_enabled
        self.previous.append(_anomaly_enabled)
        _anomaly_enabled = True

    def __exit__(self, *exc: object) -> None:
        global _anomaly_enabled
        _anomaly_enabled = self.previous.pop()


@contextlib.contextmanager
def module_scope(name: str) -> Iterator[None]:
    """Record that ops now run inside the module at path `name` (anomaly mode)."""
    _state.module_path.append(name)
    try:
        yield
    finally:
        _state.module_path.pop()


def _describe(values: Any) -> str:
    """'min=…, max=…' of an array, ignoring non-finite entries where possible."""
    a = np.asarray(values)
    if a.size == 0 or not np.issubdtype(a.dtype, np.number):
        return f"shape={a.shape}"
    return f"min={a.min():.5g}, max={a.max():.5g}"


def _first_bad(array: Any) -> str | None:
    """'nan', 'inf' or '-inf' if the float array holds one, else None."""
    a = np.asarray(array)
    if a.dtype.kind != "f" or np.isfinite(a).all():
        return None
    if np.isnan(a).any():
        return "nan"
    return "inf" if np.isposinf(a).any() else "-inf"


def _where(node: Function) -> str:
    return f" (in module `{node._module}`)" if node._module else ""


def _check_forward(node: Function, arrays: tuple, out: Any) -> None:
    bad = _first_bad(out)
    if bad is None:
        return
    ranges = "; ".join(_describe(a) for a in arrays if isinstance(a, np.ndarray))
    upstream = [i for i, a in enumerate(arrays) if _first_bad(a) is not None]
    cause = f" (input {upstream[0]} already held non-finite values)" if upstream else ""
    raise FloatingPointError(
        f"{node.name} in forward got {ranges}: produced {bad}{cause}{_where(node)}"
    )


def _check_backward(node: Function, grad: Any, grads: tuple) -> None:
    for i, g in enumerate(grads):
        bad = None if g is None else _first_bad(g)
        if bad is not None:
            raise FloatingPointError(
                f"{node.name} in backward produced {bad} in the gradient of input {i}; "
                f"incoming gradient {_describe(grad)}{_where(node)}"
            )


# --------------------------------------------------------------------------
# Function: an op's forward/backward pair, and the graph node of its output
# --------------------------------------------------------------------------
class Function:
    """Base class of every primitive op; an instance is the ctx and the graph node.

    Subclasses define `forward(ctx, *arrays, **options)` returning one array,
    and `backward(ctx, grad)` returning one gradient array (or None) per
    positional input of `forward`. Inputs that are not tensors (Python
    numbers, shapes, axes) pass through to `forward` unchanged and get None.
    """

    __slots__ = ("inputs", "parents", "saved", "saved_versions", "needs_input_grad", "_output_ref",
                 "_module", "__dict__")  # fmt: skip

    # True: forward/backward see raw arrays (gradwork's primitives). False: they
    # see Tensors, as a custom `torch.autograd.Function` does. A subclass defined
    # outside gradwork is torch-spelled unless it sets `on_arrays = True`.
    on_arrays = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "on_arrays" not in cls.__dict__:
            cls.on_arrays = cls.__module__.startswith("gradwork.")

    def __init__(self) -> None:
        self.saved: tuple = ()
        self.saved_versions: tuple = ()
        self._output_ref: Callable[[], Any] | None = None
        self._module = ""

    # -- the two methods an op writes -------------------------------------
    @staticmethod
    def forward(ctx: Function, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Function, grad: Any) -> Any:
        raise NotImplementedError

    # -- helpers for ops ------------------------------------------------------
    def save_for_backward(self, *values: Any) -> None:
        self.saved = values

    @property
    def saved_tensors(self) -> tuple:
        """What `save_for_backward` kept (torch's name, for torch-spelled Functions)."""
        return self.saved

    def mark_dirty(self, *tensors: Any) -> None:
        """Accepted for torch compatibility; in-place outputs are not tracked here."""

    def mark_non_differentiable(self, *tensors: Any) -> None:
        """Accepted for torch compatibility (integer outputs never carry gradients)."""

    def set_materialize_grads(self, value: bool) -> None:
        """Accepted for torch compatibility: incoming gradients are always arrays."""

    @property
    def name(self) -> str:
        return type(self).__name__.lower()

    # -- running an op ---------------------------------------------------------
    @classmethod
    def apply(cls, *inputs: Any, **options: Any) -> Any:
        """Run the op on tensors (or constants) and link the result into the graph."""
        if not cls.on_arrays:
            return _apply_on_tensors(cls, inputs, options)
        arrays, needs, parents = [], [], []
        for x in inputs:
            if isinstance(x, _tensor_type):
                arrays.append(x.array)
                needs.append(x._requires_grad)
                parents.append(x.grad_fn)
            else:  # a constant: a Python number, a shape, an index array
                arrays.append(x)
                needs.append(False)
                parents.append(None)
        ctx = cls()
        record = _state.grad_enabled and True in needs
        ctx.needs_input_grad = needs
        try:
            out = cls.forward(ctx, *arrays, **options)
        except ValueError as error:
            if str(error).startswith(ctx.name + ":"):
                raise  # the op already explained itself
            raise _explain_shape_error(ctx.name, arrays, error) from None
        except IndexError as error:
            raise IndexError(f"{ctx.name}: {error}") from None
        if _anomaly_enabled:
            ctx._module = ".".join(_state.module_path)
            _check_forward(ctx, arrays, out)
        if not record:
            return _share_version_if_view(_make_tensor(out), inputs, out)
        # The parents are kept as they are now: a later in-place op may move an
        # input's `grad_fn` on, but this node's gradient belongs to the old one.
        ctx.inputs, ctx.parents = inputs, parents
        result = _share_version_if_view(_make_tensor(out, ctx), inputs, out)
        if ctx.saved:
            ctx.saved_versions = _saved_versions(ctx.saved, inputs, result, out)
        return result


# --------------------------------------------------------------------------
# Versions: what makes in-place changes to saved tensors an error, not a
# silently wrong gradient (torch's "modified by an inplace operation").
# --------------------------------------------------------------------------
class VersionCounter:
    """How many in-place changes a tensor's storage has seen; views share one."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


def _share_version_if_view(result: Any, inputs: tuple, out: Any) -> Any:
    """A view (reshape, slice, permute, ...) shares its input's version counter and base.

    An op's output is a view when its array is a NumPy view of its first
    input's array; then an in-place change through either is a change to both.
    """
    if inputs and getattr(out, "base", None) is not None:
        source = inputs[0]
        if isinstance(source, _tensor_type) and np.may_share_memory(out, source.array):
            result._version_counter = source._version_counter
            result._base = source if source._base is None else source._base
    return result


def _saved_versions(saved: tuple, inputs: tuple, output: Any, out: Any) -> tuple:
    """(counter, version, tensor, is_output) for each saved array of an input or the output."""
    versions = []
    for array in saved:
        # `out` too: a 0-dim result comes back from NumPy as a scalar, wrapped anew.
        if array is output.array or array is out:
            versions.append((output._version_counter, output._version_counter.value, output, True))
            continue
        for tensor in inputs:
            if isinstance(tensor, _tensor_type) and tensor.array is array:
                counter = tensor._version_counter
                versions.append((counter, counter.value, tensor, False))
                break
    return tuple(versions)


def _check_saved_versions(node: Function) -> None:
    for counter, version, tensor, is_output in node.saved_versions:
        if counter.value != version:
            kind = "output 0 of " if is_output else "an input of "
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by "
                f"an inplace operation: [{tensor.dtype} tensor of shape {list(tensor.shape)}], "
                f"which is {kind}{type(node).__name__}Backward, is at version {counter.value}; "
                f"expected version {version} instead. Hint: the operation that saved it needs "
                "its old value; use an out-of-place op (y = y + 1 instead of y += 1) or "
                ".clone() the tensor before changing it."
            )


# --------------------------------------------------------------------------
# Custom Functions in torch's spelling: forward and backward on Tensors
# --------------------------------------------------------------------------
def _apply_on_tensors(cls: type, inputs: tuple, options: dict) -> Any:
    """`apply` for a torch-spelled Function: forward sees the tensors, under no_grad."""
    ctx = cls()
    ctx.needs_input_grad = tuple(isinstance(x, _tensor_type) and x._requires_grad for x in inputs)
    with no_grad():
        out = cls.forward(ctx, *inputs, **options)
    if not isinstance(out, _tensor_type):
        raise TypeError(
            f"{cls.__name__}.forward must return one Tensor, got {type(out).__name__}; "
            "return several results as separate Functions"
        )
    if not (_state.grad_enabled and any(ctx.needs_input_grad)):
        return out
    ctx.inputs = inputs
    ctx.parents = [getattr(x, "grad_fn", None) for x in inputs]
    return _make_tensor(out.array, ctx)


def _run_backward(node: Function, grad: Any) -> tuple:
    """Call the node's backward on arrays (primitives) or on Tensors (torch-spelled)."""
    if node.on_arrays:
        grads = node.backward(node, grad)
        return grads if isinstance(grads, tuple) else (grads,)
    with no_grad():
        grads = node.backward(node, _make_tensor(grad))
    grads = grads if isinstance(grads, tuple) else (grads,)
    return tuple(None if g is None else np.asarray(getattr(g, "array", g)) for g in grads)


class ShapeError(RuntimeError, ValueError):
    """Operands whose shapes don't fit: torch raises RuntimeError; it is also a
    ValueError, which is what gradwork raised before it followed torch here."""


def _explain_shape_error(name: str, arrays: tuple, error: ValueError) -> Exception:
    """Name the op and the operand shapes when NumPy refuses an operation."""
    message = str(error)
    if "negative integer powers" in message:  # NumPy's words for what torch also refuses
        return RuntimeError("Integers to negative integer powers are not allowed.")
    shapes = ", ".join(str(tuple(a.shape)) for a in arrays if hasattr(a, "shape"))
    return ShapeError(f"{name}: operands with shapes {shapes} do not fit: {message}")


def unbroadcast(grad: Any, shape: tuple) -> Any:
    """Sum `grad` over the axes that broadcasting added or stretched to reach `shape`.

    Example:
        >>> unbroadcast(np.ones((4, 3)), (3,)).tolist()
        [4.0, 4.0, 4.0]
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:  # a reduction already removed the axes; only reshape is left
        return grad.reshape(shape)
    axes = tuple(range(extra)) + tuple(
        i + extra for i, n in enumerate(shape) if n == 1 and grad.shape[i + extra] != 1
    )
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


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
        result = hook(_make_tensor(grad))
        if result is not None:
            grad = getattr(result, "array", result)
    return grad


def _accumulate_leaf(tensor: Any, grad: Any, owned: bool = False) -> None:
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
        tensor.grad = _make_tensor(grad if owned else np.array(grad, copy=True))
    else:
        # np.asarray: NumPy hands back a scalar, not a 0-dim array, for 0-dim sums.
        tensor.grad.array = np.asarray(tensor.grad.array + grad)


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
    if grad is None:
        if tensor.array.size != 1:
            raise RuntimeError(
                f"backward: grad can be implicitly created only for scalar outputs, but "
                f"this tensor has shape {tuple(tensor.shape)}. Reduce it first "
                f"(loss.sum() or loss.mean()) or pass gradient=... of the same shape."
            )
        grad = np.ones(tensor.array.shape, tensor.array.dtype)
    else:
        grad = getattr(grad, "array", grad)
        grad = np.asarray(grad, dtype=tensor.array.dtype)
        if grad.shape != tensor.array.shape:
            raise RuntimeError(
                f"backward: gradient has shape {grad.shape} but the tensor has shape "
                f"{tuple(tensor.array.shape)}; they must match."
            )
    root = tensor.grad_fn
    if root is None:  # a leaf: d(t)/d(t) is the identity
        _accumulate_leaf(tensor, grad)
        return
    if root.inputs is None:
        raise RuntimeError(_FREED_TWICE)
    # The root's own hooks and retain_grad run in `_visit_output`, like any node's.
    _propagate(_topological_order([root]), {root: grad}, retain_graph)


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
        if _anomaly_enabled:
            _check_backward(node, grad, grads)
        _hand_on(node, grad, grads, pending, capture)
        if not retain_graph:
            node.saved = node.saved_versions = ()
            node.inputs = node.parents = None  # frees the graph; marks the node as freed


def _hand_on(node: Function, grad: Any, grads: tuple, pending: dict, capture: Any) -> None:
    """Give each input's gradient to its parent node, or to the leaf (or capture)."""
    handed_out: tuple = ()  # ids of arrays this node gave to leaves: spot one given twice
    for tensor, parent, g, needed in zip(node.inputs, node.parents, grads, node.needs_input_grad):
        if not needed or g is None:
            continue
        if g.shape != tensor.array.shape:
            g = unbroadcast(g, tensor.array.shape)
        if parent is not None:
            previous = pending.get(parent)
            pending[parent] = g if previous is None else previous + g
        elif capture is not None:
            capture.add(id(tensor), g)
        else:
            # Fresh, unshared arrays go to .grad without a copy.
            owned = g is not grad and g.base is None and id(g) not in handed_out
            handed_out += (id(g),)
            _accumulate_leaf(tensor, g, owned)


def _visit_output(node: Function, grad: Any) -> Any:
    output = node._output_ref()
    if output is None:
        return grad
    if output._hooks:
        grad = _run_hooks(output, grad)
    if output._retains_grad:
        output.grad = _make_tensor(grad)
    return grad


def _track_output(node: Function, tensor: Any) -> None:
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
            if any(self._leads_to_target(*edge) for edge in zip(node.inputs, node.parents)):
                self.needed.add(node)

    def _leads_to_target(self, tensor: Any, parent: Function | None) -> bool:
        if parent is None:
            return id(tensor) in self.leaves
        return parent in self.nodes or parent in self.needed

    def add(self, key: Any, g: Any) -> None:
        previous = self.grads.get(key)
        self.grads[key] = g if previous is None else previous + g


def _as_tuple(values: Any) -> tuple:
    return (values,) if isinstance(values, _tensor_type) else tuple(values)


def _output_grads(outputs: tuple, grad_outputs: Any) -> list:
    """The gradient to start from at each output, checked as torch checks it."""
    given = [None] * len(outputs) if grad_outputs is None else list(_as_tuple(grad_outputs))
    if len(given) != len(outputs):
        raise RuntimeError(
            f"grad: got {len(given)} grad_outputs for {len(outputs)} outputs; pass one per "
            "output (None for a one-element output)"
        )
    grads = []
    for i, (out, g) in enumerate(zip(outputs, given)):
        if not isinstance(out, _tensor_type) or not out.requires_grad:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn"
            )
        if g is None:
            if out.array.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            g = np.ones(out.array.shape, out.array.dtype)
        g = np.asarray(getattr(g, "array", g), dtype=out.array.dtype)
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
    outputs, inputs = _as_tuple(outputs), _as_tuple(inputs)
    for tensor in inputs:
        if not isinstance(tensor, _tensor_type) or not tensor.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    capture = _walk_for_grad(outputs, _output_grads(outputs, grad_outputs), inputs, retain_graph)
    return tuple(_captured(capture, tensor, i, allow_unused, materialize_grads)
                 for i, tensor in enumerate(inputs))  # fmt: skip


def _walk_for_grad(outputs: tuple, grads: list, inputs: tuple, retain_graph: Any) -> _Capture:
    pending: dict = {}
    for out, g in zip(outputs, grads):
        if out.grad_fn is None:
            continue  # a leaf output: seen below, if it is also an input
        if out.grad_fn.inputs is None:
            raise RuntimeError(_FREED_TWICE)
        previous = pending.get(out.grad_fn)
        pending[out.grad_fn] = g if previous is None else previous + g
    order = _topological_order(list(pending))
    capture = _Capture(inputs, order)
    for out, g in zip(outputs, grads):
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
            return _make_tensor(np.zeros_like(tensor.array))
        if allow_unused:
            return None
        raise RuntimeError(
            f"The differentiated Tensor at index {index} appears to not have been used in the "
            "graph. Set allow_unused=True if this is the desired behavior."
        )
    if leaf and tensor._hooks:  # a non-leaf's hooks already ran in `_visit_output`
        g = _run_hooks(tensor, g)
    # A copy: the array may be the caller's grad_output, or another input's gradient.
    return _make_tensor(np.array(g, dtype=tensor.array.dtype, copy=True))
