"""Schedulers that cycle: CosineAnnealingWarmRestarts (SGDR) and CyclicLR."""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from typing import Any

from gradwork.optim import schedules
from gradwork.optim.lr_scheduler._base import LRScheduler
from gradwork.optim.lr_scheduler._one_cycle import _per_group, _set_momentum
from gradwork.optim.optimizer import Optimizer

__all__ = ["CosineAnnealingWarmRestarts", "CyclicLR"]


class CosineAnnealingWarmRestarts(LRScheduler):
    """SGDR: cosine annealing restarted every `T_0`, `T_0 * T_mult`, ... epochs, as torch's.

    `step(epoch)` accepts a fractional epoch (step it per batch with
    `epoch + i / iters`). The values are `schedules.cosine` of the epochs
    since the last restart (`T_cur`) over the cycle length (`T_i`); we keep
    torch's bookkeeping of those two, because after a fractional
    `step(epoch)` a plain `step()` continues from the fractional `T_cur`.
    For integer epochs it equals `schedules.cosine_restarts`.

    Example:
        >>> import gradwork as gw
        >>> from gradwork import optim
        >>> opt = optim.SGD([gw.ones(1, requires_grad=True)], lr=1.0)
        >>> scheduler = optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2)
        >>> lrs = []
        >>> for _ in range(4):
        ...     scheduler.step()
        ...     lrs.append(scheduler.get_last_lr()[0])
        >>> [round(lr, 3) for lr in lrs]
        [0.5, 1.0, 0.5, 1.0]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        T_0: int,
        T_mult: int = 1,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        if T_0 <= 0 or not isinstance(T_0, int):
            raise ValueError(f"Expected positive integer T_0, but got {T_0}")
        if T_mult < 1 or not isinstance(T_mult, int):
            raise ValueError(f"Expected integer T_mult >= 1, but got {T_mult}")
        if not isinstance(eta_min, (float, int)):
            raise ValueError(
                f"Expected float or int eta_min, but got {eta_min} of type {type(eta_min)}"
            )
        self.T_0, self.T_i, self.T_mult, self.eta_min = T_0, T_0, T_mult, eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def schedule(self, base_lr: float) -> Callable[[int], float]:
        return schedules.cosine_restarts(self.T_0, self.T_mult, start=base_lr, end=self.eta_min)

    def get_lr(self) -> list[float]:
        return [
            schedules.cosine(self.T_i, start=base_lr, end=self.eta_min)(self.T_cur)
            for base_lr in self.base_lrs
        ]

    def step(self, epoch: float | None = None) -> None:
        """Advance one epoch, or jump to `epoch` (fractional allowed), and set the lrs."""
        self._step_count += 1
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur += 1
            if self.T_cur >= self.T_i:
                self.T_cur, self.T_i = self.T_cur % self.T_i, self.T_i * self.T_mult
        else:
            self._jump(epoch)
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=False):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _jump(self, epoch: float) -> None:
        if epoch < 0:
            raise ValueError(f"Expected non-negative epoch, but got {epoch}")
        if epoch < self.T_0:
            self.T_i, self.T_cur = self.T_0, epoch
        elif self.T_mult == 1:
            self.T_cur = epoch % self.T_0
        else:
            # NOTE: torch finds the cycle with a float log; kept for its numbers.
            n = int(math.log((epoch / self.T_0 * (self.T_mult - 1) + 1), self.T_mult))
            self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
            self.T_i = self.T_0 * self.T_mult**n


class CyclicLR(LRScheduler):
    """Cyclical learning rates between `base_lr` and `max_lr`, as torch's CyclicLR.

    Step it after every batch. The values come from `schedules.cyclic`; with
    `cycle_momentum` the momentum (SGD) or beta1 (Adam-like) cycles the other
    way, from `max_momentum` down to `base_momentum` at the lr's peak.

    Example:
        >>> import gradwork as gw
        >>> from gradwork import optim
        >>> opt = optim.SGD([gw.ones(1, requires_grad=True)], lr=0.1, momentum=0.9)
        >>> scheduler = optim.lr_scheduler.CyclicLR(opt, 0.1, 1.0, step_size_up=2)
        >>> scheduler.step(); scheduler.step()
        >>> scheduler.get_last_lr(), opt.param_groups[0]["momentum"]
        ([1.0], 0.8)
    """

    def __init__(
        self,
        optimizer: Optimizer,
        base_lr: float | list[float],
        max_lr: float | list[float],
        step_size_up: int = 2000,
        step_size_down: int | None = None,
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[float], float] | None = None,
        scale_mode: str = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.8,
        max_momentum: float | list[float] = 0.9,
        last_epoch: int = -1,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        base_lrs = _per_group("base_lr", optimizer, base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups, strict=False):
                group["lr"] = lr
        self.max_lrs = _per_group("max_lr", optimizer, max_lr)
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise ValueError("mode is invalid and scale_fn is None")
        self.step_size_up, self.step_size_down = step_size_up, step_size_down
        self.mode, self.gamma, self.scale_fn, self.scale_mode = mode, gamma, scale_fn, scale_mode
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self._init_momentum(optimizer, base_momentum, max_momentum, last_epoch)
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def _init_momentum(self, optimizer: Optimizer, base: Any, peak: Any, last_epoch: int) -> None:
        if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
            raise ValueError(
                "optimizer must support momentum or beta1 with `cycle_momentum` option enabled"
            )
        self.use_beta1 = "betas" in optimizer.defaults
        self.base_momentums = _per_group("base_momentum", optimizer, base)
        self.max_momentums = _per_group("max_momentum", optimizer, peak)
        if last_epoch == -1:
            for high, low, group in zip(
                self.max_momentums, self.base_momentums, optimizer.param_groups, strict=False
            ):
                _set_momentum(group, high, self.use_beta1)
                group["max_momentum"], group["base_momentum"] = high, low

    def schedule(self, base_lr: float, peak: float | None = None) -> Callable[[int], float]:
        """The cycle from `base_lr` to `peak` (for the lr: the group's max_lr)."""
        return schedules.cyclic(
            self.step_size_up, self.step_size_down, base_lr, peak, self.mode, self.gamma,
            self.scale_fn, self.scale_mode,
        )  # fmt: skip

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        lrs = [
            self.schedule(low, high)(step)
            for low, high in zip(self.base_lrs, self.max_lrs, strict=False)
        ]
        if self.cycle_momentum:
            for group, low, high in zip(
                self.optimizer.param_groups, self.base_momentums, self.max_momentums, strict=False
            ):
                _set_momentum(group, self.schedule(high, low)(step), self.use_beta1)
        return lrs

    _get_closed_form_lr = get_lr

    def state_dict(self) -> dict[str, Any]:
        """As torch: a custom scale_fn is not saved, but a callable object's attributes are."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "scale_fn")}
        fn = self.scale_fn
        state["scale_fn"] = (
            None if fn is None or isinstance(fn, types.FunctionType) else fn.__dict__.copy()
        )
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        saved = state.pop("scale_fn", None)
        self.__dict__.update(state)
        if saved is not None and self.scale_fn is not None:
            self.scale_fn.__dict__.update(saved)
