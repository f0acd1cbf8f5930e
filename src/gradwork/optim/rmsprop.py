"""RMSprop (Hinton, 2012), with momentum and the centered variant (torch's rule)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from gradwork.optim.optimizer import Optimizer, check_non_negative

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """Divide the gradient by a running RMS of recent gradients, as `torch.optim.RMSprop`.

    With g the gradient, s the mean square, a the mean gradient, b the buffer::

        g = g + weight_decay * p
        s = alpha * s + (1 - alpha) * g**2
        a = alpha * a + (1 - alpha) * g           (centered only)
        d = sqrt(s - a**2) + eps  if centered  else  sqrt(s) + eps
        b = momentum * b + g / d;  p = p - lr * b  (momentum > 0)
        p = p - lr * g / d                         (otherwise)

    Args:
        params: tensors, `(name, tensor)` pairs or parameter groups.
        lr: learning rate (default 1e-2, as torch).
        alpha: smoothing constant of the running averages.
        eps: added to the denominator for stability.
        weight_decay: L2 penalty coefficient.
        momentum: momentum factor.
        centered: normalise by an estimate of the gradient's variance.
        maximize: ascend the objective instead of descending.

    Example:
        >>> import gradwork as gw
        >>> from gradwork import optim
        >>> w = gw.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = optim.RMSprop([w], lr=0.01)
        >>> (w * w).sum().backward()
        >>> opt.step()  # first step: g / sqrt(0.01 g^2) = 10 sign(g)
        >>> w
        tensor([ 0.9, -1.9], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        check_non_negative(
            "RMSprop", lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha
        )
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def init_state(self, param: Any, group: dict) -> dict[str, Any]:
        state = {"square_avg": np.zeros_like(param)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = np.zeros_like(param)
        if group["centered"]:
            state["grad_avg"] = np.zeros_like(param)
        return state

    def update(self, param: Any, grad: Any, state: dict, step: float, group: dict) -> None:
        alpha, weight_decay = group["alpha"], group["weight_decay"]
        g = -grad if group["maximize"] else grad
        if weight_decay != 0:
            g = g + weight_decay * param
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * np.square(g)
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg += (1 - alpha) * (g - grad_avg)  # a = alpha a + (1 - alpha) g
            denominator = np.sqrt(square_avg - np.square(grad_avg))  # NOTE: a variance estimate
        else:
            denominator = np.sqrt(square_avg)
        denominator += group["eps"]
        if group["momentum"] > 0:
            buffer = state["momentum_buffer"]
            buffer *= group["momentum"]
            buffer += g / denominator
            param -= group["lr"] * buffer
        else:
            param -= group["lr"] * (g / denominator)
