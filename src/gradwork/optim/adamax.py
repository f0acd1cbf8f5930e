"""Adamax (Kingma & Ba, 2015, section 7): Adam with an infinity-norm second moment."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from gradwork.optim.optimizer import Optimizer, check_betas, check_non_negative, lerp_

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Adamax, as `torch.optim.Adamax`: Adam's v replaced by a decaying max of |g|.

    With g the gradient, m the first moment, u the infinity norm, t the step::

        g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        u = max(beta2 * u, |g| + eps)
        p = p - lr / (1 - beta1**t) * m / u

    NOTE: eps goes inside the max, as in torch, so u never falls below eps.

    Args:
        params: tensors, `(name, tensor)` pairs or parameter groups.
        lr: learning rate (default 2e-3).
        betas: decay rates of the first moment and of the infinity norm.
        eps: added to |g| for stability.
        weight_decay: L2 penalty coefficient.
        maximize: ascend the objective instead of descending.

    Example:
        >>> import gradwork as gw
        >>> from gradwork import optim
        >>> w = gw.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = optim.Adamax([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()  # the first step moves each weight by about lr
        >>> w
        tensor([ 0.9, -1.9], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        *,
        maximize: bool = False,
    ) -> None:
        check_non_negative("Adamax", lr=lr, eps=eps)
        check_betas("Adamax", betas)
        check_non_negative("Adamax", weight_decay=weight_decay)
        defaults = dict(
            lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, maximize=maximize
        )
        super().__init__(params, defaults)

    def init_state(self, param: Any, group: dict) -> dict[str, Any]:
        return {"exp_avg": np.zeros_like(param), "exp_inf": np.zeros_like(param)}

    def update(self, param: Any, grad: Any, state: dict, step: float, group: dict) -> None:
        beta1, beta2 = group["betas"]
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * param
        exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
        work = self.scratch(param)
        lerp_(exp_avg, g, 1 - beta1, work)
        exp_inf *= beta2
        np.abs(g, out=work)
        work += group["eps"]
        np.maximum(exp_inf, work, out=exp_inf)
        step_size = group["lr"] / (1 - beta1**step)  # bias correction of m
        update = np.divide(exp_avg, exp_inf, out=work)
        update *= step_size
        param -= update
