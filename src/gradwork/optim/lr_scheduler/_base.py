"""`LRScheduler`: torch's scheduler protocol over a pure schedule function.

A subclass says which schedule it follows (`schedule(base_lr)`, usually one
line over `gradwork.optim.schedules`); the base keeps torch's bookkeeping:
`initial_lr` in every param group, `base_lrs`, `last_epoch`, an initial step
on construction, `step()`, `get_last_lr()` and `state_dict()`.

NOTE: torch computes most learning rates recursively, from the group's
current lr ("chainable form"); we evaluate the schedule at `last_epoch`
from the base lr instead. The two agree to float rounding (tests assert a
relative 1e-12 over long runs) as long as nothing else writes the group's
lr between steps; CosineAnnealingLR, whose recursion drifts measurably from
its closed form at large T_max, keeps torch's recursion.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gradwork.optim.optimizer import Optimizer

__all__ = ["LRScheduler"]


class LRScheduler:
    """Base of the schedulers; sets each group's lr to `schedule(base_lr)(last_epoch)`.

    Args:
        optimizer: the optimizer whose param groups' "lr" it drives.
        last_epoch: the index of the last epoch when resuming; -1 starts afresh
            (then each group's current lr is recorded as its "initial_lr").
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        for index, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(
                    f"param 'initial_lr' is not specified in param_groups[{index}] when "
                    "resuming scheduler with last_epoch >= 0; load the optimizer's "
                    "state_dict first, or pass last_epoch=-1 for a fresh run"
                )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def schedule(self, base_lr: float) -> Callable[[int], float]:
        """The learning rate as a function of the epoch, for a group with this base lr."""
        raise NotImplementedError(f"{type(self).__name__} must define schedule()")

    def _initial_step(self) -> None:
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch (or jump to `epoch`) and write the new lrs into the optimizer."""
        self._step_count += 1
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            values = self._get_closed_form_lr()
        for group, lr in zip(self.optimizer.param_groups, values, strict=False):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_lr(self) -> list[float]:
        """The learning rates of the current epoch (call `get_last_lr()` from outside)."""
        if self._is_initial and self.last_epoch > 0:
            # Resuming: keep the lrs the optimizer's checkpoint restored.
            return [group["lr"] for group in self.optimizer.param_groups]
        return self._get_closed_form_lr()

    def _get_closed_form_lr(self) -> list[float]:
        return [self.schedule(base_lr)(self.last_epoch) for base_lr in self.base_lrs]

    def get_last_lr(self) -> list[float]:
        """The learning rates the last `step()` set, one per param group."""
        return self._last_lr

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer (torch's format: the scheduler's attributes)."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the attributes saved by `state_dict()`."""
        self.__dict__.update(state_dict)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, lrs={self.get_last_lr()})"
