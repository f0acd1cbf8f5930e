"""Adam (Kingma & Ba, 2015), with AMSGrad and torch's exact bias correction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from gradwork.ops import kernels
from gradwork.optim.optimizer import Optimizer, check_betas, check_non_negative

__all__ = ["Adam"]


class Adam(Optimizer):
    """Adam, as `torch.optim.Adam`: moments of the gradient, bias-corrected.

    With g the gradient, m and v the moment estimates, t the step::

        g = g + weight_decay * p                    (L2, via the gradient)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        v_max = max(v_max, v)                       (amsgrad: use v_max for v)
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    NOTE: eps is added to the bias-corrected sqrt(v), as in torch, not to
    sqrt(v) before correction as in the paper's "efficient" form.

    Args:
        params: tensors, `(name, tensor)` pairs or parameter groups.
        lr: learning rate.
        betas: decay rates of the first and second moment.
        eps: added to the denominator for stability.
        weight_decay: L2 penalty coefficient (added to the gradient; see AdamW
            for the decoupled form).
        amsgrad: use the running maximum of v (Reddi et al., 2018).
        maximize: ascend the objective instead of descending.
        decoupled_weight_decay: decay the weights directly, as AdamW.

    Example:
        >>> import gradwork as gw
        >>> from gradwork import optim
        >>> w = gw.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = optim.Adam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w  # the first Adam step moves each weight by about lr
        tensor([ 0.9, -1.9], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        owner = type(self).__name__
        check_non_negative(owner, lr=lr, eps=eps)
        check_betas(owner, betas)
        check_non_negative(owner, weight_decay=weight_decay)
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    def init_state(self, param: Any, group: dict) -> dict[str, Any]:
        state = {"exp_avg": np.zeros_like(param), "exp_avg_sq": np.zeros_like(param)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = np.zeros_like(param)
        return state

    def update(self, param: Any, grad: Any, state: dict, step: float, group: dict) -> None:
        lr, (beta1, beta2), weight_decay = group["lr"], group["betas"], group["weight_decay"]
        g = -grad if group["maximize"] else grad
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                param *= 1 - lr * weight_decay  # AdamW: shrink the weights directly
            else:
                g = g + weight_decay * param  # Adam: L2 penalty through the gradient
        # The update itself is a kernel (ops/kernels): the formula above, in place.
        kernels.adam_step(param, g, state["exp_avg"], state["exp_avg_sq"],
                          state.get("max_exp_avg_sq"), lr, beta1, beta2, group["eps"], step,
                          work=self.scratch(param))  # fmt: skip
