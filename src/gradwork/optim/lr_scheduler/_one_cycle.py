"""OneCycleLR: the 1cycle policy, learning rate and momentum together."""

from __future__ import annotations

from typing import Any

from gradwork.optim import schedules
from gradwork.optim.lr_scheduler._base import LRScheduler
from gradwork.optim.optimizer import Optimizer

__all__ = ["OneCycleLR"]


def _per_group(name: str, optimizer: Optimizer, value: Any) -> list[Any]:
    groups = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != groups:
            raise ValueError(
                f"{name} must have the same length as optimizer.param_groups. "
                f"{name} has {len(value)} values, param_groups has {groups}."
            )
        return list(value)
    return [value] * groups


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin, 2018), step for step as torch's OneCycleLR.

    The lr rises from `max_lr / div_factor` to `max_lr` over the first
    `pct_start` of `total_steps` and anneals to `initial_lr /
    final_div_factor`; with `cycle_momentum` the momentum (SGD) or beta1
    (Adam) cycles the opposite way between `max_momentum` and
    `base_momentum`. Step it after every batch. The values come from
    `schedules.one_cycle`, evaluated on the group's stored `initial_lr`,
    `max_lr`, `min_lr`, `max_momentum` and `base_momentum`.

    Example:
        >>> import gradwork as gw
        >>> from gradwork import optim
        >>> opt = optim.SGD([gw.ones(1, requires_grad=True)], lr=0.1, momentum=0.9)
        >>> scheduler = optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10)
        >>> for _ in range(2):
        ...     scheduler.step()
        >>> scheduler.get_last_lr(), opt.param_groups[0]["momentum"]
        ([1.0], 0.85)
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.85,
        max_momentum: float | list[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.total_steps = _total_steps(total_steps, epochs, steps_per_epoch)
        if pct_start < 0 or pct_start > 1 or not isinstance(pct_start, float):
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}"
            )
        self.pct_start, self.anneal_strategy, self.three_phase = (
            pct_start,
            anneal_strategy,
            three_phase,
        )
        if last_epoch == -1:
            for group, peak in zip(
                optimizer.param_groups, _per_group("max_lr", optimizer, max_lr), strict=False
            ):
                group["initial_lr"] = peak / div_factor
                group["max_lr"] = peak
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self._init_momentum(optimizer, base_momentum, max_momentum, last_epoch)
        super().__init__(optimizer, last_epoch)

    def _init_momentum(self, optimizer: Optimizer, base: Any, peak: Any, last_epoch: int) -> None:
        if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
            raise ValueError(
                "optimizer must support momentum or beta1 with `cycle_momentum` option enabled"
            )
        self.use_beta1 = "betas" in optimizer.defaults
        if last_epoch != -1:
            return
        bases = _per_group("base_momentum", optimizer, base)
        peaks = _per_group("max_momentum", optimizer, peak)
        for group, low, high in zip(optimizer.param_groups, bases, peaks, strict=False):
            _set_momentum(group, high, self.use_beta1)
            group["max_momentum"], group["base_momentum"] = high, low

    def _cycle(self, peak: float, initial: float, final: float) -> schedules.Schedule:
        return schedules.one_cycle(
            self.total_steps,
            peak,
            initial,
            final,
            self.pct_start,
            self.anneal_strategy,
            self.three_phase,
        )

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(
                f"Tried to step {step} times. The specified number of total steps is "
                f"{self.total_steps} (OneCycleLR: raise total_steps or stop stepping)"
            )
        lrs = []
        for group in self.optimizer.param_groups:
            lrs.append(self._cycle(group["max_lr"], group["initial_lr"], group["min_lr"])(step))
            if self.cycle_momentum:
                momentum = self._cycle(
                    group["base_momentum"], group["max_momentum"], group["max_momentum"]
                )(step)
                _set_momentum(group, momentum, self.use_beta1)
        return lrs

    _get_closed_form_lr = get_lr


def _set_momentum(group: dict[str, Any], value: float, use_beta1: bool) -> None:
    if use_beta1:
        group["betas"] = (value, *group["betas"][1:])
    else:
        group["momentum"] = value


def _total_steps(total_steps: int | None, epochs: int | None, steps_per_epoch: int | None) -> int:
    if total_steps is not None:
        if total_steps <= 0 or not isinstance(total_steps, int):
            raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
        return total_steps
    if epochs is not None and steps_per_epoch is not None:
        if not isinstance(epochs, int) or epochs <= 0:
            raise ValueError(f"Expected positive integer epochs, but got {epochs}")
        if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
            raise ValueError(
                f"Expected positive integer steps_per_epoch, but got {steps_per_epoch}"
            )
        return epochs * steps_per_epoch
    raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
