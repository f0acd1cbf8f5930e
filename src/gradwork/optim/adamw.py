"""AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gradwork.optim.adam import Adam

__all__ = ["AdamW"]


class AdamW(Adam):
    """Adam whose weight decay shrinks the weights directly, as `torch.optim.AdamW`.

    One step first decays ``p = p * (1 - lr * weight_decay)``, then applies
    Adam's update with the plain gradient, so the decay is not rescaled by
    Adam's per-coordinate step sizes.

    Args:
        params: tensors, `(name, tensor)` pairs or parameter groups.
        lr: learning rate.
        betas: decay rates of the first and second moment.
        eps: added to the denominator for stability.
        weight_decay: decoupled decay coefficient (default 1e-2, as torch).
        amsgrad: use the running maximum of the second moment.
        maximize: ascend the objective instead of descending.

    Example:
        >>> import gradwork as gw
        >>> from gradwork import optim
        >>> w = gw.tensor([1.0], requires_grad=True)
        >>> opt = optim.AdamW([w], lr=0.1, weight_decay=0.5)
        >>> w.grad = gw.tensor([0.0])
        >>> opt.step()  # zero gradient: only the decay acts
        >>> w
        tensor([0.95], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:  # a torch Adam checkpoint must not undo the decoupling
            group["decoupled_weight_decay"] = True
