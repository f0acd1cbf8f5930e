"""Elementwise primitives beyond ops/elementwise.py: rounding, division with a
rounding mode, remainders, trigonometry and its inverses, hyperbolic functions,
expm1, erfinv, atan2, hypot and logaddexp.

Each is a primitive because no composite of existing ones gives it, or gives
it accurately: the inverse and hyperbolic functions need NumPy's own kernels
(the log/sqrt formulas for asinh, atanh lose digits near 0 and overflow), and
the rest say why in their docstrings. The derivatives, and their values at
edge points (0 for rounding, inf at the ends of asin's domain), are torch's.
`PRIMITIVES` lists them for gradwork.ops.PRIMITIVES.
"""

from __future__ import annotations

import numpy as np

from gradwork._arrays import xp_of
from gradwork.autograd import Function
from gradwork.ops.special import erf

_ROUNDERS = {"floor": np.floor, "ceil": np.ceil, "trunc": np.trunc}


def _quiet():
    """No NumPy warnings where torch is silent: x / 0, asin(2), exp overflow give inf/NaN."""
    return np.errstate(divide="ignore", invalid="ignore", over="ignore")


class Round(Function):
    """floor, ceil, trunc, or round half to even at `decimals` digits (how="round").

    A primitive for speed: one NumPy call, and a gradient that is exactly 0
    everywhere (NOTE: torch's choice, also at the jumps and at inf/NaN, where
    a composite like `x * 0` would give NaN).
    """

    @staticmethod
    def forward(ctx, a, how="round", decimals=0):
        if how == "round":
            return np.round(a, decimals)  # half to even, as torch's nearbyint
        return _ROUNDERS[how](a)

    @staticmethod
    def backward(ctx, grad):
        return np.zeros_like(grad)


class DivRound(Function):
    """a / b rounded by `mode` ("floor" or "trunc"): torch's div(rounding_mode=...).

    A primitive for exactness: NumPy's floor_divide rounds the exact quotient,
    as torch and Python do (1 // 0.1 is 9.0), where floor(1 / 0.1) gives 10.
    NOTE: the gradient is 0 for both operands (torch), except that torch's
    floor_divide (`//`) has no derivative at all: `differentiable=False` makes
    backward raise its error.
    """

    @staticmethod
    def forward(ctx, a, b, mode="floor", differentiable=True):
        ctx.differentiable = differentiable
        with _quiet():
            if mode == "floor":
                return np.floor_divide(a, b)
            if np.result_type(a, b).kind in "fc":
                return np.trunc(a / b)
        quotient = np.floor_divide(a, b)
        # Integer truncation: one up where the floor went below zero inexactly.
        return quotient + ((np.remainder(a, b) != 0) & ((a < 0) != (b < 0)))

    @staticmethod
    def backward(ctx, grad):
        if not ctx.differentiable:
            _no_derivative("floor_divide", "div(other, rounding_mode='floor')")
        return np.zeros_like(grad), np.zeros_like(grad)


def _no_derivative(op: str, instead: str) -> None:
    raise RuntimeError(f"derivative for aten::{op} is not implemented; use {instead} instead")


class Remainder(Function):
    """a - b * floor(a / b), with the sign of b (Python's %): NumPy's exact kernel.

    NOTE: torch has no derivative for `number % tensor`; `differentiable=False`
    makes backward raise its error.
    """

    @staticmethod
    def forward(ctx, a, b, differentiable=True):
        ctx.differentiable = differentiable
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b)
        with _quiet():
            return np.remainder(a, b)

    @staticmethod
    def backward(ctx, grad):
        if not ctx.differentiable:
            _no_derivative("remainder", "(tensor(number) % t)")
        a, b = ctx.saved
        with _quiet():
            grad_b = -grad * np.floor_divide(a, b) if ctx.needs_input_grad[1] else None
        return grad, grad_b


class Fmod(Function):
    """a - b * trunc(a / b), with the sign of a (C's fmod): NumPy's exact kernel."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b)
        with _quiet():
            return np.fmod(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        with _quiet():
            grad_b = -grad * np.trunc(a / b) if ctx.needs_input_grad[1] else None
        return grad, grad_b


class Tan(Function):
    """tan(x); a primitive for accuracy near pi/2, where sin/cos loses digits."""

    @staticmethod
    def forward(ctx, a):
        with _quiet():
            out = np.tan(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        out = ctx.saved[0]
        with _quiet():
            return grad * (1 + out * out)


class Asin(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with _quiet():
            return np.arcsin(a)

    @staticmethod
    def backward(ctx, grad):
        # NOTE: inf at |x| = 1 and NaN beyond, as in torch.
        with _quiet():
            return grad / np.sqrt(1 - ctx.saved[0] ** 2)


class Acos(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with _quiet():
            return np.arccos(a)

    @staticmethod
    def backward(ctx, grad):
        with _quiet():
            return -grad / np.sqrt(1 - ctx.saved[0] ** 2)


class Atan(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.arctan(a)

    @staticmethod
    def backward(ctx, grad):
        return grad / (1 + ctx.saved[0] ** 2)


class Sinh(Function):
    """sinh(x); a primitive for accuracy: (e^x - e^-x) / 2 cancels near 0."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with _quiet():
            return np.sinh(a)

    @staticmethod
    def backward(ctx, grad):
        with _quiet():
            return grad * np.cosh(ctx.saved[0])


class Cosh(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with _quiet():
            return np.cosh(a)

    @staticmethod
    def backward(ctx, grad):
        with _quiet():
            return grad * np.sinh(ctx.saved[0])


class Asinh(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with _quiet():
            return np.arcsinh(a)

    @staticmethod
    def backward(ctx, grad):
        with _quiet():
            return grad / np.sqrt(ctx.saved[0] ** 2 + 1)


class Acosh(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with _quiet():
            return np.arccosh(a)

    @staticmethod
    def backward(ctx, grad):
        # NOTE: inf at x = 1, NaN below (torch's (x^2 - 1).rsqrt()).
        with _quiet():
            return grad / np.sqrt(ctx.saved[0] ** 2 - 1)


class Atanh(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with _quiet():
            return np.arctanh(a)

    @staticmethod
    def backward(ctx, grad):
        # NOTE: finite beyond |x| = 1 (where the value is NaN), as torch's 1 / (1 - x^2).
        with _quiet():
            return grad / (1 - ctx.saved[0] ** 2)


class Expm1(Function):
    """exp(x) - 1; a primitive for accuracy near 0, where the subtraction cancels."""

    @staticmethod
    def forward(ctx, a):
        with _quiet():
            out = np.expm1(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        with _quiet():
            return grad * (ctx.saved[0] + 1)


_LOGS = {2: np.log2, 10: np.log10}


class LogBase(Function):
    """log2 or log10 (`base`); a primitive for accuracy: NumPy's kernels are exact at
    powers of the base (log2(8) == 3), where log(x) / log(base) is off by an ulp."""

    @staticmethod
    def forward(ctx, a, base=2):
        ctx.save_for_backward(a)
        ctx.base = base
        with _quiet():
            return _LOGS[base](a)

    @staticmethod
    def backward(ctx, grad):
        with _quiet():
            return grad / (ctx.saved[0] * np.log(ctx.base))


class Erfinv(Function):
    """The inverse error function on [-1, 1] (+-inf at the ends, NaN outside).

    NumPy has none. A polynomial first guess (Giles, 2010, ~1e-7 relative),
    then two Newton steps on erf in float64 bring it to a few ulp.
    """

    @staticmethod
    def forward(ctx, a):
        with _quiet():
            out = erfinv(a).astype(a.dtype, copy=False)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        # d erfinv(y)/dy = sqrt(pi)/2 * exp(erfinv(y)^2): inf at +-1 (torch).
        out = ctx.saved[0]
        with _quiet():
            return grad * (np.sqrt(np.pi) / 2 * np.exp(out * out))


_ERFINV_CENTRAL = (
    2.81022636e-08,
    3.43273939e-07,
    -3.5233877e-06,
    -4.39150654e-06,
    0.00021858087,
    -0.00125372503,
    -0.00417768164,
    0.246640727,
    1.50140941,
)
_ERFINV_TAIL = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844,
                0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)  # fmt: skip


def _polynomial(coefficients, x):
    """np.polyval(coefficients, x) by Horner's rule, on x's device (cupy.polyval wants arrays)."""
    total = np.zeros_like(x)
    for c in coefficients:
        total = total * x + c
    return total


def erfinv(y):
    """The inverse error function of a float array, computed in float64."""
    y = xp_of(y).asarray(y, dtype=np.float64)
    inside = np.abs(y) < 1
    x = np.where(np.abs(y) == 1, np.copysign(np.inf, y), np.nan)
    v = y[inside]
    w = -np.log((1 - v) * (1 + v))
    central = w < 5
    w = np.where(central, w - 2.5, np.sqrt(w) - 3)
    guess = np.where(central, _polynomial(_ERFINV_CENTRAL, w), _polynomial(_ERFINV_TAIL, w)) * v
    for _ in range(2):
        guess -= (erf(guess) - v) / (2 / np.sqrt(np.pi) * np.exp(-guess * guess))
    x[inside] = guess
    return x


class Atan2(Function):
    """The angle of the point (b, a): atan(a / b) in the right quadrant."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.arctan2(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        with _quiet():
            square = a * a + b * b
            # NOTE: torch takes the gradient at the origin as 0, not NaN.
            scale = np.where(square == 0, 0, grad / np.where(square == 0, 1, square))
            return scale * b, -scale * a


class Hypot(Function):
    """sqrt(a^2 + b^2); a primitive for stability: the squares overflow first."""

    @staticmethod
    def forward(ctx, a, b):
        with _quiet():
            out = np.hypot(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved
        # NOTE: NaN at the origin (0 / 0), as in torch.
        with _quiet():
            return grad * a / out, grad * b / out


class LogAddExp(Function):
    """log(e^a + e^b) (log2(2^a + 2^b) if `base2`); stable at any magnitude.

    A primitive for stability (NumPy's kernel never overflows) and for torch's
    gradient at infinities: grad / (1 + e^(b - a)) is 1 at a = inf, b finite.
    """

    @staticmethod
    def forward(ctx, a, b, base2=False):
        ctx.save_for_backward(a, b)
        ctx.base2 = base2
        with _quiet():
            return np.logaddexp2(a, b) if base2 else np.logaddexp(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        power = np.exp2 if ctx.base2 else np.exp
        with _quiet():
            return grad / (1 + power(b - a)), grad / (1 + power(a - b))


PRIMITIVES: tuple = (
    Round, DivRound, Remainder, Fmod, Tan, Asin, Acos, Atan, Sinh, Cosh, Asinh, Acosh, Atanh,
    Expm1, LogBase, Erfinv, Atan2, Hypot, LogAddExp,
)  # fmt: skip
