"""NAdam (Dozat, 2016): Adam with Nesterov momentum and a momentum-decay schedule."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from gradwork.optim.optimizer import Optimizer, check_betas, check_non_negative, lerp_

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """NAdam, as `torch.optim.NAdam`: a Nesterov look-ahead inside Adam.

    With g the gradient, t the step, psi the momentum_decay::

        mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * psi))      (mu_{t+1} likewise)
        P_t = P_{t-1} * mu_t                               (state "mu_product")
        m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g**2
        d = sqrt(v / (1 - beta2**t)) + eps
        p = p - lr * (1 - mu_t) / (1 - P_t) * g / d
              - lr * mu_{t+1} / (1 - P_t * mu_{t+1}) * m / d

    NOTE: torch keeps mu_product in a float32 scalar (its default dtype) even
    for float64 parameters; we round it the same way to keep its numbers.

    Args:
        params: tensors, `(name, tensor)` pairs or parameter groups.
        lr: learning rate (default 2e-3).
        betas: decay rates of the first and second moment.
        eps: added to the denominator for stability.
        weight_decay: weight decay coefficient (L2 through the gradient).
        momentum_decay: psi, how fast mu approaches beta1 (default 4e-3).
        decoupled_weight_decay: decay the weights directly, as AdamW (NAdamW).
        maximize: ascend the objective instead of descending.

    Example:
        >>> import gradwork as gw
        >>> from gradwork import optim
        >>> w = gw.tensor([1.0], requires_grad=True)
        >>> opt = optim.NAdam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> round(w.item(), 4)
        0.8944
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        check_non_negative("NAdam", lr=lr, eps=eps)
        check_betas("NAdam", betas)
        check_non_negative("NAdam", weight_decay=weight_decay, momentum_decay=momentum_decay)
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def init_state(self, param: Any, group: dict) -> dict[str, Any]:
        return {
            "mu_product": 1.0,
            "exp_avg": np.zeros_like(param),
            "exp_avg_sq": np.zeros_like(param),
        }

    def update(self, param: Any, grad: Any, state: dict, step: float, group: dict) -> None:
        lr, (beta1, beta2), weight_decay = group["lr"], group["betas"], group["weight_decay"]
        g = -grad if group["maximize"] else grad
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                param *= 1 - lr * weight_decay
            else:
                g = g + weight_decay * param
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * group["momentum_decay"])))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * group["momentum_decay"])))
        mu_product = float(np.float32(state["mu_product"]) * np.float32(mu))
        state["mu_product"] = mu_product
        m, v = state["exp_avg"], state["exp_avg_sq"]
        lerp_(m, g, 1 - beta1, self.scratch(param))
        v *= beta2
        v += (1 - beta2) * np.square(g)
        denominator = np.sqrt(v / (1 - beta2**step))
        denominator += group["eps"]
        param += (-lr * (1.0 - mu) / (1.0 - mu_product)) * (g / denominator)
        param += ((-lr * mu_next) / (1.0 - mu_product * mu_next)) * (m / denominator)
