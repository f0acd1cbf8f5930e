"""Tensor methods for elementwise math beyond the basics: trigonometry,
logarithms in other bases, the error function, lerp, bitwise and logical
operators, and closeness tests. Rounding, integer division and remainder are
in `_tensor_rounding.py`, which shares the helpers at the end of this file.

Each is composed from primitives where the math allows (gradients come free);
the primitives it needs live in `gradwork.ops.pointwise`. Dtypes follow torch:
float functions of integers compute in float32, `//` and `%` keep integers,
bitwise operators take only bools and integers, and ops torch lacks a kernel
for (floor of a bool, logaddexp of ints) raise its NotImplementedError.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from gradwork import autograd, ops
from gradwork._arrays import as_array
from gradwork._tensor_inplace import _replace
from gradwork._tensor_math import _floating, _is_tensor, _raw, operand, promote
from gradwork.dtypes import result_type
from gradwork.ops import pointwise


def _float_function(name: str, primitive: type) -> Callable:
    """A method `t.name()` applying `primitive` to t (int and bool inputs made float32)."""

    def method(self):
        return primitive.apply(_floating(self))

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"Elementwise {name}; see torch.{name}."
    return method


def _inplace(combine: Callable) -> Callable:
    """`t op= other`: `combine(t, other)` written into t (torch's dtype rules apply)."""

    def method(self, other):
        return _replace(self, lambda old: combine(old, other), other)

    return method


def _bitwise_method(ufunc: np.ufunc, reflected: bool = False) -> Callable:
    """`t.bitwise_and(other)` and its kin; `reflected` for `other & t` (`__rand__`)."""

    def method(self, other):
        a, b = (other, self) if reflected else (self, other)
        return _bitwise(ufunc, ufunc.__name__, a, b)

    method.__name__ = method.__qualname__ = ufunc.__name__
    return method


class PointwiseMethods:
    __slots__ = ()

    # ------------------------------------------------ trigonometry, hyperbolic
    # Float functions: integers and bools compute in float32, as in torch.
    tan = _float_function("tan", pointwise.Tan)
    asin = _float_function("asin", pointwise.Asin)
    acos = _float_function("acos", pointwise.Acos)
    atan = _float_function("atan", pointwise.Atan)
    sinh = _float_function("sinh", pointwise.Sinh)
    cosh = _float_function("cosh", pointwise.Cosh)
    asinh = _float_function("asinh", pointwise.Asinh)
    acosh = _float_function("acosh", pointwise.Acosh)
    atanh = _float_function("atanh", pointwise.Atanh)
    expm1 = _float_function("expm1", pointwise.Expm1)
    erfinv = _float_function("erfinv", pointwise.Erfinv)

    def atan2(self, other):
        """The angle of the point (other, self), in (-pi, pi]; integers give float32."""
        return pointwise.Atan2.apply(*promote(self, other, floating=True))

    arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2
    arcsinh, arccosh, arctanh = asinh, acosh, atanh

    def hypot(self, other):
        """sqrt(self**2 + other**2) without overflow in the squares (floats only)."""
        return pointwise.Hypot.apply(*_float_kernel_operands(self, other, "hypot"))

    # ------------------------------------------------ exponentials, logarithms
    def log2(self):
        return pointwise.LogBase.apply(_floating(self), base=2)

    def log10(self):
        return pointwise.LogBase.apply(_floating(self), base=10)

    def exp2(self):
        return 2.0 ** _floating(self)

    def logaddexp(self, other):
        """log(exp(self) + exp(other)), computed without overflow (floats only)."""
        return pointwise.LogAddExp.apply(*_float_kernel_operands(self, other, "logaddexp"))

    def logaddexp2(self, other):
        """log2(2**self + 2**other), computed without overflow (floats only)."""
        operands = _float_kernel_operands(self, other, "logaddexp2")
        return pointwise.LogAddExp.apply(*operands, base2=True)

    def erf(self):
        return ops.Erf.apply(_floating(self))

    def erfc(self):
        """1 - erf(self), computed directly so that the tail (x > ~3) keeps its digits."""
        return ops.Erf.apply(_floating(self), complement=True)

    def lerp(self, end, weight):
        """self + weight * (end - self); weight a number or a tensor (floats only).

        Example:
            >>> import gradwork as gw
            >>> gw.tensor([0.0, 10.0]).lerp(gw.tensor([10.0, 20.0]), 0.25)
            tensor([ 2.5, 12.5])
        """
        weight = _lerp_checks(self, end, weight)
        difference = end - self
        # NOTE: torch's two formulas: each exact at its own end (weight 0 or 1), and
        # lerp(inf, 0, 2) is -inf, not inf - inf.
        if not _is_tensor(weight):
            return (
                self + weight * difference if abs(weight) < 0.5 else end - difference * (1 - weight)
            )
        near_start = np.abs(weight.array) < 0.5
        return (self + weight * difference).where(near_start, end - difference * (1 - weight))

    # ------------------------------------------------ tests (no gradient)
    def isinf(self):
        return _constant(np.isinf(self.array))

    def isposinf(self):
        return _constant(self.array == np.inf)  # False for ints and bools alike

    def isneginf(self):
        return _constant(self.array == -np.inf)

    def isclose(self, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False):
        """|self - other| <= atol + rtol * |other| elementwise; equal infinities are close.

        Both tensors must have one dtype, as in torch.
        """
        _closeness_checks(self, other, rtol, atol)
        a, b = self.array, other.array
        _broadcast_shape(a, b)
        if a.dtype == np.bool_:
            return _constant(a == b)
        if a.dtype.kind not in "fc":  # integers: compare the exact difference as float64
            a, b = a.astype(np.float64), b.astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            error = np.abs(a - b)
            close = (a == b) | (np.isfinite(error) & (error <= atol + np.abs(rtol * b)))
        if equal_nan:
            close |= np.isnan(a) & np.isnan(b)
        return _constant(close)

    def allclose(self, other, rtol: float = 1e-05, atol: float = 1e-08,
                 equal_nan: bool = False) -> bool:  # fmt: skip
        """Whether every element is close (isclose), as a Python bool.

        Example:
            >>> import gradwork as gw
            >>> gw.allclose(gw.tensor([1.0, 2.0]), gw.tensor([1.0, 2.000001]))
            True
        """
        return bool(np.all(self.isclose(other, rtol, atol, equal_nan).array))

    # ------------------------------------------------ logical (bool results)
    def logical_not(self):
        return _constant(np.logical_not(self.array))

    def logical_and(self, other):
        return _logical(np.logical_and, self, other)

    def logical_or(self, other):
        return _logical(np.logical_or, self, other)

    def logical_xor(self, other):
        return _logical(np.logical_xor, self, other)

    # ---------------------------------------------- bitwise (bools, integers)
    def bitwise_not(self):
        _require_integral(self.array.dtype, "bitwise_not")
        return _constant(np.invert(self.array))

    def __invert__(self):
        if self.array.dtype.kind not in "biu":
            raise TypeError(
                "~ (operator.invert) is only implemented on integer and Boolean-type tensors; "
                "for a float mask use (t == 0) or t.logical_not()"
            )
        return self.bitwise_not()

    bitwise_and = _bitwise_method(np.bitwise_and)
    bitwise_or = _bitwise_method(np.bitwise_or)
    bitwise_xor = _bitwise_method(np.bitwise_xor)
    __and__, __or__, __xor__ = bitwise_and, bitwise_or, bitwise_xor
    __rand__ = _bitwise_method(np.bitwise_and, reflected=True)
    __ror__ = _bitwise_method(np.bitwise_or, reflected=True)
    __rxor__ = _bitwise_method(np.bitwise_xor, reflected=True)

    # In place (`mask &= other`): the result written back, dtype kept.
    __iand__, __ior__ = _inplace(operator.and_), _inplace(operator.or_)
    __ixor__ = _inplace(operator.xor)


# ---------------------------------------------------------------- helpers
def _constant(array: Any) -> Any:
    """A result outside the graph (tests, bitwise and logical ops have no gradient)."""
    return autograd.make_tensor(as_array(array))


def _kernel_name(dtype: np.dtype) -> str:
    """torch's name of a dtype in "not implemented for 'Long'" messages."""
    names = {"bool": "Bool", "int64": "Long", "int32": "Int", "int16": "Short",
             "int8": "Char", "uint8": "Byte", "float32": "Float", "float64": "Double"}  # fmt: skip
    return names.get(np.dtype(dtype).name, np.dtype(dtype).name)


def _not_implemented(op: str, dtype: np.dtype, fix: str) -> NotImplementedError:
    return NotImplementedError(f"\"{op}_cpu\" not implemented for '{_kernel_name(dtype)}'; {fix}")


def _require_float_kernel(dtype: np.dtype, op: str) -> None:
    if dtype.kind not in "fc":
        raise _not_implemented(op, dtype, "call .float() first")


def _require_integral(dtype: np.dtype, op: str) -> None:
    if dtype.kind not in "biu":
        raise _not_implemented(op, dtype, "bitwise ops take bool and integer tensors only")


def _broadcast_shape(a: Any, b: Any) -> tuple:
    try:
        return np.broadcast_shapes(np.shape(a), np.shape(b))
    except ValueError:
        raise autograd.ShapeError(
            f"operands with shapes {tuple(np.shape(a))} and {tuple(np.shape(b))} do not "
            "broadcast: each dim must be equal or 1"
        ) from None


def _float_kernel_operands(a: Any, b: Any, op: str) -> tuple[Any, Any]:
    """Promoted operands of an op torch has only float kernels for (hypot, logaddexp)."""
    a, b = promote(a, b)
    _require_float_kernel(result_type(a, b), op)
    return a, b


def _bitwise(ufunc: np.ufunc, op: str, a: Any, b: Any) -> Any:
    a, b = operand(a), operand(b)
    _require_integral(result_type(a, b), op)
    a, b = promote(a, b)
    _broadcast_shape(_raw(a), _raw(b))
    return _constant(ufunc(_raw(a), _raw(b)))


def _logical(ufunc: np.ufunc, a: Any, b: Any) -> Any:
    a, b = _raw(a), _raw(b)
    _broadcast_shape(a, b)
    return _constant(ufunc(a, b))


def _closeness_checks(a: Any, b: Any, rtol: float, atol: float) -> None:
    if not _is_tensor(b):
        raise TypeError(
            f"isclose(): argument 'other' must be Tensor, not {type(b).__name__}; "
            "wrap it with gradwork.tensor(...)"
        )
    if a.array.dtype != b.array.dtype:
        raise RuntimeError(
            f"{_kernel_name(a.array.dtype)} did not match {_kernel_name(b.array.dtype)}: "
            "isclose compares tensors of one dtype; convert one with .to(other.dtype)"
        )
    for name, value in (("rtol", rtol), ("atol", atol)):
        if value < 0:
            raise RuntimeError(f"{name} must be greater than or equal to zero, but got {value}")


def _lerp_checks(start: Any, end: Any, weight: Any) -> Any:
    """torch's lerp: start and end tensors of one float dtype; the weight cast to it."""
    if not _is_tensor(end):
        raise TypeError(f"lerp(): argument 'end' must be Tensor, not {type(end).__name__}")
    dtype = start.array.dtype
    _require_float_kernel(dtype, "lerp_kernel_scalar")
    if end.array.dtype != dtype:
        raise RuntimeError(
            f"expected dtype {dtype} for `end` but got dtype {end.array.dtype}; "
            "convert it with .to(start.dtype)"
        )
    weight = operand(weight)
    if _is_tensor(weight) and weight.array.dtype != dtype:
        if weight.ndim:
            raise RuntimeError(
                f"expected dtype {dtype} for `weight` but got dtype {weight.array.dtype}"
            )
        weight = weight.to(dtype)
    return weight
