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
