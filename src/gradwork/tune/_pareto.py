"""Pareto dominance for several objectives (all minimised): fronts, crowding, hypervolume."""

from __future__ import annotations

import numpy as np


def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``a`` is no worse than ``b`` in every objective and better in one."""
    return bool(np.all(a <= b) and np.any(a < b))


def pareto_front(losses: np.ndarray) -> list[int]:
    """Indices of the rows of ``losses`` (n, m) that no other row dominates.

    Example:
        >>> pareto_front(np.array([[1.0, 2.0], [2.0, 1.0], [2.0, 2.0]]))
        [0, 1]
    """
    return [int(i) for i in np.flatnonzero(nondominated_ranks(losses) == 0)]


def nondominated_ranks(losses: np.ndarray) -> np.ndarray:
    """Front number of each row (0: the Pareto front), by NSGA-II's fast sort."""
    losses = np.asarray(losses, dtype=float)
    n = len(losses)
    no_worse = np.all(losses[:, None, :] <= losses[None, :, :], axis=2)
    better = np.any(losses[:, None, :] < losses[None, :, :], axis=2)
    beats = no_worse & better  # beats[i, j]: row i dominates row j
    beaten_by = beats.sum(axis=0)
    ranks = np.full(n, -1)
    front = np.flatnonzero(beaten_by == 0)
    rank = 0
    while front.size:
        ranks[front] = rank
        beaten_by = beaten_by - beats[front].sum(axis=0)
        beaten_by[ranks >= 0] = -1
        front = np.flatnonzero(beaten_by == 0)
        rank += 1
    return ranks


def crowding_distance(losses: np.ndarray) -> np.ndarray:
    """NSGA-II's crowding distance of each row within its set (ends get infinity)."""
    losses = np.asarray(losses, dtype=float)
    n, m = losses.shape
    distance = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for k in range(m):
        order = np.argsort(losses[:, k], kind="stable")
        column = losses[order, k]
        span = column[-1] - column[0]
        distance[order[0]] = distance[order[-1]] = np.inf
        if span > 0:
            distance[order[1:-1]] += (column[2:] - column[:-2]) / span
    return distance


def hypervolume_2d(losses: np.ndarray, reference: np.ndarray) -> float:
    """Area dominated by ``losses`` (n, 2) and bounded by ``reference`` (minimisation).

    Example:
        >>> hypervolume_2d(np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([2.0, 2.0]))
        3.0
    """
    points = np.asarray(losses, dtype=float)
    points = points[np.all(points < reference, axis=1)]
    if not len(points):
        return 0.0
    points = points[np.argsort(points[:, 0], kind="stable")]
    volume, ceiling = 0.0, float(reference[1])
    for x, y in points:
        if y < ceiling:
            volume += (reference[0] - x) * (ceiling - y)
            ceiling = y
    return float(volume)
