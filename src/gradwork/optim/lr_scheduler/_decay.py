"""Schedulers that decay (or ramp) the learning rate by a fixed rule of the epoch."""

from __future__ import annotations

import math
import types
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from gradwork.optim import schedules
from gradwork.optim.lr_scheduler._base import LRScheduler
from gradwork.optim.optimizer import Optimizer

__all__ = [
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "CosineAnnealingLR",
    "LinearLR",
    "LambdaLR",
    "InverseTimeLR",
    "PolynomialLR",
]


class StepLR(LRScheduler):
    """Multiply the lr by `gamma` every `step_size` epochs, as torch's StepLR.

    Example:
        >>> import gradwork as gw
        >>> from gradwork import optim
        >>> opt = optim.SGD([gw.ones(1, requires_grad=True)], lr=1.0)
        >>> scheduler = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        >>> lrs = []
        >>> for _ in range(5):
        ...     lrs.append(scheduler.get_last_lr()[0])
        ...     opt.step()
        ...     scheduler.step()
        >>> lrs
        [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def schedule(self, base_lr: float) -> Callable[[int], float]:
        return schedules.step(self.step_size, self.gamma, start=base_lr)


class MultiStepLR(LRScheduler):
    """Multiply the lr by `gamma` at each milestone epoch, as torch's MultiStepLR.

    Example:
        >>> import gradwork as gw
        >>> from gradwork import optim
        >>> opt = optim.SGD([gw.ones(1, requires_grad=True)], lr=1.0)
        >>> scheduler = optim.lr_scheduler.MultiStepLR(opt, milestones=[1, 3], gamma=0.5)
        >>> for _ in range(3):
        ...     scheduler.step()
        >>> scheduler.get_last_lr()
        [0.25]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        milestones: Iterable[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        self.milestones, self.gamma = Counter(milestones), gamma
        super().__init__(optimizer, last_epoch)

    def schedule(self, base_lr: float) -> Callable[[int], float]:
        return schedules.multistep(self.milestones.elements(), self.gamma, start=base_lr)


class ExponentialLR(LRScheduler):
    """Multiply the lr by `gamma` every epoch, as torch's ExponentialLR.

    Example:
        >>> import gradwork as gw
        >>> from gradwork import optim
        >>> opt = optim.SGD([gw.ones(1, requires_grad=True)], lr=1.0)
        >>> scheduler = optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
        >>> scheduler.step(); scheduler.step()
        >>> scheduler.get_last_lr()
        [0.25]
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def schedule(self, base_lr: float) -> Callable[[int], float]:
        return schedules.exponential(self.gamma, start=base_lr)


class CosineAnnealingLR(LRScheduler):
    """Cosine from the base lr down to `eta_min` over `T_max` epochs, as torch's.

    NOTE: this one keeps torch's recursive form, lr_t = eta_min + (lr_{t-1} -
    eta_min) * (1 + cos(pi t / T)) / (1 + cos(pi (t - 1) / T)), because it
    drifts from the closed form by more than float rounding when T_max is
    large (a relative 3e-12 at T_max=1000), and we promise torch's numbers.

    Example:
        >>> import gradwork as gw
        >>> from gradwork import optim
        >>> opt = optim.SGD([gw.ones(1, requires_grad=True)], lr=1.0)
        >>> scheduler = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4)
        >>> scheduler.step(); scheduler.step()
        >>> round(scheduler.get_last_lr()[0], 6)
        0.5
    """

    def __init__(
        self,
        optimizer: Optimizer,
        T_max: int,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def schedule(self, base_lr: float) -> Callable[[int], float]:
        return schedules.cosine(self.T_max, start=base_lr, end=self.eta_min)

    def get_lr(self) -> list[float]:
        groups, epoch, eta_min = self.optimizer.param_groups, self.last_epoch, self.eta_min
        if self._is_initial:
            return [group["lr"] for group in groups]
        if self._step_count == 1 and epoch > 0:
            return self._get_closed_form_lr()
        if (epoch - 1 - self.T_max) % (2 * self.T_max) == 0:
            # NOTE: at the bottom of the cosine the ratio below is 0/0; step up explicitly.
            rise = (1 - math.cos(math.pi / self.T_max)) / 2
            return [
                group["lr"] + (base - eta_min) * rise
                for base, group in zip(self.base_lrs, groups, strict=False)
            ]
        now = 1 + math.cos(math.pi * epoch / self.T_max)
        before = 1 + math.cos(math.pi * (epoch - 1) / self.T_max)
        return [now / before * (group["lr"] - eta_min) + eta_min for group in groups]


class LinearLR(LRScheduler):
    """Scale the lr linearly from `start_factor` to `end_factor` over `total_iters`, as torch's.

    Example:
        >>> import gradwork as gw
        >>> from gradwork import optim
        >>> opt = optim.SGD([gw.ones(1, requires_grad=True)], lr=1.0)
        >>> scheduler = optim.lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=2)
        >>> lrs = [scheduler.get_last_lr()[0]]
        >>> for _ in range(3):
        ...     scheduler.step()
        ...     lrs.append(scheduler.get_last_lr()[0])
        >>> lrs
        [0.5, 0.75, 1.0, 1.0]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        if start_factor > 1.0 or start_factor <= 0:
            raise ValueError(
                "Starting multiplicative factor expected to be greater than 0 and less or "
                f"equal to 1. (gradwork.optim.lr_scheduler.LinearLR got {start_factor})"
            )
        if end_factor > 1.0 or end_factor < 0:
            raise ValueError(
                "Ending multiplicative factor expected to be between 0 and 1. "
                f"(gradwork.optim.lr_scheduler.LinearLR got {end_factor})"
            )
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def schedule(self, base_lr: float) -> Callable[[int], float]:
        factor = schedules.linear(self.total_iters, self.start_factor, self.end_factor)
        return lambda epoch: base_lr * factor(epoch)


class LambdaLR(LRScheduler):
    """lr = base lr * `lr_lambda(epoch)`, one function or one per group, as torch's.

    Example:
        >>> import gradwork as gw
        >>> from gradwork import optim
        >>> opt = optim.SGD([gw.ones(1, requires_grad=True)], lr=1.0)
        >>> scheduler = optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1 / (epoch + 1))
        >>> scheduler.step()
        >>> scheduler.get_last_lr()
        [0.5]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | list[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        groups = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != groups:
                raise ValueError(f"Expected {groups} lr_lambdas, but got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * groups
        super().__init__(optimizer, last_epoch)

    def _get_closed_form_lr(self) -> list[float]:
        return [
            base * fn(self.last_epoch)
            for fn, base in zip(self.lr_lambdas, self.base_lrs, strict=False)
        ]

    def state_dict(self) -> dict[str, Any]:
        """As torch: functions are not saved, but a callable object's attributes are."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [
            None if isinstance(fn, types.FunctionType) else fn.__dict__.copy()
            for fn in self.lr_lambdas
        ]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        saved = state.pop("lr_lambdas")
        self.__dict__.update(state)
        for fn, attributes in zip(self.lr_lambdas, saved, strict=False):
            if attributes is not None:
                fn.__dict__.update(attributes)


class InverseTimeLR(LRScheduler):
    """Time-based decay: lr = base lr / (1 + decay_rate * epoch) (ours; Keras' classic decay).

    Example:
        >>> import gradwork as gw
        >>> from gradwork import optim
        >>> opt = optim.SGD([gw.ones(1, requires_grad=True)], lr=1.0)
        >>> scheduler = optim.lr_scheduler.InverseTimeLR(opt, decay_rate=0.5)
        >>> scheduler.step(); scheduler.step()
        >>> scheduler.get_last_lr()
        [0.5]
    """

    def __init__(self, optimizer: Optimizer, decay_rate: float, last_epoch: int = -1) -> None:
        if not decay_rate >= 0:
            raise ValueError(
                f"gradwork.optim.lr_scheduler.InverseTimeLR: decay_rate must be >= 0, "
                f"got {decay_rate}"
            )
        self.decay_rate = decay_rate
        super().__init__(optimizer, last_epoch)

    def schedule(self, base_lr: float) -> Callable[[int], float]:
        return schedules.inverse_time(self.decay_rate, start=base_lr)


class PolynomialLR(LRScheduler):
    """lr = base lr * (1 - epoch / total_iters) ** power, then 0, as torch's PolynomialLR.

    Example:
        >>> import gradwork as gw
        >>> from gradwork import optim
        >>> opt = optim.SGD([gw.ones(1, requires_grad=True)], lr=1.0)
        >>> scheduler = optim.lr_scheduler.PolynomialLR(opt, total_iters=4, power=2.0)
        >>> scheduler.step(); scheduler.step()
        >>> scheduler.get_last_lr()
        [0.25]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        total_iters: int = 5,
        power: float = 1.0,
        last_epoch: int = -1,
    ) -> None:
        self.total_iters, self.power = total_iters, power
        super().__init__(optimizer, last_epoch)

    def schedule(self, base_lr: float) -> Callable[[int], float]:
        return schedules.polynomial(self.total_iters, self.power, start=base_lr)
