"""A learning-rate schedule stepped at the wrong cadence, from its length against the loader's.

The cadence is read from the optimizer steps between two scheduler steps
(1: per batch; the loader's length: per epoch); the schedule's length (its
horizon: T_max, step_size, total_iters, total_steps, ...) then says which
cadence it was built for.
"""

from __future__ import annotations

from typing import Any

# kind: "decay" (built for either; judged by its length), "batches" (built per batch)
_HORIZONS = {
    "StepLR": ("decay", lambda s: s.step_size),
    "MultiStepLR": ("decay", lambda s: max(s.milestones)),
    "CosineAnnealingLR": ("smooth", lambda s: s.T_max),
    "PolynomialLR": ("smooth", lambda s: s.total_iters),
    "LinearLR": ("smooth", lambda s: s.total_iters if s.end_factor < s.start_factor else None),
    "OneCycleLR": ("batches", lambda s: s.total_steps),
    "CyclicLR": ("batches", lambda s: s.step_size_up + s.step_size_down),
}


class ScheduleWatch:
    """Counts optimizer steps between each scheduler's steps and judges the cadence."""

    def __init__(self, watcher: Any) -> None:
        self.watcher = watcher
        self.history: dict[int, list[int]] = {}  # scheduler id -> optimizer steps at its steps

    def on_step(self, scheduler: Any, where: tuple, steps: int, loader: Any) -> None:
        marks = self.history.setdefault(id(scheduler), [])
        marks.append(steps)
        del marks[:-4]
        kind, horizon = _horizon(scheduler)
        batches = _length(loader)
        if horizon is None or batches < 2 or len(marks) < 3:
            return
        gaps = [b - a for a, b in zip(marks, marks[1:], strict=False)]
        name = type(scheduler).__name__
        values = {"scheduler": name, "horizon": horizon, "batches": batches}
        evidence = {"horizon": horizon, "loader_batches": batches, "steps_between": gaps}
        if all(g == 1 for g in gaps) and kind != "batches" and horizon < batches:
            self.watcher.report("scheduler_per_batch", where, evidence, **values)
        per_epoch = all(abs(g - batches) <= 1 for g in gaps)
        if per_epoch and horizon >= 2 * batches and (kind == "batches" or horizon % batches == 0):
            if kind != "decay":
                self.watcher.report("scheduler_per_epoch", where, evidence,
                                    epochs=horizon / batches, **values)  # fmt: skip


def _horizon(scheduler: Any) -> tuple[str, int | None]:
    kind, read = _HORIZONS.get(type(scheduler).__name__, ("", lambda s: None))
    try:
        return kind, read(scheduler)
    except (AttributeError, TypeError, ValueError):
        return kind, None


def _length(loader: Any) -> int:
    try:
        return len(loader)
    except TypeError:
        return 0
