"""Pruners: stop unpromising trials from their intermediate reports.

The objective reports a value each epoch and asks whether to stop::

    def objective(trial):
        for epoch in range(epochs):
            loss = train_one_epoch_and_validate()
            trial.report(loss, epoch)
            if trial.should_prune():
                raise TrialPruned()
        return loss

A pruner's ``prune(trial, others, direction)`` sees the trial and the other
trials of the study (with a process or Dask executor, or ``sync=True``: a
snapshot taken when the trial started).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._trial import Trial, TrialState


def _sign(direction: str) -> float:
    return 1.0 if direction == "minimize" else -1.0


class MedianPruner:
    """Prune when the trial's best value so far is worse than the median of completed
    trials at the same step.

    Args:
        n_startup_trials: Completed trials needed before pruning starts.
        n_warmup_steps: Steps of every trial that are never pruned.
        interval_steps: Check only every this many steps after the warm-up.

    Example:
        >>> pruner = MedianPruner(n_startup_trials=1)
        >>> done = Trial(0, {}, 0); done.state = TrialState.COMPLETE; done.report(1.0, 0)
        >>> bad = Trial(1, {}, 0); bad.report(5.0, 0)
        >>> pruner.prune(bad, [done], "minimize")
        True
    """

    def __init__(self, n_startup_trials: int = 5, n_warmup_steps: int = 0, interval_steps: int = 1):
        if interval_steps < 1:
            raise ValueError(f"gradwork.tune.MedianPruner: interval_steps={interval_steps}; >= 1")
        self.n_startup_trials = n_startup_trials
        self.n_warmup_steps = n_warmup_steps
        self.interval_steps = interval_steps

    def __repr__(self) -> str:
        return f"MedianPruner(n_startup_trials={self.n_startup_trials})"

    def prune(self, trial: Trial, others: Sequence[Trial], direction: str) -> bool:
        step = trial.last_step
        if step is None or step < self.n_warmup_steps:
            return False
        if (step - self.n_warmup_steps) % self.interval_steps:
            return False
        complete = [other for other in others if other.state == TrialState.COMPLETE]
        if len(complete) < self.n_startup_trials:
            return False
        sign = _sign(direction)
        at_step = [
            sign * other.intermediate[step] for other in complete if step in other.intermediate
        ]
        if not at_step:
            return False
        best_so_far = min(sign * value for value in trial.intermediate.values())
        return best_so_far > float(np.median(at_step))


def _rung_value(trial: Trial, rung_step: int) -> float | None:
    """The value the trial reported on reaching ``rung_step`` (first step >= it)."""
    steps = [step for step in trial.intermediate if step >= rung_step]
    return trial.intermediate[min(steps)] if steps else None


class SuccessiveHalvingPruner:
    """Asynchronous successive halving (ASHA, Li et al. 2020).

    Rungs sit at steps ``min_resource * reduction_factor ** (min_early_stopping_rate + k)``.
    When a trial reaches a rung it continues only if its value is in the best
    ``1 / reduction_factor`` of all values recorded at that rung so far (any
    trial, running or finished); while fewer than ``reduction_factor`` trials
    have reached the rung it must be the best of them. Promotions are never undone.

    Args:
        min_resource: Step of the first rung.
        reduction_factor: Keep the top 1/reduction_factor at each rung.
        min_early_stopping_rate: Skip this many rungs.
    """

    def __init__(
        self, min_resource: int = 1, reduction_factor: int = 3, min_early_stopping_rate: int = 0
    ) -> None:
        if reduction_factor < 2 or min_resource < 1:
            raise ValueError(
                f"gradwork.tune.SuccessiveHalvingPruner: min_resource={min_resource}, "
                f"reduction_factor={reduction_factor}; expected min_resource >= 1, factor >= 2"
            )
        self.min_resource = min_resource
        self.reduction_factor = reduction_factor
        self.min_early_stopping_rate = min_early_stopping_rate

    def __repr__(self) -> str:
        return (
            f"SuccessiveHalvingPruner(min_resource={self.min_resource}, "
            f"reduction_factor={self.reduction_factor})"
        )

    def _rungs(self, up_to: int) -> list[int]:
        rungs, rate = [], self.min_early_stopping_rate
        while self.min_resource * self.reduction_factor**rate <= up_to:
            rungs.append(self.min_resource * self.reduction_factor**rate)
            rate += 1
        return rungs

    def prune(self, trial: Trial, others: Sequence[Trial], direction: str) -> bool:
        step = trial.last_step
        if step is None:
            return False
        sign = _sign(direction)
        earlier = [s for s in trial.intermediate if s != step]
        for rung_step in self._rungs(step):
            if any(s >= rung_step for s in earlier):
                continue  # this rung was decided at an earlier step
            own = sign * trial.intermediate[step]
            values = [_rung_value(other, rung_step) for other in others]
            competing = sorted([sign * v for v in values if v is not None] + [own])
            index = max(len(competing) // self.reduction_factor - 1, 0)
            if own > competing[index]:
                return True
        return False


class HyperbandPruner:
    """Hyperband (Li et al. 2018) over ASHA brackets.

    Bracket ``b`` is successive halving with ``min_early_stopping_rate = b``
    (bracket 0 prunes most aggressively). Only brackets whose first rung comes
    before ``max_resource`` exist: one whose first rung is the last step could
    only "prune" a trial that already finished. Trials are shared among brackets
    in proportion to Hyperband's budgets: bracket ``b`` starts
    ``ceil(B / R * eta**(B-1-b) / (B - b))``-many trials per round of ``B``
    brackets and ``R = eta**(B-1)``, so aggressive brackets get more trials (as
    in the paper and Optuna). A trial's bracket follows from its number alone, so
    it is the same on every executor and after a resume.

    Args:
        min_resource: Step of the first rung.
        max_resource: Steps a full trial runs (epochs).
        reduction_factor: Keep the top 1/reduction_factor at each rung.

    Example:
        >>> pruner = HyperbandPruner(1, 27, 3)
        >>> pruner.n_brackets, [pruner.first_rung(b) for b in range(pruner.n_brackets)]
        (3, [1, 3, 9])
    """

    def __init__(self, min_resource: int = 1, max_resource: int = 81, reduction_factor: int = 3):
        if max_resource <= min_resource:
            raise ValueError(
                f"gradwork.tune.HyperbandPruner: max_resource={max_resource} <= "
                f"min_resource={min_resource}; expected max_resource > min_resource"
            )
        self.min_resource, self.max_resource = min_resource, max_resource
        self.reduction_factor = reduction_factor
        count = 0
        while min_resource * reduction_factor**count < max_resource:
            count += 1
        self.n_brackets = count
        self._brackets = [
            SuccessiveHalvingPruner(min_resource, reduction_factor, bracket)
            for bracket in range(self.n_brackets)
        ]
        sizes = [
            math.ceil(count / (count - b) * reduction_factor ** (count - 1 - b))
            for b in range(count)
        ]
        self._cycle = [b for b, size in enumerate(sizes) for _ in range(size)]
        # Interleave so that consecutive trials visit different brackets.
        order = np.argsort([(i + 0.5) / sizes[b] for b in range(count) for i in range(sizes[b])])
        self._cycle = [self._cycle[i] for i in order]

    def __repr__(self) -> str:
        return f"HyperbandPruner(n_brackets={self.n_brackets})"

    def first_rung(self, bracket: int) -> int:
        """The first step at which ``bracket`` may prune."""
        return self.min_resource * self.reduction_factor**bracket

    def bracket(self, trial: Any) -> int:
        """The bracket of ``trial``."""
        return self._cycle[trial.number % len(self._cycle)]

    def prune(self, trial: Trial, others: Sequence[Trial], direction: str) -> bool:
        bracket = self.bracket(trial)
        mates = [other for other in others if self.bracket(other) == bracket]
        return self._brackets[bracket].prune(trial, mates, direction)
