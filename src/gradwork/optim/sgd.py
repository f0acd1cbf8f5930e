"""Stochastic gradient descent with momentum, dampening and Nesterov (torch's rule)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from gradwork.optim.optimizer import Optimizer, check_non_negative

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum, as `torch.optim.SGD`.

    With g the gradient and b the momentum buffer, one step is::

        g = g + weight_decay * p                  (L2 penalty, via the gradient)
        b = momentum * b + (1 - dampening) * g    (b = g on the first step)
        g = g + momentum * b if nesterov else b
        p = p - lr * g

    Args:
        params: tensors, `(name, tensor)` pairs or parameter groups.
        lr: learning rate (torch 2.x default 1e-3).
        momentum: momentum factor (0 turns the buffer off).
        dampening: dampening of the momentum's gradient term.
        weight_decay: L2 penalty coefficient.
        nesterov: Nesterov momentum (needs momentum > 0 and dampening 0).
        maximize: ascend the objective instead of descending.

    Example:
        >>> import gradwork as gw
        >>> from gradwork import optim
        >>> w = gw.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = optim.SGD([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.8, -1.6], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        check_non_negative("SGD", lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                "Nesterov momentum requires a momentum and zero dampening (gradwork.optim.SGD "
                f"got momentum={momentum}, dampening={dampening})"
            )
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def init_state(self, param: Any, group: dict) -> dict[str, Any]:
        return {"momentum_buffer": np.zeros_like(param)} if group["momentum"] != 0 else {}

    def update(self, param: Any, grad: Any, state: dict, step: float, group: dict) -> None:
        lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
        g = -grad if group["maximize"] else grad
        if weight_decay != 0:
            g = g + weight_decay * param
        if momentum != 0:
            buffer = state["momentum_buffer"]
            if step == 1:
                buffer[...] = g  # NOTE: torch starts the buffer at g, not at (1 - dampening) g
            else:
                buffer *= momentum
                if group["dampening"] == 0:
                    buffer += g
                else:
                    buffer += np.multiply(g, 1 - group["dampening"], out=self.scratch(param))
            g = g + momentum * buffer if group["nesterov"] else buffer
        # p = p - lr g, through a scratch array: no temporary (see Optimizer.scratch)
        param -= np.multiply(g, lr, out=self.scratch(param))
