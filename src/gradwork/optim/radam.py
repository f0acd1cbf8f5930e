"""RAdam (Liu et al., 2020): Adam whose adaptive step is switched in as its variance settles."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from gradwork.optim.optimizer import Optimizer, check_betas, check_non_negative, lerp_

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """Rectified Adam, as `torch.optim.RAdam`.

    With g the gradient, t the step, rho_inf = 2 / (1 - beta2) - 1::

        m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g**2
        rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)
        if rho_t > 5:   (the variance of the adaptive lr is tractable)
            r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
            p = p - lr * m / (1 - beta1**t) * sqrt(1 - beta2**t) / (sqrt(v) + eps) * r
        else:           (the first few steps: momentum SGD)
            p = p - lr * m / (1 - beta1**t)

    Args:
        params: tensors, `(name, tensor)` pairs or parameter groups.
        lr: learning rate (default 1e-3).
        betas: decay rates of the first and second moment.
        eps: added to the denominator for stability.
        weight_decay: weight decay coefficient (L2 through the gradient).
        decoupled_weight_decay: decay the weights directly, as AdamW.
        maximize: ascend the objective instead of descending.

    Example:
        >>> import gradwork as gw
        >>> from gradwork import optim
        >>> w = gw.tensor([1.0], requires_grad=True)
        >>> opt = optim.RAdam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()  # rho_1 = 1 <= 5: a plain momentum step, lr * g
        >>> w
        tensor([0.8], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        check_non_negative("RAdam", lr=lr, eps=eps)
        check_betas("RAdam", betas)
        check_non_negative("RAdam", weight_decay=weight_decay)
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def init_state(self, param: Any, group: dict) -> dict[str, Any]:
        return {"exp_avg": np.zeros_like(param), "exp_avg_sq": np.zeros_like(param)}

    def update(self, param: Any, grad: Any, state: dict, step: float, group: dict) -> None:
        lr, (beta1, beta2), weight_decay = group["lr"], group["betas"], group["weight_decay"]
        g = -grad if group["maximize"] else grad
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                param *= 1 - lr * weight_decay
            else:
                g = g + weight_decay * param
        m, v = state["exp_avg"], state["exp_avg_sq"]
        lerp_(m, g, 1 - beta1, self.scratch(param))
        v *= beta2
        v += (1 - beta2) * np.square(g)
        correction1, correction2 = 1 - beta1**step, 1 - beta2**step
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / correction2
        update = m / correction1 * lr
        if rho_t > 5.0:
            rect = (
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            ) ** 0.5
            update *= correction2**0.5 / (np.sqrt(v) + group["eps"])
            update *= rect
        param -= update
