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

The package: `grad_mode.py` (no_grad and friends), `anomaly.py` (detect_anomaly),
`function.py` (Function, version counters, unbroadcast), `engine.py` (backward,
grad). It knows nothing of `Tensor` beyond its attributes (`array`,
`requires_grad`, `grad_fn`, `grad`, `_hooks`, `_retains_grad`,
`_version_counter`, `_base`): tensor.py sits above it and installs the
constructor through `set_tensor_factory`.
"""

from gradwork.autograd.anomaly import detect_anomaly, is_anomaly_enabled, module_scope
from gradwork.autograd.engine import backward, grad, track_output
from gradwork.autograd.function import (
    Function,
    ShapeError,
    VersionCounter,
    make_tensor,
    set_tensor_factory,
    unbroadcast,
)
from gradwork.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)

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
    "ShapeError",
    "VersionCounter",
    "make_tensor",
    "set_tensor_factory",
    "track_output",
]
