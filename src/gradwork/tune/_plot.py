"""Pictures of a study, drawn by gradwork.plots (matplotlib, the `plot` extra).

Each function turns the Study into plain numbers and hands them to gradwork.plots;
without matplotlib they raise `gradwork.plots.PlotsUnavailableError` (an ImportError
that says how to install it). `plot_study` draws every picture that applies.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from gradwork import plots

from ._distributions import Categorical
from ._study import Study
from ._trial import TrialState


def history_points(study: Study) -> tuple[list[int], list[float], list[float]]:
    """Completed trials' numbers and values, and the best value so far after each.

    Example:
        >>> from gradwork.tune import Float, minimize
        >>> study = minimize(lambda p: p["x"], {"x": Float(0, 1)}, algorithm="random", n_trials=3)
        >>> numbers, values, best = history_points(study)
        >>> best == sorted(best, reverse=True), numbers
        (True, [0, 1, 2])
    """
    done = _complete(study)
    values = [float(t.value) for t in done]
    return [t.number for t in done], values, plots.best_so_far(values, study.direction)


def _complete(study: Study) -> list[Any]:
    return [t for t in study.trials if t.state == TrialState.COMPLETE and t.value is not None]


def plot_history(study: Study, path: str | os.PathLike, metric: str = "objective") -> Path:
    """Write a PNG: each completed trial's value, the best so far, pruned trials at their
    last report (clipped to the completed trials' range) and failed trials as ticks."""
    trials = [
        {
            "number": t.number,
            "state": t.state.value,
            "value": t.value,
            "reported": t.intermediate[t.last_step] if t.intermediate else None,
        }
        for t in study.trials
    ]
    return plots.plot_search_history(trials, path, metric, study.direction)


def plot_importance(study: Study, path: str | os.PathLike, metric: str = "objective") -> Path:
    """Write a PNG of each parameter's importance ± its bootstrap standard deviation.

    Raises ValueError (from `Study.importance`) when too few trials completed.
    """
    shares = study.importance(return_std=True)
    spread = {n: (max(0.0, s - sd), min(1.0, s + sd)) for n, (s, sd) in shares.items()}
    return plots.plot_importance(
        {n: s for n, (s, _) in shares.items()}, path, spread, metric,
        interval="± 1 bootstrap standard deviation",
    )  # fmt: skip


def _shown_params(study: Study) -> list[dict[str, Any]]:
    """Each completed trial's parameters, list choices shown as text."""
    shown = []
    for trial in _complete(study):
        row = {}
        for name in study.space.names:
            if name in trial.params:
                value = trial.params[name]
                categorical = isinstance(study.space[name], Categorical)
                row[name] = str(value) if categorical or isinstance(value, list) else value
        shown.append(row)
    return shown


def _log_names(study: Study) -> list[str]:
    return [n for n in study.space.names if getattr(study.space[n], "log", False)]


def plot_parallel_coordinates(
    study: Study, path: str | os.PathLike, metric: str = "objective"
) -> Path:
    """Write a PNG: one line per completed trial through every parameter and the metric."""
    values = [float(t.value) for t in _complete(study)]
    choices = {
        name: [_label(c) for c in study.space[name].choices]
        for name in study.space.names
        if isinstance(study.space[name], Categorical)
    }
    return plots.plot_parallel_coordinates(
        _shown_params(study), values, path, _log_names(study), metric, study.direction,
        categories=choices,
    )  # fmt: skip


def _label(choice: Any) -> str:
    """A choice as trials record it: lists as JSON text (``[32, 32]``), the rest as str."""
    return json.dumps(choice) if isinstance(choice, list | tuple) else str(choice)


def contour_pair(study: Study) -> tuple[str, str] | None:
    """The two most important numeric parameters set in at least 3 completed trials."""
    done = _complete(study)
    try:
        ranked = list(study.importance())
    except ValueError:  # too few trials to rank: the space's order
        ranked = list(study.space.names)
    numeric = [
        name
        for name in ranked
        if not isinstance(study.space[name], Categorical)
        and sum(name in t.params for t in done) >= 3
    ]
    return (numeric[0], numeric[1]) if len(numeric) >= 2 else None


def plot_contour(
    study: Study, path: str | os.PathLike, metric: str = "objective", pair: Any = None
) -> Path:
    """Write a PNG of the metric over two numeric parameters (the two most important)."""
    x_name, y_name = pair or contour_pair(study)
    done = [t for t in _complete(study) if x_name in t.params and y_name in t.params]
    log = tuple(getattr(study.space[n], "log", False) for n in (x_name, y_name))
    return plots.plot_contour(
        [t.params[x_name] for t in done],
        [t.params[y_name] for t in done],
        [t.value for t in done],
        path,
        (x_name, y_name),
        log,
        metric,
        study.direction,
    )


def plot_pareto_front(
    study: Study, path: str | os.PathLike, names: tuple[str, str] | None = None
) -> Path:
    """Write a PNG of the first two objectives of a multi-objective study and its front."""
    done = [t for t in study.trials if t.state == TrialState.COMPLETE and t.values]
    values = np.array([t.values[:2] for t in done], float)
    names = names or ("objective 1", "objective 2")
    return plots.plot_pareto_front(values, path, names, tuple(study.directions[:2]))


def plot_study(
    study: Study, folder: str | os.PathLike, metric: Any = "objective"
) -> dict[str, Path]:
    """Every picture that applies to `study`, written into `folder`; {name: path}.

    history.png, importance.png (once `Study.importance` has enough trials),
    parallel_coordinates.png (2+ parameters), contour.png (2 numeric parameters), and
    pareto_front.png for a study with several objectives (`metric`: a list of names).
    """
    folder = Path(folder)
    if getattr(study, "multi_objective", False):
        names = tuple(metric[:2]) if isinstance(metric, list | tuple) else None
        if not any(t.state == TrialState.COMPLETE and t.values for t in study.trials):
            return {}
        return {"pareto_front": plot_pareto_front(study, folder / "pareto_front.png", names)}
    written = {"history": plot_history(study, folder / "history.png", metric)}
    done = _complete(study)
    if len(done) >= 2 and len({t.value for t in done}) >= 2:
        try:
            written["importance"] = plot_importance(study, folder / "importance.png", metric)
        except ValueError:
            pass  # too few completed trials for the shares to mean anything
        if len(study.space.names) >= 2:
            written["parallel_coordinates"] = plot_parallel_coordinates(
                study, folder / "parallel_coordinates.png", metric
            )
        if contour_pair(study) is not None:
            written["contour"] = plot_contour(study, folder / "contour.png", metric)
    return written
