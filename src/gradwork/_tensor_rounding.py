"""Tensor methods that round: floor, ceil, trunc, round, frac, and the divisions
that round (div with rounding_mode, `//`, `%`, fmod).

Split from `_tensor_pointwise.py` (whose helpers it shares); the primitives
live in `gradwork.ops.pointwise`. Dtypes follow torch: `//` and `%` keep
integers, integer division by zero raises, and bools have no kernel.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from gradwork._arrays import as_array
from gradwork._tensor_math import _raw, operand, promote
from gradwork._tensor_pointwise import (
    _broadcast_shape,
    _constant,
    _inplace,
    _not_implemented,
    _require_float_kernel,
)
from gradwork.dtypes import result_type
from gradwork.ops import pointwise

_ROUNDING_MODES = (None, "trunc", "floor")


class _DefaultDecimals(int):
    """round's default `decimals=0`, told apart from an explicit 0: torch rounds an
    integer tensor without `decimals`, and refuses it with any value."""


_NO_DECIMALS = _DefaultDecimals(0)


class RoundingMethods:
    __slots__ = ()

    # ---------------------------------------------- division and remainder
    def div(self, other, *, rounding_mode: str | None = None):
        """True division, or rounded toward zero ("trunc") or down ("floor").

        Example:
            >>> import gradwork as gw
            >>> gw.tensor([-7, 7]).div(2, rounding_mode="floor")
            tensor([-4,  3])
        """
        if rounding_mode not in _ROUNDING_MODES:
            raise RuntimeError(
                "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                f"{rounding_mode!r}"
            )
        if rounding_mode is None:
            return self / other
        return _rounded_division(self, other, rounding_mode, differentiable=True)

    divide = div

    def floor_divide(self, other):
        """`self // other`: the quotient rounded down, like Python's (no gradient, as torch)."""
        return _rounded_division(self, other, "floor", differentiable=False)

    __floordiv__ = floor_divide

    def __rfloordiv__(self, other):
        return _rounded_division(other, self, "floor", differentiable=False)

    def remainder(self, other):
        """`self % other`: the remainder with the divisor's sign (Python's, torch's).

        Example:
            >>> import gradwork as gw
            >>> gw.tensor([-3, 3]) % 2, gw.tensor([-3, 3]).fmod(2)
            (tensor([1, 1]), tensor([-1,  1]))
        """
        return pointwise.Remainder.apply(*_integer_operands(self, other, "remainder"))

    __mod__ = remainder

    def __rmod__(self, other):
        # NOTE: torch has no derivative for `number % tensor` (backward raises).
        a, b = _integer_operands(other, self, "remainder")
        return pointwise.Remainder.apply(a, b, differentiable=False)

    def fmod(self, other):
        """The remainder with the dividend's sign (C's fmod)."""
        return pointwise.Fmod.apply(*_integer_operands(self, other, "fmod"))

    # --------------------------------------------------------------- rounding
    def floor(self):
        return _rounded(self, "floor")

    def ceil(self):
        return _rounded(self, "ceil")

    def trunc(self):
        return _rounded(self, "trunc")

    fix = trunc

    def round(self, *, decimals: int = _NO_DECIMALS):
        """Round half to even, at `decimals` digits after the point (negative: before).

        Example:
            >>> import gradwork as gw
            >>> gw.tensor([0.5, 1.5, 2.567]).round(), gw.tensor([1234.5]).round(decimals=-2)
            (tensor([0., 2., 3.]), tensor([1200.]))
        """
        if not isinstance(decimals, int) or isinstance(decimals, bool):
            raise TypeError(
                f"round(): argument 'decimals' must be int, not {type(decimals).__name__}"
            )
        if decimals is not _NO_DECIMALS and self.array.dtype.kind not in "fc":
            raise NotImplementedError(
                f"round with decimals is not implemented for {self.array.dtype}; "
                "call .float() first"
            )
        return _rounded(self, "round", int(decimals))

    def frac(self):
        """The fractional part, `self - self.trunc()`, with the sign of self; gradient 1."""
        _require_float_kernel(self.array.dtype, "frac")
        return self - self.trunc()

    # In place (`x //= 2`, `x %= 3`): the result written back, dtype kept.
    __ifloordiv__, __imod__ = _inplace(operator.floordiv), _inplace(operator.mod)


# ---------------------------------------------------------------- helpers
def _rounded(tensor: Any, how: str, decimals: int = 0) -> Any:
    dtype = tensor.array.dtype
    if dtype == np.bool_:
        raise _not_implemented(f"{how}", dtype, "convert with .long() or .float() first")
    if dtype.kind in "iu":  # integers are already whole: a copy, as torch returns
        return _constant(tensor.array.copy())
    return pointwise.Round.apply(tensor, how=how, decimals=decimals)


def _integer_operands(a: Any, b: Any, op: str) -> tuple[Any, Any]:
    """Both operands promoted; bools refused; integer division by 0 raises (torch)."""
    dtype = result_type(operand(a), operand(b))
    if dtype == np.bool_:
        raise _not_implemented(op, dtype, "convert with .long() first")
    a, b = promote(a, b)
    empty = 0 in _broadcast_shape(_raw(a), _raw(b))  # nothing divided: no error (torch)
    if dtype.kind in "iu" and not empty and np.any(as_array(_raw(b)) == 0):
        raise RuntimeError(f"ZeroDivisionError: integer {op} by zero; use a float tensor")
    return a, b


def _rounded_division(a: Any, b: Any, mode: str, differentiable: bool) -> Any:
    a, b = _integer_operands(a, b, f"div_{mode}")
    return pointwise.DivRound.apply(a, b, mode=mode, differentiable=differentiable)
