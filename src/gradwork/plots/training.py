"""Plots of a training run: learning curves, gradient flow, activations, the lr finder."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from gradwork.plots._mpl import COLORS, figure, pyplot, save

# Epoch-log columns that are not scores of the model (plotted elsewhere or on their own axis).
NOT_CURVES = (
    "epoch",
    "lr",
    "grad_norm",
    "update_ratio",
    "dead_relu_fraction",
    "saturated_fraction",
    "time",
    "seconds",
)


def _finite(values: Sequence) -> np.ndarray:
    array = np.array([v if isinstance(v, int | float) else math.nan for v in values], float)
    return array[np.isfinite(array)]


def log_scale_fits(values: Sequence, spread: float = 30.0) -> bool:
    """True when positive values span more than `spread` times: a log axis shows them better.

    Example:
        >>> log_scale_fits([2.3, 0.5, 0.01]), log_scale_fits([0.9, 0.5]), log_scale_fits([1, -1])
        (True, False, False)
    """
    finite = _finite(values)
    return bool(finite.size and finite.min() > 0 and finite.max() / finite.min() > spread)


def _pairs(history: Mapping[str, Sequence]) -> list[str]:
    """Score names with a curve (train name, its val_ twin shares the colour)."""
    names = [k for k in history if k not in NOT_CURVES and not k.startswith("val_")]
    names += [k[4:] for k in history if k.startswith("val_") and k[4:] not in history]
    return [n for n in names if n not in NOT_CURVES]


def plot_learning_curves(
    history: Mapping[str, Sequence[float]],
    path: str | os.PathLike,
    title: str = "Learning curves",
    best_epoch: int | None = None,
) -> Path:
    """Loss (left) and the other metrics (right) per epoch, train solid and validation dashed;
    the learning rate on a second axis of the loss panel.

    Args:
        history: {column: values per epoch}, e.g. history.csv read as columns
            (`loss`, `val_loss`, `accuracy`, `val_accuracy`, `lr`, ...).
        path: the PNG to write.
        title: the figure's title.
        best_epoch: 0-based epoch to mark (the checkpointed one), or None.

    Example:
        >>> import tempfile
        >>> history = {"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.6, 0.5],
        ...            "accuracy": [0.5, 0.8, 0.9], "lr": [0.1, 0.1, 0.01]}
        >>> plot_learning_curves(history, tempfile.mkdtemp() + "/curves.png").suffix
        '.png'
    """
    names = _pairs(history)
    metrics = [n for n in names if n != "loss"]
    epochs = np.arange(1, max(len(v) for v in history.values()) + 1)
    fig, axes = figure(11.0 if metrics else 6.5, 4.2, ncols=2 if metrics else 1)
    loss_ax, metric_ax = (axes[0], axes[1]) if metrics else (axes, None)
    _curves(loss_ax, history, ["loss"], epochs, best_epoch)
    loss_ax.set_title("Loss")
    loss_ax.set_ylabel("loss (per example, mean)")
    losses = [*history.get("loss", []), *history.get("val_loss", [])]
    if log_scale_fits(losses):
        loss_ax.set_yscale("log")
        loss_ax.set_ylabel("loss (per example, mean; log scale)")
    if _finite(history.get("lr", [])).size:
        _learning_rate_axis(loss_ax, epochs, history["lr"])
    if metric_ax is not None:
        _curves(metric_ax, history, metrics, epochs, best_epoch)
        metric_ax.set_title("Metrics")
        bounded = all(0 <= v <= 1 for n in metrics for v in _finite(history.get(n, [])))
        metric_ax.set_ylabel("score (fraction)" if bounded else "value")
        if bounded:
            seen = np.concatenate(
                [_finite(history.get(k, [])) for n in metrics for k in (n, f"val_{n}")]
            )
            low = float(seen.min()) if seen.size else 0.0
            metric_ax.set_ylim(max(0.0, low - 0.1 * (1 - low) - 0.01), 1.005)
    fig.suptitle(title, fontweight="bold")
    return save(fig, path)


def _curves(ax, history, names, epochs, best_epoch) -> None:
    for index, name in enumerate(names):
        color = COLORS[index % len(COLORS)]
        for key, dash, label in ((name, "-", "train"), (f"val_{name}", "--", "validation")):
            if key in history and _finite(history[key]).size:
                values = np.array(
                    [v if isinstance(v, int | float) else math.nan for v in history[key]], float
                )
                marker = "osD^v<>p"[index % 8] if len(values) <= 30 else None
                ax.plot(
                    epochs[: len(values)],
                    values,
                    dash,
                    color=color,
                    marker=marker,
                    markersize=3,
                    label=f"{name} ({label})",
                )
    if best_epoch is not None:
        ax.axvline(best_epoch + 1, color="#888888", linestyle=":", label="best epoch")
    ax.set_xlabel("epoch")
    ax.set_xlim(0.5, epochs[-1] + 0.5)
    ax.xaxis.set_major_locator(pyplot().MaxNLocator(integer=True, min_n_ticks=1))
    ax.legend(loc="best", fontsize=8)


def _learning_rate_axis(ax, epochs, rates) -> None:
    twin = ax.twinx()
    values = np.array([v if isinstance(v, int | float) else math.nan for v in rates], float)
    twin.plot(
        epochs[: len(values)],
        values,
        color="#999999",
        linewidth=1.2,
        drawstyle="steps-mid",
        label="learning rate",
    )
    twin.set_ylabel("learning rate", color="#777777")
    twin.tick_params(axis="y", colors="#777777")
    if log_scale_fits(values, spread=10):
        twin.set_yscale("log")
    else:
        twin.set_ylim(0, np.nanmax(values) * 1.15 or 1.0)
    twin.spines["top"].set_visible(False)
    lines, labels = ax.get_legend_handles_labels()
    extra, extra_labels = twin.get_legend_handles_labels()
    ax.legend(lines + extra, labels + extra_labels, loc="best", fontsize=8)


def plot_gradient_flow(
    layer_norms: Mapping[str, Sequence[float | None]],
    steps: Sequence[int],
    path: str | os.PathLike,
    title: str = "Gradient flow per layer over training",
) -> Path:
    """One line per layer: its gradient norm at each recorded training step (log scale).

    A layer whose line sits orders of magnitude below the others is vanishing; one
    that climbs steeply is exploding.

    Example:
        >>> import tempfile
        >>> norms = {"0": [1e-3, 2e-3, 1e-3], "2": [0.5, 0.4, 0.3]}
        >>> plot_gradient_flow(norms, [0, 10, 20], tempfile.mkdtemp() + "/flow.png").name
        'flow.png'
    """
    fig, ax = figure(8.0, 4.4)
    cmap = _layer_colors(len(layer_norms))
    for index, (layer, norms) in enumerate(layer_norms.items()):
        values = np.array([math.nan if v is None else v for v in norms], float)
        values[values <= 0] = math.nan
        x = np.asarray(steps[: len(values)])
        if len(values) < 30:
            ax.plot(x, values, "-o", color=cmap[index], linewidth=1.4, markersize=3, label=layer)
            continue
        # Step-to-step noise hides the trend: faint raw norms, a geometric moving average on top.
        ax.plot(x, values, color=cmap[index], linewidth=0.8, alpha=0.3)
        ax.plot(x, _moving_geometric_mean(values, max(3, len(values) // 15)), color=cmap[index],
                linewidth=2.0, label=layer)  # fmt: skip
    if any(len(norms) >= 30 for norms in layer_norms.values()):
        ax.plot([], [], color="#888888", linewidth=0.8, alpha=0.5, label="(faint: each step)")
    ax.set_yscale("log")
    ax.set_xlabel("training step (optimizer updates)")
    ax.set_ylabel("gradient L2 norm (log scale)")
    ax.set_title(title, fontweight="bold")
    ax.legend(
        title="layer (input → output)",
        fontsize=8,
        title_fontsize=8,
        loc="center left",
        bbox_to_anchor=(1.01, 0.5),
    )
    return save(fig, path)


def _moving_geometric_mean(values: np.ndarray, window: int) -> np.ndarray:
    """A centred moving average of log10(values), NaN-aware, back on the original scale."""
    logs = np.log10(values)
    finite = np.isfinite(logs)
    kernel = np.ones(window)
    sums = np.convolve(np.where(finite, logs, 0.0), kernel, mode="same")
    counts = np.convolve(finite.astype(float), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return 10 ** (sums / counts)


def plot_layer_norms(
    norms: Mapping[str, float],
    path: str | os.PathLike,
    statistic: str = "mean",
    title: str = "Gradient flow per layer",
) -> Path:
    """One bar per layer (input side first): its gradient norm, on a log scale.

    Example:
        >>> import tempfile
        >>> plot_layer_norms({"0": 1e-3, "2": 0.5}, tempfile.mkdtemp() + "/bars.png").name
        'bars.png'
    """
    fig, ax = figure(max(5.0, 0.55 * len(norms) + 2.5), 4.0)
    ax.bar(
        list(norms),
        list(norms.values()),
        color=COLORS[0],
        label=f"gradient norm ({statistic} over recorded steps)",
    )
    ax.set_yscale("log")
    ax.set_xlabel("layer (input → output)")
    ax.set_ylabel("gradient L2 norm (log scale)")
    ax.set_title(title, fontweight="bold")
    ax.legend(fontsize=8)
    return save(fig, path)


def _layer_colors(count: int) -> list:
    cmap = pyplot().get_cmap("viridis")
    return [cmap(0.9 * i / max(count - 1, 1)) for i in range(count)]


def plot_activation_stats(
    layers: Sequence[Mapping],
    path: str | os.PathLike,
    title: str = "Activations per layer",
) -> Path:
    """Mean ± std of each watched layer's output (left), and the fraction of dead ReLU
    units or saturated Sigmoid/Tanh outputs (right, with the alarm threshold).

    Args:
        layers: dicts with `layer`, `kind` ("relu", "sigmoid", "tanh", "other"), `mean`,
            `std`, and `dead_fraction` / `saturated_fraction` (None where they do not apply).
        path: the PNG to write.
        title: the figure's title.

    Example:
        >>> import tempfile
        >>> rows = [{"layer": "1", "kind": "relu", "mean": 0.4, "std": 0.6,
        ...          "dead_fraction": 0.1, "saturated_fraction": None}]
        >>> plot_activation_stats(rows, tempfile.mkdtemp() + "/act.png").name
        'act.png'
    """
    fig, (left, right) = figure(11.0, 4.0, ncols=2)
    names = [f"{row['layer']}\n{row['kind']}" for row in layers]
    positions = np.arange(len(layers))
    means = np.array([row["mean"] for row in layers], float)
    stds = np.array([row["std"] for row in layers], float)
    left.errorbar(
        positions,
        means,
        yerr=stds,
        fmt="o",
        color=COLORS[0],
        capsize=4,
        label="mean ± std over units and samples",
    )
    left.axhline(0, color="#888888", linewidth=0.8)
    left.set_xticks(positions, names, fontsize=8)
    left.set_xlabel("layer (module name, kind)")
    left.set_ylabel("activation value")
    left.set_title("Output statistics")
    left.legend(fontsize=8)
    watched = [row for row in layers if row["kind"] in ("relu", "sigmoid", "tanh")] or layers
    dead = [row.get("dead_fraction") for row in watched]
    saturated = [row.get("saturated_fraction") for row in watched]
    positions = np.arange(len(watched))
    names = [f"{row['layer']}\n{row['kind']}" for row in watched]
    width = 0.38
    both = any(v is not None for v in dead) and any(v is not None for v in saturated)
    shift = width / 2 if both else 0.0  # side by side only when the model has both kinds
    if any(v is not None for v in dead):
        right.bar(positions - shift, [100 * (v or 0) for v in dead], width, color=COLORS[1],
                  label="dead ReLU units (never active)")  # fmt: skip
    if any(v is not None for v in saturated):
        right.bar(positions + shift, [100 * (v or 0) for v in saturated], width,
                  color=COLORS[3], label="saturated Sigmoid/Tanh outputs")  # fmt: skip
    right.axhline(50, color="#cc0000", linestyle="--", linewidth=1, label="alarm threshold (50%)")
    right.set_ylim(0, 100)
    right.set_xticks(positions, names, fontsize=8)
    right.set_xlabel("activation layer (module name, kind)")
    right.set_ylabel("fraction of units (%)")
    right.set_title("Dead and saturated units")
    right.legend(fontsize=8, loc="upper right")
    fig.suptitle(title, fontweight="bold")
    return save(fig, path)


def plot_lr_find(
    lrs: Sequence[float],
    losses: Sequence[float],
    suggestion: float | None,
    path: str | os.PathLike,
    title: str = "Learning-rate range test",
) -> Path:
    """Loss against learning rate (log axis) from an lr range test, with the suggested rate.

    The y axis is clipped to a little above the starting loss, so the final blow-up does
    not squash the interesting part of the curve.

    Example:
        >>> import tempfile
        >>> lrs = np.logspace(-5, 0, 50)
        >>> losses = 2 - np.exp(-((np.log10(lrs) + 2) ** 2)) + (lrs > 0.3) * 5
        >>> plot_lr_find(lrs, losses, 3e-3, tempfile.mkdtemp() + "/lr.png").name
        'lr.png'
    """
    fig, ax = figure(7.0, 4.2)
    lrs, losses = np.asarray(lrs, float), np.asarray(losses, float)
    ax.plot(lrs, losses, color=COLORS[0], linewidth=1.6, label="loss (smoothed)")
    ax.set_xscale("log")
    finite = losses[np.isfinite(losses)]
    if finite.size:
        top = finite[: max(1, finite.size // 10)].mean()
        low = finite.min()
        ax.set_ylim(low - 0.05 * (top - low + 1e-12), top + 0.25 * (top - low + 1e-12))
    if suggestion is not None:
        ax.axvline(
            suggestion, color=COLORS[1], linestyle="--", label=f"suggested lr = {suggestion:.2g}"
        )
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("training loss")
    ax.set_title(title, fontweight="bold")
    ax.legend(fontsize=9)
    return save(fig, path)
