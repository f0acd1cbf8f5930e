"""Elementwise primitives: arithmetic, the math functions and activations.

Every backward returns gradients of the *broadcast* shape; the engine sums
them back to each operand's shape (autograd.unbroadcast), so nothing here
worries about broadcasting. Where a derivative is cheapest through the
output (exp, sqrt, sigmoid, tanh) the output is what gets saved.
"""

from __future__ import annotations

import numpy as np

from gradwork._arrays import xp_of
from gradwork.autograd import Function
from gradwork.ops import kernels
from gradwork.ops._select import keep_where, where


class Add(Function):
    """a + b. A true primitive."""

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, grad):
        return grad, grad


class Sub(Function):
    """a - b. Composable as a + (-b); kept as one node: every loss and residual uses it (speed)."""

    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, grad):
        return grad, -grad if ctx.needs_input_grad[1] else None


class Mul(Function):
    """a * b. A true primitive."""

    @staticmethod
    def forward(ctx, a, b):
        # NOTE: each gradient needs only the other operand; saving just that one
        # (as torch does) keeps `y = x * 2; y += 1` legal.
        need_a, need_b = ctx.needs_input_grad
        ctx.save_for_backward(a if need_b else None, b if need_a else None)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        need_a, need_b = ctx.needs_input_grad
        return (grad * b if need_a else None), (grad * a if need_b else None)


class Div(Function):
    """a / b. Composable as a * b**-1; kept: that loses precision and adds a node (stability)."""

    @staticmethod
    def forward(ctx, a, b):
        # NOTE: `a` is needed only for the gradient of `b` (torch saves the same).
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b)
        return a / b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        grad_a = grad / b
        # d(a/b)/db = -a/b^2 = -(grad/b) * a/b
        grad_b = -grad_a * (a / b) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class Neg(Function):
    """-a. Composable as a * -1; kept so `-x` needs no constant and reads as itself (speed)."""

    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, grad):
        return -grad


class Pow(Function):
    """a ** b for a tensor or constant base and exponent."""

    @staticmethod
    def forward(ctx, a, b):
        out = _integer_power(a, b) if _negative_integer_exponent(a, b) else a**b
        # NOTE: the output is needed only for the exponent's gradient (torch
        # saves it only then), so `y = x ** 2; y += 1` stays legal.
        ctx.save_for_backward(a, b, out if ctx.needs_input_grad[1] else None)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved
        need_a, need_b = ctx.needs_input_grad
        grad_a = grad_b = None
        if need_a:
            # NOTE: torch defines the derivative as 0 where the exponent is 0,
            # avoiding 0 * inf = nan from a**(-1) at a = 0.
            grad_a = np.where(b == 0, 0.0, grad * b * a ** np.where(b == 0, 1, b - 1))
            grad_a = grad_a.astype(grad.dtype, copy=False)
        if need_b:
            # NOTE: log(a) is -inf at a = 0; torch masks the gradient to 0 there
            # when the exponent is non-negative (0 ** b is flat in b).
            with np.errstate(divide="ignore", invalid="ignore"):
                grad_b = grad * out * np.log(a)
            grad_b = np.where((a == 0) & (b >= 0), 0.0, grad_b).astype(grad.dtype, copy=False)
        return grad_a, grad_b


def _kind(x) -> str:
    return x.dtype.kind if hasattr(x, "dtype") else np.asarray(x).dtype.kind  # Python numbers


def _negative_integer_exponent(a, b) -> bool:
    # NOTE: bool() of a device array waits for the device; only integer powers get here.
    return {_kind(a), _kind(b)} <= {"i", "u", "b"} and bool(np.any(b < 0))


def _integer_power(a, b):
    """Integer a ** b with some b < 0, as torch computes it (NumPy refuses).

    NOTE: 1 / a**|b| truncates to 0 except for a = 1 (1) and a = -1 (+-1).
    """
    xp = xp_of(a, b)
    a, b = xp.asarray(a), xp.asarray(b)
    out = a ** np.where(b < 0, 0, b)
    odd = np.abs(b) % 2 == 1
    reciprocal = np.where(a == 1, 1, np.where(a == -1, np.where(odd, -1, 1), 0))
    return np.where(b < 0, reciprocal, out).astype(out.dtype)


class Exp(Function):
    """exp(a); the backward reuses the saved output. A true primitive."""

    @staticmethod
    def forward(ctx, a):
        out = np.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.saved[0]


class Log(Function):
    """The natural logarithm. A true primitive."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(a)

    @staticmethod
    def backward(ctx, grad):
        return grad / ctx.saved[0]


class Log1p(Function):
    """log(1 + a), exact for tiny a where log(1 + a) rounds to 0 (stability)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log1p(a)

    @staticmethod
    def backward(ctx, grad):
        return grad / (1 + ctx.saved[0])


class Sqrt(Function):
    """sqrt(a); the backward reuses the saved output. Composable as a ** 0.5; kept for speed."""

    @staticmethod
    def forward(ctx, a):
        with np.errstate(invalid="ignore"):
            out = np.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        # NOTE: infinite at 0, as in torch.
        with np.errstate(divide="ignore"):
            return grad / (2 * ctx.saved[0])


class Abs(Function):
    """|a|. A true primitive (its derivative is sign(a), 0 at 0 as in torch)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx, grad):
        # NOTE: sign(0) = 0, so |x| has gradient 0 at 0 (torch's choice); so does NaN.
        return grad * _sign(ctx.saved[0])


def _sign(a):
    """torch's sign: -1, 0 or 1, and 0 for NaN (NumPy's sign keeps NaN)."""
    out = np.sign(a)
    return np.where(np.isnan(out), 0, out).astype(out.dtype) if out.dtype.kind == "f" else out


class Sign(Function):
    """sign(a) as -1, 0 or 1 (0 for NaN, as torch). A true primitive with a zero gradient."""

    @staticmethod
    def forward(ctx, a):
        return _sign(a)

    @staticmethod
    def backward(ctx, grad):
        return np.zeros_like(grad)


class Sin(Function):
    """sin(a). A true primitive."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.sin(a)

    @staticmethod
    def backward(ctx, grad):
        return grad * np.cos(ctx.saved[0])


class Cos(Function):
    """cos(a). A true primitive."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.cos(a)

    @staticmethod
    def backward(ctx, grad):
        return -grad * np.sin(ctx.saved[0])


class Clamp(Function):
    """Clip into [low, high] with constant bounds. Not composed from maximum/minimum: those
    split the gradient at ties, while torch's clamp passes it whole at the bounds (semantics)."""

    @staticmethod
    def forward(ctx, a, low=None, high=None):
        ctx.save_for_backward(a)
        ctx.low, ctx.high = low, high
        if low is not None and high is not None and low > high:
            # torch: every element becomes max, but a NaN stays NaN.
            return np.minimum(np.maximum(a, low), high)
        return np.clip(a, low, high)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved
        # NOTE: the bounds are inclusive: at a == low the gradient passes (torch).
        keep = np.ones_like(a, dtype=bool)
        if ctx.low is not None:
            keep &= a >= ctx.low
        if ctx.high is not None:
            keep &= a <= ctx.high
        return grad * keep


class Relu(Function):
    """max(a, 0). Composable as maximum(a, 0); kept for speed (one pass, a mask from the
    output, both kernels: `ops/kernels`) and for torch's gradient of 0 at exactly 0."""

    @staticmethod
    def forward(ctx, a):
        out = kernels.relu_forward(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        # NOTE: the derivative at exactly 0 is taken as 0; a NaN passes the
        # gradient on, as torch's threshold backward does (NaN <= 0 is false).
        return kernels.relu_backward(grad, ctx.saved[0])


class Sigmoid(Function):
    """Logistic function; one exp of -|x|, so it never overflows."""

    @staticmethod
    def forward(ctx, a):
        e = np.exp(-np.abs(a))
        # 1 / (1 + e) for a >= 0, e / (1 + e) below. NOTE: the numerator is max(e, [a >= 0])
        # since e <= 1: the same values as np.where without its branch on the sign,
        # which cost more than the exp (386 against 131 us on 128x784, 1 thread).
        out = np.maximum(e, a >= 0)
        out /= 1 + e
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        out = ctx.saved[0]
        return grad * out * (1 - out)


class Tanh(Function):
    """tanh(a); the backward reuses the saved output. A true primitive."""

    @staticmethod
    def forward(ctx, a):
        out = np.tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        out = ctx.saved[0]
        return grad * (1 - out * out)


class Maximum(Function):
    """Elementwise maximum of two tensors; ties split the gradient evenly (torch)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        return _split_between(grad, ~(a < b), ~(b < a), a == b)


class Minimum(Function):
    """Elementwise minimum of two tensors; ties split the gradient evenly (torch)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.minimum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        return _split_between(grad, ~(a > b), ~(b > a), a == b)


def _split_between(grad, a_keeps, b_keeps, tie):
    """Route grad to the operand that was kept; NOTE: a tie gives each half (torch).

    Written as "not beaten" rather than "won" because a NaN beats nothing and
    loses to nothing: as in torch, both operands of a NaN comparison get the
    whole gradient.
    """
    share_a = np.where(tie, 0.5, a_keeps).astype(grad.dtype)
    share_b = np.where(tie, 0.5, b_keeps).astype(grad.dtype)
    return grad * share_a, grad * share_b


class Where(Function):
    """where(condition, a, b): the condition is a constant boolean array."""

    @staticmethod
    def forward(ctx, condition, a, b):
        ctx.save_for_backward(condition)
        return where(condition, a, b)  # np.where, without branches on NumPy floats (_select)

    @staticmethod
    def backward(ctx, grad):
        (condition,) = ctx.saved
        need_a, need_b = ctx.needs_input_grad[1:]
        grad_a = keep_where(condition, grad) if need_a else None
        grad_b = keep_where(np.logical_not(condition), grad) if need_b else None
        return None, grad_a, grad_b
