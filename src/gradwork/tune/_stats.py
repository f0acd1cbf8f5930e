"""Cross-validation settings and the bootstrap confidence interval."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class CV:
    """Cross-validation inside a study: run each configuration on ``n_splits`` folds.

    The objective is called as ``objective(x, fold)`` for ``fold = 0 .. n_splits-1``
    (``x`` is the params dict or the Trial, as usual; ``trial.fold`` is set too) and
    returns that fold's score. The trial's value is the mean over folds and
    ``trial.std_error`` its standard error.

    Early stop: after ``min_folds`` folds, a configuration whose running mean is
    worse than the best trial so far by more than ``stop_z`` standard errors is
    stopped and marked PRUNED (its remaining folds are not run). ``stop_z=None``
    turns this off.

    Example:
        >>> CV(5).n_splits, CV(5).stop_z
        (5, 2.0)
    """

    n_splits: int = 5
    stop_z: float | None = 2.0
    min_folds: int = 2

    def __post_init__(self) -> None:
        if int(self.n_splits) != self.n_splits or self.n_splits < 2:
            raise ValueError(
                f"gradwork.tune.CV: n_splits={self.n_splits!r}; expected a whole number >= 2"
            )


def make_cv(cv: Any) -> CV | None:
    """``None``, an int k, a ``CV``, or any splitter with an ``n_splits`` attribute."""
    if cv is None or isinstance(cv, CV):
        return cv
    if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool):
        return CV(int(cv))
    splits = getattr(cv, "n_splits", None)
    if isinstance(splits, (int, np.integer)):
        return CV(int(splits))
    raise TypeError(
        f"gradwork.tune: cv={cv!r}; expected an int k, CV(k, stop_z=...) or a splitter "
        "with an n_splits attribute such as KFold(5)"
    )


def mean_and_error(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (0 for a single value)."""
    array = np.asarray(values, dtype=float)
    if array.size < 2:
        return float(array.mean()), 0.0
    return float(array.mean()), float(array.std(ddof=1) / math.sqrt(array.size))


@dataclass(frozen=True)
class ConfidenceInterval:
    """A point estimate with a percentile-bootstrap interval."""

    estimate: float
    low: float
    high: float
    confidence: float

    def __str__(self) -> str:
        percent = round(100 * self.confidence)
        return f"{self.estimate:.4g} ({percent}% CI {self.low:.4g} to {self.high:.4g})"


def bootstrap_ci(
    values_or_metric: Sequence[float] | np.ndarray | Callable[..., float],
    *arrays: Any,
    statistic: Callable[[np.ndarray], float] = np.mean,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> ConfidenceInterval:
    """Percentile-bootstrap confidence interval for a final test score.

    Two forms: ``bootstrap_ci(per_example_scores)`` resamples the scores and
    applies ``statistic`` (the mean); ``bootstrap_ci(metric, y_true, y_pred)``
    resamples rows of the arrays together and calls ``metric`` on each resample
    (accuracy, AUC...). Seeded, so the interval is reproducible.

    Example:
        >>> ci = bootstrap_ci([1, 0, 1, 1, 0, 1, 1, 1], seed=0)
        >>> ci.estimate, ci.low <= 0.75 <= ci.high
        (0.75, True)
    """
    if not 0 < confidence < 1:
        raise ValueError(f"gradwork.tune.bootstrap_ci: confidence={confidence}; expected 0 < c < 1")
    if n_resamples < 1:
        raise ValueError(f"gradwork.tune.bootstrap_ci: n_resamples={n_resamples}; expected >= 1")
    rng = np.random.default_rng(seed)
    if callable(values_or_metric):
        if not arrays:
            raise TypeError("gradwork.tune.bootstrap_ci: a metric needs the arrays to resample")
        data = [np.asarray(array) for array in arrays]
        size = len(data[0])

        def score(rows: np.ndarray) -> float:
            return float(values_or_metric(*(array[rows] for array in data)))
    else:
        values = np.asarray(values_or_metric, dtype=float)
        size = values.size

        def score(rows: np.ndarray) -> float:
            return float(statistic(values[rows]))

    if size == 0:
        raise ValueError("gradwork.tune.bootstrap_ci: no values; give at least one")
    estimate = score(np.arange(size))
    samples = np.array([score(rng.integers(0, size, size)) for _ in range(n_resamples)])
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return ConfidenceInterval(estimate, float(low), float(high), confidence)
