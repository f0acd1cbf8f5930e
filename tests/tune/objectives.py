"""Module-level objectives (picklable for process pools and Dask)."""

from __future__ import annotations

import math

QUADRATIC_OPTIMUM = {"x": 0.7, "y": -1.2, "kind": "b"}


def quadratic(params: dict) -> float:
    """A shifted quadratic with a categorical offset; minimum 0 at QUADRATIC_OPTIMUM."""
    offset = {"a": 1.0, "b": 0.0, "c": 2.0}[params["kind"]]
    return (params["x"] - 0.7) ** 2 + (params["y"] + 1.2) ** 2 + offset


def noisy_by_seed(trial) -> float:
    """Depends on trial.seed as well as the params, to check seeds are reproducible."""
    x = trial.params["x"]
    return (x - 0.3) ** 2 + 1e-3 * (trial.seed % 1000) / 1000


def branin(params: dict) -> float:
    x1, x2 = params["x1"], params["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10
