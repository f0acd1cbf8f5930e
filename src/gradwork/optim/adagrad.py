"""Adagrad (Duchi et al., 2011): per-coordinate steps from the sum of squared gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from gradwork.optim.optimizer import Optimizer, check_non_negative

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Scale each coordinate by the root of its summed squared gradients, as `torch.optim.Adagrad`.

    With g the gradient, s the running sum, t the step::

        g = g + weight_decay * p
        lr_t = lr / (1 + (t - 1) * lr_decay)
        s = s + g**2                      (s starts at initial_accumulator_value)
        p = p - lr_t * g / (sqrt(s) + eps)

    Like torch, the state (step 0 and the sum) exists from construction on.

    Args:
        params: tensors, `(name, tensor)` pairs or parameter groups.
        lr: learning rate (default 1e-2, as torch).
        lr_decay: learning-rate decay per step.
        weight_decay: L2 penalty coefficient.
        initial_accumulator_value: starting value of the sum of squares.
        eps: added to the denominator for stability (default 1e-10).
        maximize: ascend the objective instead of descending.

    Example:
        >>> import gradwork as gw
        >>> from gradwork import optim
        >>> w = gw.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = optim.Adagrad([w], lr=0.5)
        >>> (w * w).sum().backward()
        >>> opt.step()  # first step: lr * g / |g|
        >>> w
        tensor([ 0.5, -1.5], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        check_non_negative(
            "Adagrad",
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
        )
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            eps=eps,
            initial_accumulator_value=initial_accumulator_value,
            maximize=maximize,
        )
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = {"step": 0.0, **self.init_state(p.array, group)}

    def init_state(self, param: Any, group: dict) -> dict[str, Any]:
        return {"sum": np.full_like(param, group["initial_accumulator_value"])}

    def update(self, param: Any, grad: Any, state: dict, step: float, group: dict) -> None:
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * param
        lr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        state["sum"] += np.square(g)
        param -= lr * (g / (np.sqrt(state["sum"]) + group["eps"]))
