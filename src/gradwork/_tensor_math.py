"""Tensor methods that compute: operators, math functions, activations, reductions.

Every operator and function applies torch's type promotion first
(`gradwork.result_type`): an integer tensor divided, exponentiated or mixed
with a float gives float32, and a 0-dim tensor or Python number never widens
a dimensioned tensor of its own category. Composites (softmax, var, std,
reciprocal, max along a dim, ...) are written from primitives, so they get
their gradients for free.
"""

from __future__ import annotations

import functools
from collections import namedtuple
from typing import Any

import numpy as np

from gradwork import autograd, ops
from gradwork._arrays import as_array, xp_of
from gradwork.autograd import ShapeError
from gradwork.dtypes import DEFAULT_FLOAT, float_result, int64, result_type
from gradwork.ops.dims import normalize_dim, normalize_dims

# What max(dim)/min(dim) return, like torch.return_types.max.
ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])

_NUMBERS = (bool, int, float)


def _is_tensor(value: Any) -> bool:
    return hasattr(value, "_version_counter")


def operand(value: Any) -> Any:
    """A Tensor, or a Python number kept as a constant (weak in type promotion).

    NumPy scalars become Python numbers, so `float32_tensor * np.float64(2)`
    stays float32, as in torch. Arrays and lists become constant tensors.
    """
    if isinstance(value, np.generic):  # first: np.float64 is a subclass of float
        return value.item()
    if isinstance(value, _NUMBERS) or _is_tensor(value):
        return value
    return autograd.make_tensor(as_array(value))


def _cast(value: Any, dtype: np.dtype) -> Any:
    """A tensor operand cast (differentiably) to `dtype`; numbers stay weak for NumPy."""
    if _is_tensor(value) and value.array.dtype != dtype:
        return value.to(dtype)
    return value


def promote(a: Any, b: Any, floating: bool = False) -> tuple[Any, Any]:
    """Both operands at torch's result dtype (float32 for ints when `floating`)."""
    a, b = operand(a), operand(b)
    # Fast path: two tensors of one dtype, the common case inside a model.
    if _is_tensor(a) and _is_tensor(b) and a.array.dtype == b.array.dtype:
        dtype = a.array.dtype
        if not floating or dtype.kind in "fc":
            return a, b
    dtype = result_type(a, b)
    if floating:
        dtype = float_result(dtype)
    return _cast(a, dtype), _cast(b, dtype)


def _floating(tensor: Any) -> Any:
    """The input of a float function (exp, sqrt, sigmoid, ...): ints become float32."""
    return tensor if tensor.array.dtype.kind in "fc" else tensor.to(DEFAULT_FLOAT)


def _no_grad(data: Any) -> Any:
    return autograd.make_tensor(as_array(data))


def _raw(value: Any) -> Any:
    return getattr(operand(value), "array", value)


def _compare(compare: np.ufunc, a: Any, b: Any) -> Any:
    """A comparison after promotion (no gradient): `int_tensor < 0.5` compares as floats."""
    a, b = promote(a, b)
    try:
        return _no_grad(compare(_raw(a), _raw(b)))
    except ValueError as error:  # NumPy's shape mismatch; torch raises RuntimeError
        raise ShapeError(f"{compare.__name__}: {error}") from None


def _check_integer_power(base: Any, exponent: Any) -> None:
    if (
        isinstance(exponent, int)
        and not isinstance(exponent, bool)
        and exponent < 0
        and _is_tensor(base)
        and base.array.dtype.kind in "biu"
    ):
        raise RuntimeError(
            "Integers to negative integer powers are not allowed. Use a float base "
            "(t.float() ** -2) or a float exponent."
        )


def _matmul_operands(a: Any, b: Any) -> tuple[Any, Any]:
    if a.array.dtype != b.array.dtype:  # torch never promotes inside matmul
        raise RuntimeError(
            f"expected m1 and m2 to have the same dtype, but got: {a.array.dtype} != "
            f"{b.array.dtype}; convert one with .to(other.dtype)"
        )
    if a.array.dtype == np.bool_ and not _empty_bool_product(a.shape, b.shape):
        raise NotImplementedError("matmul is not implemented for bool tensors; use .long()")
    return a, b


def _empty_bool_product(a: tuple, b: tuple) -> bool:
    """Whether torch lets a bool matmul through: a matrix product with no work in it
    (an empty result, or an empty inner dimension: all False). Dot products never."""
    if len(a) < 2 and len(b) < 2 or not a or not b:
        return False
    out = a[:-1] + (b[:-2] + b[-1:] if len(b) >= 2 else ())
    return a[-1] == 0 or 0 in out


def _axis_alias(method):
    """Accept NumPy's `axis=` for `dim=`, as torch's reductions do."""

    @functools.wraps(method)
    def reduction(self, *args, **kwargs):
        if "axis" in kwargs:
            if "dim" in kwargs:
                raise TypeError(f"{method.__name__}(): got both dim= and its alias axis=")
            kwargs["dim"] = kwargs.pop("axis")
        return method(self, *args, **kwargs)

    return reduction


def _refuse_bool_subtraction(a: Any, b: Any) -> None:
    if a.array.dtype == np.bool_ or isinstance(b, bool) or getattr(b, "dtype", None) == np.bool_:
        raise RuntimeError(
            "Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
            "trying to invert a mask, use the `~` or `logical_not()` operator instead."
        )


def _refuse_bool(tensor: Any, name: str) -> None:
    if tensor.array.dtype == np.bool_:
        raise RuntimeError(f"{name}: does not support bool input; convert with .long()")


def _bool_power(base: Any, exponent: Any) -> Any:
    """torch: bool ** bool tensor has no kernel; bool ** Python bool stays bool."""
    if isinstance(exponent, bool):  # x ** True is x, x ** False is True
        return _no_grad(base.array.copy() if exponent else np.ones_like(base.array))
    if _is_tensor(exponent) and exponent.array.dtype == np.bool_:
        raise NotImplementedError("\"pow\" not implemented for 'Bool'; convert with .long()")
    return ops.Pow.apply(*promote(base, exponent))


def _reduced_dtype(tensor: Any, dtype: Any) -> Any:
    """sum/prod accumulate ints and bools in int64 (torch), or in the dtype asked for."""
    if dtype is not None:
        return tensor.to(dtype)
    return tensor if tensor.array.dtype.kind in "fc" else tensor.to(int64)


def _require_floating(tensor: Any, message: str) -> None:
    if tensor.array.dtype.kind not in "fc":
        raise RuntimeError(message.format(dtype=tensor.array.dtype))


class MathMethods:
    __slots__ = ()

    # ------------------------------------------------------------ operators
    def __add__(self, other):
        return ops.Add.apply(*promote(self, other))

    def __radd__(self, other):
        return ops.Add.apply(*promote(other, self))

    def __sub__(self, other):
        _refuse_bool_subtraction(self, other)
        return ops.Sub.apply(*promote(self, other))

    def __rsub__(self, other):
        _refuse_bool_subtraction(self, other)
        return ops.Sub.apply(*promote(other, self))

    def __mul__(self, other):
        return ops.Mul.apply(*promote(self, other))

    def __rmul__(self, other):
        return ops.Mul.apply(*promote(other, self))

    def __truediv__(self, other):
        return ops.Div.apply(*promote(self, other, floating=True))

    def __rtruediv__(self, other):
        return ops.Div.apply(*promote(other, self, floating=True))

    def __pow__(self, exponent):
        _check_integer_power(self, operand(exponent))
        if self.array.dtype == np.bool_:
            return _bool_power(self, operand(exponent))
        return ops.Pow.apply(*promote(self, exponent))

    def __rpow__(self, base):
        return ops.Pow.apply(*promote(base, self))

    def __matmul__(self, other):
        return ops.MatMul.apply(*_matmul_operands(self, operand(other)))

    def __rmatmul__(self, other):
        return ops.MatMul.apply(*_matmul_operands(operand(other), self))

    def __neg__(self):
        if self.array.dtype == np.bool_:
            raise RuntimeError(
                "Negation, the `-` operator, on a bool tensor is not supported. If you are "
                "trying to invert a mask, use the `~` or `logical_not()` operator instead."
            )
        return ops.Neg.apply(self)

    def __abs__(self):
        return self.abs()

    # Comparisons give boolean tensors and carry no gradient.
    def __lt__(self, other):
        return _compare(np.less, self, other)

    def __le__(self, other):
        return _compare(np.less_equal, self, other)

    def __gt__(self, other):
        return _compare(np.greater, self, other)

    def __ge__(self, other):
        return _compare(np.greater_equal, self, other)

    def __eq__(self, other):
        return _compare(np.equal, self, other)

    def __ne__(self, other):
        return _compare(np.not_equal, self, other)

    def add(self, other, *, alpha: float = 1):
        return self + (other if alpha == 1 else operand(other) * alpha)

    def sub(self, other, *, alpha: float = 1):
        return self - (other if alpha == 1 else operand(other) * alpha)

    mul, pow, matmul = __mul__, __pow__, __matmul__
    lt, le, gt, ge, eq, ne = __lt__, __le__, __gt__, __ge__, __eq__, __ne__
    true_divide, multiply, subtract = __truediv__, mul, sub
    less, less_equal, greater, greater_equal, not_equal = lt, le, gt, ge, ne

    def neg(self):
        return -self

    negative = neg

    # --------------------------------------------------------- math functions
    # Float functions of an integer tensor compute in float32, as torch's do.
    def exp(self):
        return ops.Exp.apply(_floating(self))

    def log(self):
        return ops.Log.apply(_floating(self))

    def log1p(self):
        return ops.Log1p.apply(_floating(self))

    def sqrt(self):
        return ops.Sqrt.apply(_floating(self))

    def rsqrt(self):
        return self.sqrt().reciprocal()

    def abs(self):
        _refuse_bool(self, "abs")
        return ops.Abs.apply(self)

    absolute = abs

    def sign(self):
        if self.array.dtype == np.bool_:  # sign(True) is True, as in torch
            return _no_grad(self.array.copy())
        return ops.Sign.apply(self)

    def sin(self):
        return ops.Sin.apply(_floating(self))

    def cos(self):
        return ops.Cos.apply(_floating(self))

    def reciprocal(self):
        return ops.Div.apply(1.0, _floating(self))

    def square(self):
        if self.array.dtype == np.bool_:  # torch squares bools as int64 (pow promotes)
            return self.long().square()
        return self * self

    def clamp(self, min=None, max=None):  # noqa: A002 - torch's argument names
        if min is None and max is None:
            raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
        if not isinstance(min, int | float | None) or not isinstance(max, int | float | None):
            # Tensor bounds: compose from maximum/minimum (gradients flow to both).
            out = self if min is None else self.maximum(operand(min))
            return out if max is None else out.minimum(operand(max))
        bounds = [b for b in (min, max) if b is not None]
        tensor = _cast(self, result_type(self, *bounds))
        return ops.Clamp.apply(tensor, min, max)

    clip = clamp

    def maximum(self, other):
        return ops.Maximum.apply(*promote(self, other))

    def minimum(self, other):
        return ops.Minimum.apply(*promote(self, other))

    # ------------------------------------------------------------- activations
    def relu(self):
        _refuse_bool(self, "relu")
        return ops.Relu.apply(self)

    def sigmoid(self):
        return ops.Sigmoid.apply(_floating(self))

    def tanh(self):
        return ops.Tanh.apply(_floating(self))

    def log_softmax(self, dim: int, dtype: Any = None):
        dim = normalize_dim(dim, self.ndim)
        tensor = self if dtype is None else self.to(dtype)
        if tensor.array.dtype.kind not in "fc":
            if tensor.array.size == 0:  # nothing to compute: torch hands back the empty input
                return tensor.clone()
            raise NotImplementedError(
                f"softmax and log_softmax are not implemented for {tensor.array.dtype}; "
                "call .float() first or pass dtype=gradwork.float32"
            )
        return ops.LogSoftmax.apply(tensor, dim=dim)

    def softmax(self, dim: int, dtype: Any = None):
        out = self.log_softmax(dim, dtype)
        # exp of the stable log-softmax: no overflow for large logits.
        return out if out.array.size == 0 else out.exp()

    @_axis_alias
    def logsumexp(self, dim: Any = None, keepdim: bool = False):
        return ops.LogSumExp.apply(_floating(self), dim=dim, keepdim=keepdim)

    # -------------------------------------------------------------- reductions
    @_axis_alias
    def sum(self, dim: Any = None, keepdim: bool = False, *, dtype: Any = None):
        return ops.Sum.apply(_reduced_dtype(self, dtype), dim=dim, keepdim=keepdim)

    @_axis_alias
    def mean(self, dim: Any = None, keepdim: bool = False, *, dtype: Any = None):
        tensor = self if dtype is None else self.to(dtype)
        _require_floating(
            tensor,
            "mean(): could not infer output dtype. Input dtype must be either a floating "
            "point or complex dtype. Got: {dtype}. Call .float() first.",
        )
        return ops.Mean.apply(tensor, dim=dim, keepdim=keepdim)

    @_axis_alias
    def var(self, dim: Any = None, unbiased: bool = True, keepdim: bool = False, *,
            correction: float | None = None):  # fmt: skip
        """Variance with Bessel's correction by default (torch: correction=1)."""
        _require_floating(self, "std and var only support floating point and complex dtypes")
        return self._wide_variance(dim, keepdim, unbiased, correction).to(self.dtype)

    def _wide_variance(self, dim: Any, keepdim: bool, unbiased: bool, correction: Any):
        """The variance in float64 for narrower floats, as torch accumulates it (so tiny
        spreads, values ~1e-27 whose squares underflow float32, keep their size)."""
        if correction is None:
            correction = 1 if unbiased else 0
        wide = self.double() if self.array.dtype.itemsize < 8 else self
        centred = wide - wide.mean(dim, keepdim=True)
        count = int(np.prod([self.array.shape[i] for i in normalize_dims(dim, self.ndim)]))
        # NOTE: count - correction <= 0 gives inf/nan, as in torch.
        with np.errstate(divide="ignore", invalid="ignore"):
            return (centred * centred).sum(dim, keepdim) / max(count - correction, 0)

    @_axis_alias
    def std(self, dim: Any = None, unbiased: bool = True, keepdim: bool = False, *,
            correction: float | None = None):  # fmt: skip
        _require_floating(self, "std and var only support floating point and complex dtypes")
        variance = self._wide_variance(dim, keepdim, unbiased, correction)
        # NOTE: torch gives std a zero gradient where it is 0 (sqrt's slope is infinite
        # there). The double `where` keeps both the value and the gradient finite.
        flat = variance.array == 0
        if not np.any(flat):
            return variance.sqrt().to(self.dtype)
        safe = ops.Where.apply(flat, variance.dtype.type(1), variance)
        return ops.Where.apply(flat, variance.dtype.type(0), safe.sqrt()).to(self.dtype)

    @_axis_alias
    def prod(self, dim: int | None = None, keepdim: bool = False, *, dtype: Any = None):
        if dim is not None:
            normalize_dim(dim, self.ndim)  # prod takes one dim, as in torch
        return ops.Prod.apply(_reduced_dtype(self, dtype), dim=dim, keepdim=keepdim)

    @_axis_alias
    def amax(self, dim: Any = (), keepdim: bool = False):
        return ops.Amax.apply(self, dim=None if dim == () else dim, keepdim=keepdim)

    @_axis_alias
    def amin(self, dim: Any = (), keepdim: bool = False):
        return ops.Amin.apply(self, dim=None if dim == () else dim, keepdim=keepdim)

    @_axis_alias
    def max(self, dim: Any = None, keepdim: bool = False):
        """max(): the largest value; max(dim): (values, indices); max(tensor): maximum."""
        if dim is None:
            return self.amax()
        if _is_tensor(dim):
            return self.maximum(dim)
        return self._extreme_along(dim, keepdim, np.argmax)

    @_axis_alias
    def min(self, dim: Any = None, keepdim: bool = False):
        if dim is None:
            return self.amin()
        if _is_tensor(dim):
            return self.minimum(dim)
        return self._extreme_along(dim, keepdim, np.argmin)

    def _extreme_along(self, dim, keepdim, arg):
        dim = normalize_dim(dim, self.ndim)
        if self.ndim == 0:  # the one element is its own max, at index 0
            return ValuesIndices(self.clone(), _no_grad(xp_of(self.array).zeros((), np.int64)))
        # NOTE: the gradient goes to the one index returned (torch's max(dim)).
        indices = _no_grad(_arg(arg, self.array, dim, True))
        values = self.gather(dim, indices)
        if not keepdim:
            values, indices = values.squeeze(dim), indices.squeeze(dim)
        return ValuesIndices(values, indices)

    @_axis_alias
    def argmax(self, dim: int | None = None, keepdim: bool = False):
        _refuse_bool(self, "argmax()")
        return _no_grad(_arg(np.argmax, self.array, dim, keepdim))

    @_axis_alias
    def argmin(self, dim: int | None = None, keepdim: bool = False):
        _refuse_bool(self, "argmin()")
        return _no_grad(_arg(np.argmin, self.array, dim, keepdim))

    @_axis_alias
    def all(self, dim: Any = None, keepdim: bool = False):
        return _no_grad(np.all(self.array, axis=_logical_axes(dim, self.ndim), keepdims=keepdim))

    @_axis_alias
    def any(self, dim: Any = None, keepdim: bool = False):
        return _no_grad(np.any(self.array, axis=_logical_axes(dim, self.ndim), keepdims=keepdim))

    def isnan(self):
        return _no_grad(np.isnan(self.array))

    def isfinite(self):
        return _no_grad(np.isfinite(self.array))

    # ----------------------------------------------------------- composites
    def where(self, condition, other):
        """torch's `x.where(cond, y)`: x where cond holds, else y."""
        return ops.Where.apply(_raw(condition).astype(bool), *promote(self, other))

    def masked_fill(self, mask, value):
        mask = _raw(mask)
        if getattr(mask, "dtype", None) != np.bool_:
            raise RuntimeError(
                f"masked_fill only supports boolean masks, but got mask with dtype "
                f"{getattr(mask, 'dtype', type(mask).__name__)}; compare first (t > 0)"
            )
        value = operand(value)
        if _is_tensor(value):
            if value.ndim:
                raise RuntimeError(
                    "masked_fill only supports a 0-dimensional value tensor, but got tensor "
                    f"with {value.ndim} dimension(s)."
                )
            value = _cast(value, self.array.dtype)
        else:
            value = self.array.dtype.type(value)  # the value takes the tensor's dtype
        return ops.Where.apply(mask, value, self)


def _logical_axes(dim, ndim):
    """all/any axes. NOTE: unlike sum, torch's all/any reduce NOTHING for dim=()."""
    if dim is not None and not isinstance(dim, int) and len(dim) == 0:
        return ()
    return normalize_dims(dim, ndim)


def _arg(find, data, dim, keepdim):
    if data.size == 0 and (dim is None or data.ndim == 0 or data.shape[dim] == 0):
        raise IndexError(f"{find.__name__}(): Expected reduction dim to be specified for "
                         "input.numel() == 0, or the reduced dimension is empty")  # fmt: skip
    if dim is None:
        index = as_array(find(data))
        return index.reshape((1,) * data.ndim) if keepdim else index
    dim = normalize_dim(dim, data.ndim)
    if data.ndim == 0:
        return xp_of(data).zeros((), np.int64)
    return find(data, axis=dim, keepdims=keepdim)
