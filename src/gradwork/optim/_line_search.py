"""The strong-Wolfe line search of LBFGS, ported from torch (itself from Lua torch's lswolfe).

`strong_wolfe` looks along a direction d for a step t that satisfies the
strong Wolfe conditions: sufficient decrease, f(x + t d) <= f + c1 t g.d,
and a flat enough slope, |g(x + t d).d| <= c2 |g.d|. It first brackets an
interval that holds such a t (growing t by cubic extrapolation), then zooms
into it by cubic interpolation. Every branch, constant and tie-break is
torch's, so a run takes the same trial steps and returns the same t.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

# obj_func(x, t, d) -> (loss at x + t d, flat gradient there); x is restored afterwards.
Objective = Callable[[Any, float, np.ndarray], tuple[float, np.ndarray]]


def cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None) -> float:
    """The minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clipped to `bounds`.

    Without `bounds` the interval is [min(x1, x2), max(x1, x2)]; when the cubic
    has no minimum there (a negative discriminant) the midpoint is returned.

    Example:
        >>> float(cubic_interpolate(0.0, 1.0, -2.0, 2.0, 1.0, 2.0))  # (x - 1)**2: minimum at 1
        1.0
    """
    if bounds is not None:
        low, high = bounds
    else:
        low, high = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square >= 0:
        d2 = np.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, low), high)
    return (low + high) / 2.0


class _Bracket:
    """Up to two trial points (step, loss, gradient, slope), as torch's four parallel lists."""

    def __init__(self, *points: tuple) -> None:
        self.t = [p[0] for p in points]
        self.f = [p[1] for p in points]
        self.g = [p[2] for p in points]
        self.gtd = [p[3] for p in points]

    def set(self, index: int, t: float, f: float, g: np.ndarray, gtd: float) -> None:
        self.t[index], self.f[index], self.g[index], self.gtd[index] = t, f, g, gtd

    def low_high(self) -> tuple[int, int]:
        return (0, 1) if self.f[0] <= self.f[-1] else (1, 0)


def strong_wolfe(
    obj_func: Objective,
    x: Any,
    t: float,
    d: np.ndarray,
    f: float,
    g: np.ndarray,
    gtd: float,
    c1: float = 1e-4,
    c2: float = 0.9,
    tolerance_change: float = 1e-9,
    max_ls: int = 25,
) -> tuple[float, np.ndarray, float, int]:
    """Search along `d` from the parameters `x`; return (loss, flat gradient, step, evaluations).

    `f`, `g` and `gtd` are the loss, flat gradient and slope g.d at `x`; `t`
    is the first trial step; `max_ls` bounds the number of evaluations.
    """
    bracket, done, ls_iter, evals = _bracket_phase(obj_func, x, t, d, f, g, gtd, c1, c2, max_ls)
    low = 0
    if not done:
        evals, low = _zoom(
            obj_func, x, d, f, gtd, bracket, ls_iter, evals, c1, c2, tolerance_change, max_ls
        )
    return bracket.f[low], bracket.g[low], bracket.t[low], evals


def _bracket_phase(obj_func, x, t, d, f, g, gtd, c1, c2, max_ls) -> tuple[_Bracket, bool, int, int]:
    """Grow t until [t_prev, t] brackets a Wolfe point, or t itself is one (done)."""
    g = g.copy()
    f_new, g_new = obj_func(x, t, d)
    evals, ls_iter = 1, 0
    gtd_new = g_new.dot(d)
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    while ls_iter < max_ls:
        no_decrease = f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev)
        if not no_decrease and abs(gtd_new) <= -c2 * gtd:
            return _Bracket((t, f_new, g_new, None)), True, ls_iter, evals
        if no_decrease or gtd_new >= 0:
            low = (t_prev, f_prev, g_prev, gtd_prev)
            return _Bracket(low, (t, f_new, g_new.copy(), gtd_new)), False, ls_iter, evals
        # Extrapolate: the next trial lies between 1.01 t and 10 t.
        min_step, max_step = t + 0.01 * (t - t_prev), t * 10
        previous = t
        t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, (min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = previous, f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
    # NOTE: out of evaluations; torch brackets [0, t] and, lacking slopes, zooms no further.
    return _Bracket((0, f, g, None), (t, f_new, g_new, None)), False, ls_iter, evals


def _zoom(obj_func, x, d, f, gtd, bracket, ls_iter, evals, c1, c2, tolerance_change, max_ls):
    """Shrink the bracket around a Wolfe point by cubic interpolation; (evals, low end)."""
    insufficient_progress = False
    low, high = bracket.low_high()
    d_norm = np.abs(d).max()
    while ls_iter < max_ls:
        if abs(bracket.t[1] - bracket.t[0]) * d_norm < tolerance_change:
            break  # the bracket is too small to matter
        t = cubic_interpolate(
            bracket.t[0], bracket.f[0], bracket.gtd[0], bracket.t[1], bracket.f[1], bracket.gtd[1]
        )
        t, insufficient_progress = _away_from_edges(t, bracket.t, insufficient_progress)
        f_new, g_new = obj_func(x, t, d)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket.f[low]:
            # Not a sufficient decrease, or no better than the low end: t is the new high end.
            bracket.set(high, t, f_new, g_new.copy(), gtd_new)
            low, high = bracket.low_high()
            continue
        done = abs(gtd_new) <= -c2 * gtd
        if not done and gtd_new * (bracket.t[high] - bracket.t[low]) >= 0:
            # The slope at t points back past the low end: the old low becomes the high end.
            bracket.set(high, bracket.t[low], bracket.f[low], bracket.g[low], bracket.gtd[low])
        bracket.set(low, t, f_new, g_new.copy(), gtd_new)
        if done:
            break
    return evals, low


def _away_from_edges(t: float, ends: list, insufficient_progress: bool) -> tuple[float, bool]:
    """Torch's safeguard: a trial within 10% of an edge, twice running, moves to 10% inside."""
    top, bottom = max(ends), min(ends)
    eps = 0.1 * (top - bottom)
    if min(top - t, t - bottom) >= eps:
        return t, False
    if insufficient_progress or t >= top or t <= bottom:
        t = top - eps if abs(t - top) < abs(t - bottom) else bottom + eps
        return t, False
    return t, True
