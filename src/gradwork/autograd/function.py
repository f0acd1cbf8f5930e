"""`Function`: a primitive's forward and backward, and the graph node of its output.

Also what every node needs around it: the version counters that turn an
in-place change to a saved tensor into an error, torch-spelled custom
Functions (forward and backward on Tensors), and `unbroadcast`, the one place
a broadcast gradient is summed back to its operand's shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from gradwork import _arrays
from gradwork.autograd import anomaly
from gradwork.autograd.anomaly import _check_forward
from gradwork.autograd.grad_mode import _state, no_grad

_make_tensor: Callable[..., Any] | None = None  # installed by tensor.py
_tensor_type: type = type(None)  # installed by tensor.py
# While `gradwork.compile` traces a step, the recorder that every op, backward and
# optimizer step reports to (see gradwork/_compile); None otherwise: one check per op.
_tracer: Any = None


def set_tensor_factory(factory: Callable[..., Any], tensor_type: type) -> None:
    """Called once by tensor.py: the Tensor class, and how to wrap an op's output."""
    global _make_tensor, _tensor_type
    _make_tensor, _tensor_type = factory, tensor_type


def make_tensor(array: Any, grad_fn: Function | None = None) -> Any:
    """Wrap an array in a Tensor (with `grad_fn` as its graph node): the engine's constructor."""
    return _make_tensor(array, grad_fn)


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
        if _arrays._NAMESPACES:  # a device backend is on: refuse two devices in one op
            _arrays.check_same_device([x.array for x in inputs if isinstance(x, _tensor_type)])
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
        if anomaly.enabled:
            ctx._module = ".".join(_state.module_path)
            _check_forward(ctx, arrays, out)
        if not record:
            result = _share_version_if_view(_make_tensor(out), inputs, out)
        else:
            # The parents are kept as they are now: a later in-place op may move an
            # input's `grad_fn` on, but this node's gradient belongs to the old one.
            ctx.inputs, ctx.parents = inputs, parents
            result = _share_version_if_view(_make_tensor(out, ctx), inputs, out)
            if ctx.saved:
                ctx.saved_versions = _saved_versions(ctx.saved, inputs, result, out)
        if _tracer is not None:
            _tracer.on_apply(cls, inputs, options, needs, result)
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
    if _tracer is not None:
        _tracer.refuse(f"the custom Function {cls.__name__} works on Tensors (on_arrays=False)")
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
    return tuple(None if g is None else _arrays.asarray_like(getattr(g, "array", g), grad)
                 for g in grads)  # fmt: skip


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
