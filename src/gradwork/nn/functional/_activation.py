"""Activation functions, composed from primitives (gradients for free).

`inplace=True` does what torch's does: the result is written into the
input, which is returned (the function runs on a snapshot of the old values,
so autograd stays right; see `gradwork.tensor.replace_in_place`).
"""

from __future__ import annotations

import math
import warnings

from gradwork import ops
from gradwork.tensor import Tensor, replace_in_place

_SQRT_HALF = math.sqrt(0.5)
_SQRT_TWO_OVER_PI = math.sqrt(2 / math.pi)
STEP_SURROGATES = ("zero", "straight_through", "sigmoid")


def _maybe_in_place(input: Tensor, inplace: bool, compute) -> Tensor:  # noqa: A002
    """compute(input), or with inplace=True written into `input` (torch's in-place form)."""
    return replace_in_place(input, compute) if inplace else compute(input)


def relu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002 - torch's names
    """max(x, 0).

    Example:
        >>> import gradwork as gw
        >>> relu(gw.tensor([-1.0, 2.0]))
        tensor([0., 2.])
    """
    return _maybe_in_place(input, inplace, ops.Relu.apply)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:  # noqa: A002
    """x where x > 0, else negative_slope * x (the slope is used at 0, as in torch)."""
    return _maybe_in_place(
        input, inplace, lambda x: ops.Where.apply(x.array > 0, x, x * negative_slope)
    )


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """x where x > 0, else alpha * (exp(x) - 1)."""

    # NOTE: exp of the clamped input, so large positive x (whose branch is
    # discarded) cannot overflow to inf and turn the gradient into 0 * inf = nan.
    def compute(x):
        negative = (x.clamp(max=0.0).exp() - 1.0) * alpha
        return ops.Where.apply(x.array > 0, x, negative)

    return _maybe_in_place(input, inplace, compute)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:  # noqa: A002
    """x * Phi(x), exactly through erf ("none") or with torch's tanh approximation ("tanh")."""
    if approximate == "none":
        return input * ((ops.Erf.apply(input * _SQRT_HALF) + 1.0) * 0.5)
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * _SQRT_TWO_OVER_PI
        return input * ((ops.Tanh.apply(inner) + 1.0) * 0.5)
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x * sigmoid(x) (also called swish)."""
    return _maybe_in_place(input, inplace, lambda x: x * ops.Sigmoid.apply(x))


swish = silu


def sigmoid(input: Tensor) -> Tensor:  # noqa: A002
    return ops.Sigmoid.apply(input)


def tanh(input: Tensor) -> Tensor:  # noqa: A002
    return ops.Tanh.apply(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:  # noqa: A002
    """log(1 + exp(beta x)) / beta; linear (x) where beta * x > threshold, as in torch."""
    scaled = input * beta
    # NOTE: clamped before exp so the discarded branch cannot overflow (see elu).
    smooth = ops.Log1p.apply(scaled.clamp(max=threshold).exp()) / beta
    return ops.Where.apply(scaled.array > threshold, input, smooth)


def softmax_dim(ndim: int) -> int:
    """torch's implicit dim when none is given (legacy): 0 for 0-, 1- and 3-D input, else 1."""
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,  # noqa: A002
            dtype: object = None) -> Tensor:  # fmt: skip
    """exp(x) / sum(exp(x)) along `dim`, through the stable log-softmax.

    With `dim=None` it warns, as torch does, and picks torch's legacy dim
    (0 for 0-, 1- and 3-D input, else 1): pass `dim` explicitly.

    Example:
        >>> import gradwork as gw
        >>> softmax(gw.tensor([[0.0, 0.0], [1.0, 1.0]]), dim=1).tolist()
        [[0.5, 0.5], [0.5, 0.5]]
    """
    return input.softmax(_dim("softmax", input, dim, _stacklevel), dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,  # noqa: A002
                dtype: object = None) -> Tensor:  # fmt: skip
    """log(softmax(x)) along `dim`, computed stably (torch's implicit dim, with its warning)."""
    return input.log_softmax(_dim("log_softmax", input, dim, _stacklevel), dtype)


def _dim(name: str, input: Tensor, dim: int | None, stacklevel: int) -> int:  # noqa: A002
    """`dim`, or torch's implicit choice with torch's deprecation warning."""
    if dim is not None:
        return dim
    # NOTE: stacklevel counts from the public function (torch's default 3 names
    # its caller's line); this helper adds one frame, as torch's does.
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to "
        "include dim=X as an argument.",
        UserWarning,
        stacklevel=stacklevel,
    )
    return softmax_dim(input.ndim)


def step(
    input: Tensor, threshold: float = 0.0, surrogate: str = "zero", beta: float = 1.0
) -> Tensor:  # noqa: A002
    """1 where x >= threshold, else 0: the perceptron's activation.

    Args:
        threshold: inputs at or above it map to 1 (so step(0) = 1 by default).
        surrogate: the gradient used in backward: "zero" (the true derivative),
            "straight_through" (passes the gradient unchanged) or "sigmoid"
            (the derivative of sigmoid(beta * (x - threshold))).
        beta: sharpness of the sigmoid surrogate.

    Example:
        >>> import gradwork as gw
        >>> step(gw.tensor([-0.5, 0.0, 2.0]))
        tensor([0., 1., 1.])
    """
    if surrogate not in STEP_SURROGATES:
        raise ValueError(f"step: surrogate must be one of {STEP_SURROGATES}, got {surrogate!r}")
    return ops.Step.apply(input, threshold=threshold, surrogate=surrogate, beta=beta)


def hardtanh(
    input: Tensor,  # noqa: A002
    min_val: float = -1.0,
    max_val: float = 1.0,
    inplace: bool = False,
) -> Tensor:
    """x clamped to [min_val, max_val].

    NOTE: the gradient is 1 only strictly inside the interval, 0 at the bounds
    (torch's hardtanh_backward); a plain clamp would pass it at the bounds.

    Example:
        >>> import gradwork as gw
        >>> hardtanh(gw.tensor([-2.0, 0.5, 3.0]))
        tensor([-1. ,  0.5,  1. ])
    """
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")

    def compute(x):
        inside = (x.array > min_val) & (x.array < max_val)
        return ops.Where.apply(inside, x, x.detach().clamp(min_val, max_val))

    return _maybe_in_place(input, inplace, compute)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """min(max(x, 0), 6): hardtanh(x, 0, 6), gradient 0 at both kinks as in torch."""
    return hardtanh(input, 0.0, 6.0, inplace)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """relu6(x + 3) / 6: a piecewise-linear sigmoid (gradient 1/6 strictly inside (-3, 3))."""
    return _maybe_in_place(input, inplace, lambda x: hardtanh(x + 3.0, 0.0, 6.0) / 6.0)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x * relu6(x + 3) / 6 (MobileNetV3).

    NOTE: written piecewise so the gradient at the kinks is torch's: 0 at
    x = -3 and 1 at x = 3 (the product rule over relu6 would give other values).

    Example:
        >>> import gradwork as gw
        >>> hardswish(gw.tensor([-4.0, 0.0, 1.0, 4.0]))
        tensor([-0.    ,  0.    ,  0.6667,  4.    ])
    """

    def compute(x):
        middle = x * (x + 3.0) / 6.0
        upper = ops.Where.apply(x.array < 3.0, middle, x)
        return ops.Where.apply(x.array > -3.0, upper, x * 0.0)

    return _maybe_in_place(input, inplace, compute)


def mish(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x * tanh(softplus(x)) (Misra, 2019)."""
    return _maybe_in_place(input, inplace, lambda x: x * ops.Tanh.apply(softplus(x)))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """scale * elu(x, alpha) with the self-normalising constants of Klambauer et al."""
    return _maybe_in_place(input, inplace, lambda x: elu(x, _SELU_ALPHA) * _SELU_SCALE)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """x where x > 0, else alpha * (exp(x / alpha) - 1); its gradient at 0 is 1."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")

    def compute(x):
        negative = ((x.clamp(max=0.0) / alpha).exp() - 1.0) * alpha  # clamped: see elu
        return ops.Where.apply(x.array > 0, x, negative)

    return _maybe_in_place(input, inplace, compute)


def softsign(input: Tensor) -> Tensor:  # noqa: A002
    """x / (1 + |x|)."""
    return input / (input.abs() + 1.0)


def logsigmoid(input: Tensor) -> Tensor:  # noqa: A002
    """log(sigmoid(x)), stable for large |x| (no exp overflow, no log of 0).

    For x < 0 it is x - log1p(exp(x)), else -log1p(exp(-x)); each branch sees
    its input clamped to its own side, so the other branch cannot overflow.

    Example:
        >>> import gradwork as gw
        >>> logsigmoid(gw.tensor([-1000.0, 0.0, 1000.0]))
        tensor([-1.0000e+03, -6.9315e-01, -0.0000e+00])
    """
    negative_side = input.clamp(max=0.0)
    positive_side = input.clamp(min=0.0)
    negative = negative_side - ops.Log1p.apply(negative_side.exp())
    positive = -ops.Log1p.apply((-positive_side).exp())
    return ops.Where.apply(input.array < 0, negative, positive)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3,  # noqa: A002
            dtype: object = None) -> Tensor:  # fmt: skip
    """softmax(-x) along `dim` (torch's implicit dim, with its warning, when None)."""
    return (-input).softmax(_dim("softmin", input, dim, _stacklevel), dtype)
