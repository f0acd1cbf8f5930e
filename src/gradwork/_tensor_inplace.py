"""In-place Tensor methods: `+= -= *= /=`, `add_`, `zero_`, `t[i] = v`, ...

As in torch, an in-place op writes into the tensor's own storage (every view
sees the change) and bumps the storage's version counter, so a graph that
saved the old values refuses to run backward instead of computing a wrong
gradient. Two paths:

- No graph to record (inside `no_grad`, or nothing requires grad): the result
  is written straight into the array. This is the manual SGD step
  `with no_grad(): p -= lr * p.grad`.
- A graph to record: the op runs out of place on a snapshot of the old
  values, the result is copied into the storage, and the tensor's `grad_fn`
  moves to the new node, so `y = x * 2; y += 1` differentiates as torch does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from gradwork import _arrays, autograd, dtypes, ops, random
from gradwork._arrays import as_array, asarray_like
from gradwork._tensor_math import _refuse_bool_subtraction
from gradwork._tensor_shape import torch_index


def _raw(value: Any) -> Any:
    return getattr(value, "array", value)


def _needs_graph(tensor: Any, others: tuple) -> bool:
    if not autograd.is_grad_enabled():
        return False
    return tensor._requires_grad or any(getattr(o, "_requires_grad", False) for o in others)


def _check_not_leaf(tensor: Any) -> None:
    if tensor._requires_grad and tensor.grad_fn is None:
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation. "
            "Update parameters inside `with gradwork.no_grad():` (as optimizers do), "
            "or build a new tensor out of place (w + 1, gradwork.where(mask, v, w))."
        )
    base = tensor._base
    if base is not None and base._requires_grad and base.grad_fn is None:
        raise RuntimeError(
            "a view of a leaf Variable that requires grad is being used in an in-place "
            "operation. Wrap the change in `with gradwork.no_grad():`, or build a new "
            "tensor with gradwork.where(mask, value, t)."
        )
    if base is not None and base._requires_grad and tensor._view_of is None:
        raise RuntimeError(
            "in-place change of a view of a tensor that requires grad, made by an op "
            "gradwork can't replay on its base (e.g. expand); use an out-of-place op "
            "or .clone() the view first."
        )


def _check_castable(result: np.dtype, target: np.dtype) -> None:
    if not dtypes.can_cast(result, target):
        raise RuntimeError(
            f"result type {result} can't be cast to the desired output type {target}: "
            f"an in-place op keeps the tensor's dtype; convert first (t = t.float()) or "
            f"use the out-of-place op"
        )


def _check_broadcasts_into(source: tuple, target: tuple) -> None:
    """An in-place result must keep the tensor's shape (torch's RuntimeError otherwise)."""
    try:
        shape = np.broadcast_shapes(source, target)
    except ValueError:
        shape = None
    if shape != tuple(target):
        raise RuntimeError(
            f"output with shape {list(target)} doesn't match the broadcast shape "
            f"{list(shape) if shape else list(source)}: the other operand must broadcast "
            f"to the tensor being changed in place"
        )


def _bump(tensor: Any) -> Any:
    tensor._version_counter.value += 1
    return tensor


def _snapshot(tensor: Any) -> Any:
    """A tensor holding a copy of `tensor`'s current values and its place in the graph."""
    old = autograd.make_tensor(tensor.array.copy(), tensor.grad_fn)
    old._requires_grad = tensor._requires_grad
    return old


def _record_inplace(tensor: Any, compute: Callable[[Any], Any]) -> Any:
    """Graph path: run `compute(old)` out of place, write the result into `tensor`."""
    _check_not_leaf(tensor)
    result = compute(_snapshot(tensor))
    _check_broadcasts_into(result.shape, tensor.shape)
    _check_castable(result.array.dtype, tensor.array.dtype)
    if result.array.dtype != tensor.array.dtype:
        result = result.to(tensor.array.dtype)
    tensor.array[...] = result.array
    tensor.grad_fn = result.grad_fn
    tensor._requires_grad = result._requires_grad
    _bump(tensor)
    if tensor._view_of is not None:
        _rebase_source(tensor)
    return tensor


def _rebase_source(view: Any) -> None:
    """After an in-place change through a view, move its source's graph too.

    The storage already holds the new values; the source's `grad_fn` must now
    say they came from the view's new node, or its gradient would be stale
    (torch's CopySlices). `inverse(view, old_source)` rebuilds the source.
    """
    source, inverse = view._view_of
    if not (source._requires_grad or view._requires_grad):
        return
    rebuilt = inverse(view, _snapshot(source))
    source.grad_fn = rebuilt.grad_fn
    source._requires_grad = rebuilt._requires_grad
    if source._view_of is not None:
        _rebase_source(source)


def _ufunc_inplace(tensor: Any, ufunc: np.ufunc, other: Any, compute: Callable) -> Any:
    """`tensor op= other` for an arithmetic ufunc, on either path."""
    if _needs_graph(tensor, (other,)):
        return _record_inplace(tensor, compute)
    result = dtypes.result_type(tensor, other)
    _check_castable(result, tensor.array.dtype)
    operand = _raw(other)
    if not isinstance(operand, bool | int | float):
        operand = as_array(operand)
        _check_broadcasts_into(operand.shape, tensor.shape)
        if _arrays._NAMESPACES:  # `cpu_tensor += cuda_tensor` raises as torch does
            _arrays.check_same_device([tensor.array, operand])
    ufunc(tensor.array, operand, out=tensor.array, casting="unsafe")
    return _bump(tensor)


def _replace(tensor: Any, compute: Callable[[Any], Any], *others: Any) -> Any:
    """`tensor` becomes `compute(tensor)`, for ops with no NumPy `out=` form."""
    if _needs_graph(tensor, others):
        return _record_inplace(tensor, compute)
    with autograd.no_grad():
        result = compute(tensor)
    _check_broadcasts_into(result.shape, tensor.shape)
    _check_castable(result.array.dtype, tensor.array.dtype)
    tensor.array[...] = result.array
    return _bump(tensor)


def replace_in_place(tensor: Any, compute: Callable[[Any], Any]) -> Any:
    """`tensor` becomes `compute(tensor)` in place, under torch's autograd and version rules.

    What `inplace=True` means in nn.functional: the function runs on a
    snapshot of the old values (so what it saves for backward never changes),
    then its result is written into `tensor`, whose graph moves on.

    Example:
        >>> import gradwork as gw
        >>> x = gw.tensor([-1.0, 2.0])
        >>> _ = replace_in_place(x, lambda old: old.clamp(min=0))
        >>> x
        tensor([0., 2.])
    """
    return _replace(tensor, compute)


class InPlaceMethods:
    __slots__ = ()

    # ------------------------------------------------------------ operators
    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    # --------------------------------------------------------- `_` methods
    def add_(self, other, *, alpha: float = 1):
        if alpha != 1:
            other = other * alpha
        return _ufunc_inplace(self, np.add, other, lambda old: old + other)

    def sub_(self, other, *, alpha: float = 1):
        _refuse_bool_subtraction(self, other)
        if alpha != 1:
            other = other * alpha
        return _ufunc_inplace(self, np.subtract, other, lambda old: old - other)

    def mul_(self, other):
        return _ufunc_inplace(self, np.multiply, other, lambda old: old * other)

    def div_(self, other):
        if self.array.dtype.kind not in "fc":
            _check_castable(dtypes.DEFAULT_FLOAT, self.array.dtype)
        return _ufunc_inplace(self, np.true_divide, other, lambda old: old / other)

    def pow_(self, exponent):
        return _replace(self, lambda old: old**exponent, exponent)

    def neg_(self):
        return self.mul_(-1)

    def clamp_(self, min=None, max=None):  # noqa: A002 - torch's argument names
        return _replace(self, lambda old: old.clamp(min, max), min, max)

    clip_ = clamp_

    def zero_(self):
        return self.fill_(0)

    def fill_(self, value):
        if _needs_graph(self, (value,)):
            return _record_inplace(self, lambda old: ops.SetItem.apply(old, value, ..., None))
        self.array[...] = _raw(value)
        return _bump(self)

    def copy_(self, src):
        """Copy `src` (broadcast to this shape, cast to this dtype) into this tensor.

        As in torch, `src` may be on another device: it is copied over (differentiably).
        """
        source = src if hasattr(src, "array") else as_array(src)
        if hasattr(source, "array") and source.device != self.device:
            source = source.to(self.device)
        _check_broadcasts_into(np.shape(_raw(source)), self.shape)
        if _needs_graph(self, (source,)):
            # The old values are overwritten: the gradient goes to `src` alone.
            return _record_inplace(self, lambda old: ops.SetItem.apply(old, source, ..., None))
        self.array[...] = _raw(source)
        return _bump(self)

    # ------------------------------------------------------------ t[i] = v
    def __setitem__(self, index, value):
        first, then = torch_index(index)
        if _needs_graph(self, (value,)):
            value = value if hasattr(value, "array") else as_array(value)
            _record_inplace(self, lambda old: ops.SetItem.apply(old, value, first, then))
            return
        target = self.array[first] if then is not None else self.array
        target[then if then is not None else first] = _raw(value)
        _bump(self)

    # ------------------------------------------------------------ random fills
    # Draws from gradwork's seeded stream (`gradwork.manual_seed`); torch code
    # such as `layer.weight.data.normal_(0.0, 0.02)` initialises this way.
    def uniform_(self, from_: float = 0.0, to: float = 1.0, *, generator=None):
        return self._fill_random(lambda rng, shape: rng.uniform(from_, to, shape))

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator=None):
        return self._fill_random(lambda rng, shape: rng.normal(mean, std, shape))

    def bernoulli_(self, p: float = 0.5, *, generator=None):
        return self._fill_random(lambda rng, shape: rng.random(shape) < _raw(p))

    def exponential_(self, lambd: float = 1.0, *, generator=None):
        return self._fill_random(lambda rng, shape: rng.exponential(1.0 / lambd, shape))

    def _fill_random(self, draw: Callable[[np.random.Generator, tuple], Any]):
        # Drawn on the host (one stream for every device), then copied to this tensor's device.
        values = asarray_like(draw(random.generator(), self.shape), self.array, self.array.dtype)
        return _replace(self, lambda old: autograd.make_tensor(values))


def _math_in_place(name: str) -> Callable:
    """`tensor.name_(...)`: the tensor becomes `tensor.name(...)`, in place (torch's `_` form)."""

    def method(self, *args, **kwargs):
        return _replace(self, lambda old: getattr(old, name)(*args, **kwargs), *args,
                        *kwargs.values())  # fmt: skip

    method.__name__ = method.__qualname__ = name + "_"
    method.__doc__ = f"In place: this tensor becomes `self.{name}(...)`; returns it."
    return method


# The `_` forms of elementwise math, each the out-of-place method written back.
for _name in (
    "relu", "sigmoid", "tanh", "exp", "log", "sqrt", "rsqrt", "abs", "floor", "ceil", "round",
    "trunc", "frac", "sin", "cos", "reciprocal", "square", "sign", "log1p", "expm1", "log2",
    "log10", "erf", "lerp", "floor_divide", "remainder", "fmod", "atan2", "masked_fill",
    "scatter", "scatter_add", "index_add", "logical_not",
):  # fmt: skip
    if not hasattr(InPlaceMethods, _name + "_"):
        setattr(InPlaceMethods, _name + "_", _math_in_place(_name))
