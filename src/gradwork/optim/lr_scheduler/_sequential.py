"""Schedulers that hand over to other schedulers: SequentialLR and WarmupLR."""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from gradwork.optim.lr_scheduler._base import LRScheduler
from gradwork.optim.lr_scheduler._plateau import ReduceLROnPlateau
from gradwork.optim.optimizer import Optimizer

__all__ = ["SequentialLR", "WarmupLR"]


def _check_child(owner: str, optimizer: Optimizer, scheduler: Any, index: int) -> None:
    if not hasattr(scheduler, "optimizer"):
        raise TypeError(f"{owner} at index {index} should have `optimizer` as its attribute.")
    if scheduler.optimizer is not optimizer:
        raise ValueError(
            f"{owner} expects all schedulers to belong to the same optimizer, but got "
            f"scheduler {type(scheduler).__name__} at index {index} with another optimizer"
        )


class SequentialLR(LRScheduler):
    """Run `schedulers` one after another, switching at the `milestones` epochs, as torch's.

    Each scheduler restarts from its own epoch 0 at its milestone.

    Example:
        >>> import gradwork as gw
        >>> from gradwork import optim
        >>> from gradwork.optim.lr_scheduler import ExponentialLR, LinearLR, SequentialLR
        >>> opt = optim.SGD([gw.ones(1, requires_grad=True)], lr=1.0)
        >>> first = LinearLR(opt, start_factor=0.5, total_iters=2)
        >>> second = ExponentialLR(opt, gamma=0.5)
        >>> scheduler = SequentialLR(opt, [first, second], milestones=[2])
        >>> lrs = [scheduler.get_last_lr()[0]]
        >>> for _ in range(4):
        ...     scheduler.step()
        ...     lrs.append(scheduler.get_last_lr()[0])
        >>> lrs
        [0.5, 0.75, 1.0, 0.5, 0.25]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: list[LRScheduler],
        milestones: list[int],
        last_epoch: int = -1,
    ) -> None:
        if len(schedulers) < 1:
            raise ValueError("SequentialLR expects at least one scheduler, but got no scheduler.")
        for index, scheduler in enumerate(schedulers):
            _check_child("SequentialLR", optimizer, scheduler, index)
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(
                    "SequentialLR does not support `ReduceLROnPlateau` scheduler as it requires "
                    "additional kwargs to be specified when calling `step`, but got one at "
                    f"index {index} in the given schedulers sequence."
                )
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                "Sequential Schedulers expects number of schedulers provided to be one more "
                f"than the number of milestone points, but got number of schedulers "
                f"{len(schedulers)} and the number of milestones to be equal to {len(milestones)}"
            )
        self._schedulers, self._milestones = schedulers, milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        # Building the children stepped them once each; undo that, as torch does.
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self.recursive_undo()
        index = bisect_right(milestones, 0)
        schedulers[index]._initial_step()
        self._last_lr = schedulers[index].get_last_lr()

    def recursive_undo(self, scheduler: Any = None) -> None:
        """Take one epoch off every nested scheduler (their construction counted one)."""
        target = self if scheduler is None else scheduler
        if hasattr(target, "_schedulers"):
            for child in target._schedulers:
                self.recursive_undo(child)
        elif hasattr(target, "last_epoch"):
            target.last_epoch -= 1

    def step(self) -> None:  # type: ignore[override]
        """Advance one epoch; at a milestone the next scheduler starts at its epoch 0."""
        self.last_epoch += 1
        index = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        children = state.pop("_schedulers")
        self.__dict__.update(state)
        for scheduler, saved in zip(self._schedulers, children, strict=False):
            scheduler.load_state_dict(saved)


class WarmupLR(LRScheduler):
    """Warm the lr up linearly over `warmup_steps` steps, then hand over to `after` (ours).

    The lr ramps from `start_factor` times the target to the target, where
    the target is the lr `after` starts with (the group's lr when WarmupLR is
    built, so build `after` first); at step `warmup_steps` the `after`
    scheduler takes over at its own epoch 0 and counts on from there. Without
    `after`, the lr holds at the target. `after` may be a ReduceLROnPlateau:
    then pass the metric to `step(metric)`; it is ignored during warm-up.
    The same rule as a pure function is `schedules.warmup`.

    Args:
        optimizer: the optimizer.
        warmup_steps: number of warm-up steps (> 0).
        after: the scheduler to follow the warm-up, or None.
        start_factor: the fraction of the target lr at step 0 (in (0, 1]).
        last_epoch: the last step index when resuming.

    Example:
        >>> import gradwork as gw
        >>> from gradwork import optim
        >>> from gradwork.optim.lr_scheduler import CosineAnnealingLR, WarmupLR
        >>> opt = optim.SGD([gw.ones(1, requires_grad=True)], lr=1.0)
        >>> scheduler = WarmupLR(opt, 2, after=CosineAnnealingLR(opt, T_max=2), start_factor=0.5)
        >>> lrs = [scheduler.get_last_lr()[0]]
        >>> for _ in range(4):
        ...     scheduler.step()
        ...     lrs.append(round(scheduler.get_last_lr()[0], 6))
        >>> lrs
        [0.5, 0.75, 1.0, 0.5, 0.0]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        warmup_steps: int,
        after: LRScheduler | None = None,
        start_factor: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        if not isinstance(warmup_steps, int) or warmup_steps <= 0:
            raise ValueError(f"WarmupLR: warmup_steps must be a positive int, got {warmup_steps!r}")
        if not 0 < start_factor <= 1:
            raise ValueError(f"WarmupLR: start_factor must lie in (0, 1], got {start_factor}")
        if after is not None:
            _check_child("WarmupLR", optimizer, after, 0)
        self.warmup_steps, self.after, self.start_factor = warmup_steps, after, start_factor
        self.target_lrs = [group["lr"] for group in optimizer.param_groups]
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial and self.last_epoch > 0:
            return [group["lr"] for group in self.optimizer.param_groups]
        fraction = min(self.last_epoch, self.warmup_steps) / self.warmup_steps
        factor = self.start_factor + (1 - self.start_factor) * fraction
        return [target * factor for target in self.target_lrs]

    _get_closed_form_lr = get_lr

    def step(self, metrics: Any = None) -> None:  # type: ignore[override]
        """Advance one step: ramp, or (past the warm-up) step `after`, passing `metrics` on."""
        if self.after is None or self.last_epoch + 1 <= self.warmup_steps:
            super().step()
            return
        self._step_count += 1
        self.last_epoch += 1
        if isinstance(self.after, ReduceLROnPlateau):
            self.after.step(metrics)
        else:
            self.after.step()
        self._last_lr = self.after.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "after")}
        state["after"] = None if self.after is None else self.after.state_dict()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        after = state.pop("after")
        self.__dict__.update(state)
        if self.after is not None and after is not None:
            self.after.load_state_dict(after)
