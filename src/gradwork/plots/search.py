"""Plots of a hyperparameter search: history, importance, parallel coordinates, contour,
Pareto front. Inputs are plain numbers and dicts; gradwork.tune turns a Study into them."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gradwork.plots._mpl import COLORS, figure, pyplot, save

PRUNED, FAILED = "#9a9a9a", "#cc3311"


def best_so_far(values: Sequence[float], direction: str = "minimize") -> list[float]:
    """The running best of `values`.

    Example:
        >>> best_so_far([3.0, 1.0, 2.0]), best_so_far([1, 3, 2], "maximize")
        ([3.0, 1.0, 1.0], [1, 3, 3])
    """
    better = min if direction == "minimize" else max
    best: list[float] = []
    for value in values:
        best.append(value if not best else better(best[-1], value))
    return best


def plot_search_history(
    trials: Sequence[Mapping[str, Any]],
    path: str | os.PathLike,
    metric: str = "objective",
    direction: str = "minimize",
    title: str = "Optimisation history",
) -> Path:
    """Each completed trial's value and the best so far, against the trial number.

    Pruned trials are marked at their last reported value, clipped to the range of
    the completed ones (triangles at the edge), so a trial stopped early for being bad
    does not stretch the axis; failed trials are ticks along the bottom.

    Args:
        trials: dicts with `number`, `state` ("COMPLETE", "PRUNED", "FAILED", ...),
            `value` (complete trials) and `reported` (last intermediate value, or None).

    Example:
        >>> import tempfile
        >>> trials = [{"number": 0, "state": "COMPLETE", "value": 0.7},
        ...           {"number": 1, "state": "PRUNED", "value": None, "reported": 0.2},
        ...           {"number": 2, "state": "COMPLETE", "value": 0.9}]
        >>> plot_search_history(trials, tempfile.mkdtemp() + "/h.png", "val_accuracy",
        ...                     "maximize").name
        'h.png'
    """
    done = [t for t in trials if t["state"] == "COMPLETE" and t.get("value") is not None]
    fig, ax = figure(8.0, 4.4)
    numbers = [t["number"] for t in done]
    values = [float(t["value"]) for t in done]
    ax.scatter(numbers, values, s=22, color=COLORS[0], zorder=3, label="completed trial")
    if done:
        best = best_so_far(values, direction)
        last = max(t["number"] for t in trials)
        ax.step(
            [*numbers, last],
            [*best, best[-1]],
            where="post",
            color=COLORS[1],
            linewidth=1.8,
            label=f"best so far ({direction})",
        )
        low, high = min(values), max(values)
        pad = 0.08 * (high - low) if high > low else 0.05 * (abs(high) + 1e-3)
        low, high = low - pad, high + pad
        ax.set_ylim(low, high)
        _mark_pruned(ax, trials, low, high)
    failed = [t["number"] for t in trials if t["state"] == "FAILED"]
    if failed:
        ax.plot(
            failed,
            [0.02] * len(failed),
            "|",
            color=FAILED,
            markersize=12,
            transform=ax.get_xaxis_transform(),
            label=f"failed trial ({len(failed)})",
        )
    ax.set_xlabel("trial number")
    ax.set_ylabel(f"{metric} (validation)")
    ax.set_title(f"{title}: {len(done)} completed of {len(trials)} trials", fontweight="bold")
    ax.legend(fontsize=8, loc="best")
    return save(fig, path)


def _mark_pruned(ax: Any, trials: Sequence[Mapping], low: float, high: float) -> None:
    pruned = [t for t in trials if t["state"] == "PRUNED" and t.get("reported") is not None]
    if not pruned:
        return
    numbers = np.array([t["number"] for t in pruned])
    reported = np.array([float(t["reported"]) for t in pruned])
    inside = (reported >= low) & (reported <= high)
    ax.scatter(
        numbers[inside],
        reported[inside],
        s=22,
        marker="x",
        color=PRUNED,
        zorder=2,
        label=f"pruned trial, last report ({len(pruned)})",
    )
    above, below = reported > high, reported < low
    ax.scatter(
        numbers[above],
        np.full(above.sum(), high),
        marker="^",
        s=26,
        color=PRUNED,
        clip_on=False,
        zorder=2,
    )
    ax.scatter(
        numbers[below],
        np.full(below.sum(), low),
        marker="v",
        s=26,
        color=PRUNED,
        clip_on=False,
        zorder=2,
        label="pruned, beyond the axis" if below.any() or above.any() else None,
    )


def plot_importance(
    importance: Mapping[str, float],
    path: str | os.PathLike,
    spread: Mapping[str, tuple[float, float]] | None = None,
    metric: str = "objective",
    title: str = "Hyperparameter importance",
    interval: str = "80% bootstrap interval",
) -> Path:
    """Horizontal bars: each parameter's share of the metric's variance, most important on
    top, with an uncertainty interval (e.g. a bootstrap over trials) as error bars.

    Args:
        importance: {parameter: share}, shares summing to 1.
        spread: {parameter: (low, high)} interval of the share, optional.
        interval: what the interval is, for the legend.

    Example:
        >>> import tempfile
        >>> plot_importance({"lr": 0.7, "batch": 0.3}, tempfile.mkdtemp() + "/i.png",
        ...                 {"lr": (0.5, 0.9), "batch": (0.1, 0.5)}).name
        'i.png'
    """
    names = sorted(importance, key=lambda n: importance[n])
    shares = np.array([100 * importance[n] for n in names])
    fig, ax = figure(7.5, 0.45 * len(names) + 1.8)
    errors = None
    if spread:
        errors = np.array(
            [
                [max(0.0, s - 100 * spread[n][0]), max(0.0, 100 * spread[n][1] - s)]
                for n, s in zip(names, shares, strict=True)
            ]
        ).T
    ax.barh(
        names,
        shares,
        xerr=errors,
        color=COLORS[0],
        capsize=4,
        error_kw={"ecolor": "#444444", "elinewidth": 1},
        label="share of variance" + (f" (error bars: {interval})" if spread else ""),
    )
    ends = shares if errors is None else shares + errors[1]
    for position, (share, end) in enumerate(zip(shares, ends, strict=True)):
        ax.text(end + 1.5, position, f"{share:.0f}%", va="center", fontsize=8, color="#333333")
    ax.set_xlim(0, 100 if not spread else max(100, float(np.max(shares + (errors[1]))) + 5))
    ax.set_xlabel(f"share of the variance of {metric} explained (%)")
    ax.set_ylabel("parameter")
    ax.set_title(title, fontweight="bold")
    ax.legend(fontsize=8, loc="lower right")
    return save(fig, path)


def _axis_values(
    values: Sequence[Any], log: bool, choices: Sequence[str] | None = None
) -> tuple[np.ndarray, list, list[str]]:
    """Positions in [0, 1] for one parameter, and ticks (positions, labels)."""
    present = [v for v in values if v is not None]
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in present)
    if choices is not None or not numeric:
        choices = [str(c) for c in choices] if choices else sorted({str(v) for v in present})
        spacing = max(len(choices) - 1, 1)
        where = {c: i / spacing for i, c in enumerate(choices)}
        positions = [where[str(v)] if v is not None else math.nan for v in values]
        return np.array(positions, float), [where[c] for c in choices], choices
    raw = np.array([math.nan if v is None else float(v) for v in values], float)
    shown = np.log10(raw) if log else raw
    low, high = np.nanmin(shown), np.nanmax(shown)
    span = high - low if high > low else 1.0
    distinct = np.unique(shown[np.isfinite(shown)])
    whole = all(float(v).is_integer() for v in present)
    # NOTE: a few whole-number levels (layer counts) get a label each; reals only their ends.
    ticks = distinct if whole and distinct.size <= 6 else np.unique([low, high])
    labels = [f"{10**t:.3g}" if log else f"{t:.3g}" for t in ticks]
    return (shown - low) / span, list((ticks - low) / span), labels


def plot_parallel_coordinates(
    params: Sequence[Mapping[str, Any]],
    values: Sequence[float],
    path: str | os.PathLike,
    log: Sequence[str] = (),
    metric: str = "objective",
    direction: str = "minimize",
    title: str = "Parallel coordinates of the search",
    categories: Mapping[str, Sequence[str]] | None = None,
) -> Path:
    """One line per completed trial across one vertical axis per parameter and one for the
    metric, coloured by the metric (the best trial drawn thick).

    Args:
        params: each trial's parameters (a missing key: inactive, drawn as a gap).
        values: each trial's metric. log: parameters searched on a log scale.
        categories: {parameter: its choices in order}, so unseen choices keep their place.

    Example:
        >>> import tempfile
        >>> params = [{"lr": 0.1, "opt": "sgd"}, {"lr": 0.001, "opt": "adam"}]
        >>> plot_parallel_coordinates(params, [0.5, 0.2], tempfile.mkdtemp() + "/p.png",
        ...                           log=["lr"]).name
        'p.png'
    """
    names = list(dict.fromkeys(k for p in params for k in p))
    columns = [*names, metric]
    table = [[p.get(n) for p in params] for n in names] + [list(values)]
    axes_data = [
        _axis_values(column, name in log, (categories or {}).get(name))
        for name, column in zip(columns, table, strict=True)
    ]
    fig, ax = figure(max(6.0, 1.6 * len(columns) + 1.5), 4.8)
    ax.grid(False)
    plt = pyplot()
    values = np.asarray(values, float)
    norm = plt.Normalize(values.min(), values.max())
    cmap = plt.get_cmap("viridis_r" if direction == "minimize" else "viridis")
    best = int(np.argmin(values) if direction == "minimize" else np.argmax(values))
    order = np.argsort(values if direction == "maximize" else -values)  # best drawn last
    x = np.arange(len(columns))
    for trial in order:
        y = np.array([data[0][trial] for data in axes_data])
        width, alpha = (3.0, 1.0) if trial == best else (1.0, 0.55)
        ax.plot(x, y, color=cmap(norm(values[trial])), linewidth=width, alpha=alpha)
    for position, (_, ticks, labels) in zip(x, axes_data, strict=True):
        ax.axvline(position, color="#555555", linewidth=1)
        for tick, label in zip(ticks, labels, strict=True):
            ax.text(
                position + 0.04,
                tick,
                label,
                fontsize=8,
                va="center",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
            )
    ax.set_xticks(x, [f"{c}\n(log)" if c in log else c for c in columns], fontsize=9)
    ax.set_yticks([])
    ax.set_xlabel("parameter (each vertical axis spans the values the trials used)")
    ax.set_ylabel("low → high (per axis)")
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlim(-0.2, len(columns) - 0.6)
    ax.spines["left"].set_visible(False)
    mappable = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(mappable, ax=ax, pad=0.02, label=f"{metric} (validation)")
    ax.plot([], [], color="black", linewidth=3, label=f"best trial ({direction})")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0, -0.12))
    ax.set_title(
        f"{title}: {len(values)} completed trials (each axis min to max)",
        fontweight="bold",
        fontsize=11,
    )
    return save(fig, path)


def plot_contour(
    x: Sequence[float],
    y: Sequence[float],
    values: Sequence[float],
    path: str | os.PathLike,
    names: tuple[str, str] = ("x", "y"),
    log: tuple[bool, bool] = (False, False),
    metric: str = "objective",
    direction: str = "minimize",
    title: str = "Search space",
) -> Path:
    """The metric over two numeric parameters: filled contours interpolated between the
    trials (Delaunay triangles), with the trials as dots and the best as a star.

    Example:
        >>> import tempfile
        >>> rng = np.random.default_rng(0)
        >>> a, b = rng.random(20), rng.random(20)
        >>> plot_contour(a, b, (a - 0.5) ** 2 + b, tempfile.mkdtemp() + "/c.png", ("a", "b")).name
        'c.png'
    """
    x, y, values = (np.asarray(v, float) for v in (x, y, values))
    plt = pyplot()
    fig, ax = figure(6.8, 5.2)
    sx, sy = (np.log10(x) if log[0] else x), (np.log10(y) if log[1] else y)
    cmap = "viridis_r" if direction == "minimize" else "viridis"
    try:
        triangles = plt.matplotlib.tri.Triangulation(sx, sy)
        filled = ax.tricontourf(triangles, values, levels=14, cmap=cmap, alpha=0.85)
        fig.colorbar(filled, ax=ax, label=f"{metric} (validation, interpolated)")
    except (ValueError, RuntimeError):  # too few or collinear points: dots only
        dots = ax.scatter(sx, sy, c=values, cmap=cmap, s=40)
        fig.colorbar(dots, ax=ax, label=f"{metric} (validation)")
    ax.scatter(sx, sy, s=14, color="white", edgecolors="black", linewidths=0.6, label="trial")
    best = int(np.argmin(values) if direction == "minimize" else np.argmax(values))
    ax.scatter(
        sx[best],
        sy[best],
        s=220,
        marker="*",
        color="#ff3355",
        edgecolors="black",
        label=f"best: {metric} = {values[best]:.4g}",
        zorder=4,
    )
    for values_shown, limits in ((sx, ax.set_xlim), (sy, ax.set_ylim)):
        pad = 0.04 * (values_shown.max() - values_shown.min()) or 0.1
        limits(values_shown.min() - pad, values_shown.max() + pad)  # trials on the edge stay whole
    for log_axis, axis, name in ((log[0], ax.xaxis, names[0]), (log[1], ax.yaxis, names[1])):
        axis.set_label_text(f"{name} (log10 scale)" if log_axis else name)
        if log_axis:
            axis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{10**v:.2g}"))
    ax.set_title(
        f"{title}: {metric} over {names[0]} and {names[1]}", fontweight="bold", fontsize=11
    )
    ax.legend(fontsize=8, loc="best", framealpha=0.9)
    return save(fig, path)


def pareto_mask(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """True for the points no other point dominates (at least as good everywhere, better once).

    Example:
        >>> pareto_mask(np.array([[1, 3], [2, 2], [3, 3], [3, 1]]), ["minimize", "minimize"])
        array([ True,  True, False,  True])
    """
    signs = np.array([1.0 if d == "minimize" else -1.0 for d in directions])
    costs = np.asarray(values, float) * signs
    better_or_equal = (costs[:, None, :] <= costs[None, :, :]).all(axis=2)
    strictly = (costs[:, None, :] < costs[None, :, :]).any(axis=2)
    dominated = (better_or_equal & strictly).any(axis=0)
    return ~dominated


def plot_pareto_front(
    values: np.ndarray,
    path: str | os.PathLike,
    names: tuple[str, str] = ("objective 1", "objective 2"),
    directions: tuple[str, str] = ("minimize", "minimize"),
    title: str = "Pareto front",
) -> Path:
    """Two objectives of a multi-objective study: every trial, the non-dominated ones
    highlighted and joined as the front.

    Example:
        >>> import tempfile
        >>> v = np.array([[1, 3], [2, 2], [3, 3], [3, 1]])
        >>> plot_pareto_front(v, tempfile.mkdtemp() + "/pf.png").name
        'pf.png'
    """
    values = np.asarray(values, float)
    front = pareto_mask(values, directions)
    fig, ax = figure(6.6, 5.0)
    ax.scatter(
        values[~front, 0],
        values[~front, 1],
        s=22,
        color="#9a9a9a",
        label=f"dominated trial ({int((~front).sum())})",
    )
    ordered = values[front][np.argsort(values[front, 0])]
    ax.plot(
        ordered[:, 0],
        ordered[:, 1],
        "-o",
        color=COLORS[1],
        markersize=6,
        linewidth=1.5,
        drawstyle="steps-post" if directions[0] == directions[1] else "default",
        label=f"Pareto-optimal trial ({int(front.sum())})",
    )
    arrows = {"minimize": "lower is better", "maximize": "higher is better"}
    ax.set_xlabel(f"{names[0]} ({arrows[directions[0]]})")
    ax.set_ylabel(f"{names[1]} ({arrows[directions[1]]})")
    ax.set_title(f"{title}: {len(values)} trials", fontweight="bold")
    ax.legend(fontsize=8, loc="best")
    return save(fig, path)
