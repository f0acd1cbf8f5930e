"""The optimisation-history picture of a study, drawn without matplotlib."""

from __future__ import annotations

import os
from pathlib import Path

from gradwork.diagnose.png import BLUE, ORANGE, line_chart

from ._study import Study
from ._trial import TrialState

PRUNED_GREY = (150, 150, 150)


def history_points(study: Study) -> tuple[list[int], list[float], list[float]]:
    """Completed trials' numbers and values, and the best value so far after each.

    Example:
        >>> from gradwork.tune import Float, minimize
        >>> study = minimize(lambda p: p["x"], {"x": Float(0, 1)}, algorithm="random", n_trials=3)
        >>> numbers, values, best = history_points(study)
        >>> best == sorted(best, reverse=True), numbers
        (True, [0, 1, 2])
    """
    numbers, values, best = [], [], []
    for trial in study.trials:
        if trial.state != TrialState.COMPLETE:
            continue
        numbers.append(trial.number)
        values.append(trial.value)
        better = min if study.direction == "minimize" else max
        best.append(trial.value if not best else better(best[-1], trial.value))
    return numbers, values, best


def plot_history(
    study: Study, path: str | os.PathLike, width: int = 640, height: int = 400
) -> Path:
    """Write a PNG: completed trials (orange), pruned trials at their last report (grey),
    and the best value so far as a step line (blue), against the trial number."""
    numbers, values, best = history_points(study)
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED and t.intermediate]
    steps_x, steps_y = [], []
    for number, value in zip(numbers, best, strict=False):
        if steps_y:
            steps_x.append(number)
            steps_y.append(steps_y[-1])  # NOTE: hold the old best until the trial that beat it
        steps_x.append(number)
        steps_y.append(value)
    if steps_x and study.trials:
        steps_x.append(study.trials[-1].number)
        steps_y.append(steps_y[-1])
    chart = line_chart(
        [
            (
                [t.number for t in pruned],
                [t.intermediate[t.last_step] for t in pruned],
                PRUNED_GREY,
                "dots",
            ),
            (numbers, values, ORANGE, "dots"),
            (steps_x, steps_y, BLUE, "line"),
        ],
        width,
        height,
    )
    return chart.save(path)
