"""Cross-validation settings (the bootstrap interval lives in gradwork.data.bootstrap)."""

from __future__ import annotations

import math
from collections.abc import Sequence
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
    worse than the best trial so far by more than ``stop_z`` standard errors *of
    the difference* is stopped and marked PRUNED (its remaining folds are not
    run). The fold spread is pooled with the best trial's, so two folds that
    happen to agree do not make the gap look certain, and nothing is stopped
    while the spread is unknown (all folds equal so far). ``stop_z=None`` turns
    this off.

    NOTE: the old rule (2 own standard errors after 2 folds) stopped the truly
    best configuration in 20-36% of simulated studies: a 2-fold standard error is
    itself very noisy, and the best-so-far mean is biased low (the winner's
    curse). With 3 folds, the pooled error and z = 2.5 it is stopped in ~1% (6%
    when every rival is within 0.6 fold standard deviations of it).

    Example:
        >>> CV(5).n_splits, CV(5).stop_z, CV(5).min_folds
        (5, 2.5, 3)
    """

    n_splits: int = 5
    stop_z: float | None = 2.5
    min_folds: int = 3

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


def cv_gap_error(folds: Sequence[float], best_error: float, n_splits: int) -> float:
    """Standard error of (running mean of ``folds``) - (best trial's mean over ``n_splits``).

    The per-fold spread is pooled from the running folds and the best trial's
    (whose ``std_error`` came from ``n_splits`` folds).
    """
    done = len(folds)
    own_var = float(np.var(folds, ddof=1)) if done > 1 else 0.0
    best_var = (best_error**2) * n_splits
    dof_own, dof_best = done - 1, (n_splits - 1) if best_error > 0 else 0
    if dof_own + dof_best == 0:
        return 0.0
    pooled = (own_var * dof_own + best_var * dof_best) / (dof_own + dof_best)
    scale = max(abs(float(np.mean(folds))), 1.0)
    if pooled <= (1e-9 * scale) ** 2:  # equal folds (up to rounding): the spread is unknown
        return 0.0
    return math.sqrt(pooled * (1.0 / done + 1.0 / n_splits))


def mean_and_error(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (0 for a single value)."""
    array = np.asarray(values, dtype=float)
    if array.size < 2:
        return float(array.mean()), 0.0
    return float(array.mean()), float(array.std(ddof=1) / math.sqrt(array.size))
