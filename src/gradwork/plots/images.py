"""Plots of what a model does: confusion matrix, mistakes, filters, decision boundaries,
reconstructions and attention maps. Inputs are NumPy arrays (or a predict function)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from gradwork.plots._mpl import COLORS, figure, pyplot, save


def _names(count: int, names: Sequence[str] | None) -> list[str]:
    return [str(n) for n in names] if names is not None else [str(i) for i in range(count)]


def precision_recall(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-class precision and recall from a confusion matrix (rows true, columns predicted).

    Example:
        >>> precision_recall(np.array([[8, 2], [1, 9]]))
        (array([0.88888889, 0.81818182]), array([0.8, 0.9]))
    """
    matrix = np.asarray(matrix, float)
    diagonal = np.diag(matrix)
    with np.errstate(invalid="ignore", divide="ignore"):
        return diagonal / matrix.sum(axis=0), diagonal / matrix.sum(axis=1)


def plot_confusion_matrix(
    matrix: np.ndarray,
    path: str | os.PathLike,
    class_names: Sequence[str] | None = None,
    title: str = "Confusion matrix (validation data)",
) -> Path:
    """The confusion matrix (counts, coloured by share of the true class) beside
    per-class precision and recall.

    Example:
        >>> import tempfile
        >>> plot_confusion_matrix(np.array([[8, 2], [1, 9]]), tempfile.mkdtemp() + "/cm.png").name
        'cm.png'
    """
    matrix = np.asarray(matrix)
    count = matrix.shape[0]
    names = _names(count, class_names)
    side = max(4.2, 0.45 * count + 2.5)
    fig, (left, right) = figure(side + 5.5, side, ncols=2, gridspec_kw={"width_ratios": [1, 1.1]})
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    image = left.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    left.grid(False)
    for (row, column), value in np.ndenumerate(matrix):
        color = "white" if shares[row, column] > 0.6 else "black"
        left.text(
            column,
            row,
            str(value),
            ha="center",
            va="center",
            color=color,
            fontsize=8 if count > 8 else 10,
        )
    left.set_xticks(range(count), names, rotation=45 if count > 10 else 0)
    left.set_yticks(range(count), names)
    left.set_xlabel("predicted class")
    left.set_ylabel("true class")
    left.set_title("counts (colour: share of the true class)")
    fig.colorbar(image, ax=left, fraction=0.046, pad=0.04, label="share of the row")
    precision, recall = precision_recall(matrix)
    positions, width = np.arange(count), 0.38
    right.bar(positions - width / 2, precision, width, color=COLORS[0], label="precision")
    right.bar(positions + width / 2, recall, width, color=COLORS[1], label="recall")
    low = np.nanmin(np.concatenate([precision, recall, [1.0]]))
    right.set_ylim(max(0.0, low - 0.1), 1.0)
    right.set_xticks(positions, names)
    right.set_xlabel("class")
    right.set_ylabel("score (fraction)")
    right.set_title("per-class precision and recall")
    right.legend(loc="lower right", fontsize=9)
    fig.suptitle(title, fontweight="bold")
    return save(fig, path)


def _as_image(sample: np.ndarray) -> tuple[np.ndarray, str | None]:
    """(H, W) grey or (H, W, 3) colour, in [0, 1], from (C, H, W), (H, W) or flat square."""
    sample = np.asarray(sample, float)
    if sample.ndim == 1:
        side = math.isqrt(sample.size)
        sample = sample.reshape(side, side) if side * side == sample.size else sample[None]
    if sample.ndim == 3:
        sample = sample[0] if sample.shape[0] == 1 else np.moveaxis(sample[:3], 0, -1)
    low, high = sample.min(), sample.max()
    sample = (sample - low) / (high - low) if high > low else np.zeros_like(sample)
    return sample, ("gray_r" if sample.ndim == 2 else None)


def is_image_batch(shape: Sequence[int]) -> bool:
    """True for sample shapes that are pictures: (C, H, W) with C in 1..4 and H, W >= 5.

    Example:
        >>> is_image_batch((1, 8, 8)), is_image_batch((2,)), is_image_batch((3, 32, 32))
        (True, False, True)
    """
    return len(shape) == 3 and shape[0] in (1, 3, 4) and min(shape[1:]) >= 5


def plot_misclassified(
    images: np.ndarray,
    true: Sequence[int],
    predicted: Sequence[int],
    path: str | os.PathLike,
    class_names: Sequence[str] | None = None,
    confidence: Sequence[float] | None = None,
    title: str = "Misclassified validation examples",
    limit: int = 24,
) -> Path:
    """A grid of wrongly predicted examples, each captioned "true → predicted (confidence)".

    Example:
        >>> import tempfile
        >>> images = np.random.default_rng(0).random((3, 1, 8, 8))
        >>> plot_misclassified(images, [1, 2, 3], [7, 5, 8], tempfile.mkdtemp() + "/m.png").name
        'm.png'
    """
    shown = min(len(images), limit)
    columns = min(8, max(shown, 1))
    rows = max(1, math.ceil(shown / columns))
    fig, axes = figure(
        1.35 * columns + 0.4, 1.55 * rows + 0.6, nrows=rows, ncols=columns, squeeze=False
    )
    names = _names(1 + int(max([*true, *predicted], default=0)), class_names)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= shown:
            continue
        picture, cmap = _as_image(images[index])
        ax.imshow(picture, cmap=cmap, interpolation="nearest")
        caption = f"{names[true[index]]} → {names[predicted[index]]}"
        if confidence is not None:
            caption += f" ({100 * confidence[index]:.0f}%)"
        ax.set_title(caption, fontsize=9, color="#b00000")
    fig.suptitle(f"{title}: true → predicted (model confidence)", fontweight="bold")
    return save(fig, path)


def plot_filters(
    weight: np.ndarray,
    path: str | os.PathLike,
    title: str = "First convolution layer's filters",
    limit: int = 64,
) -> Path:
    """Each output channel's kernel as a small picture (blue negative, red positive, one
    shared scale), or in colour for RGB inputs.

    Args:
        weight: (out_channels, in_channels, kh, kw), e.g. `model[0].weight`.

    Example:
        >>> import tempfile
        >>> w = np.random.default_rng(0).normal(size=(16, 1, 3, 3))
        >>> plot_filters(w, tempfile.mkdtemp() + "/filters.png").name
        'filters.png'
    """
    weight = np.asarray(weight, float)[:limit]
    count = weight.shape[0]
    columns = min(8, count)
    rows = math.ceil(count / columns)
    fig, axes = figure(
        1.1 * columns + 1.4, 1.1 * rows + 0.8, nrows=rows, ncols=columns, squeeze=False
    )
    bound = float(np.abs(weight).max()) or 1.0
    image = None
    for index, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        if index >= count:
            ax.axis("off")
            continue
        kernel = weight[index]
        if kernel.shape[0] == 3:  # an RGB filter: show its colours
            ax.imshow(_as_image(kernel)[0], interpolation="nearest")
        else:
            image = ax.imshow(
                kernel.mean(axis=0), cmap="RdBu_r", vmin=-bound, vmax=bound, interpolation="nearest"
            )
        ax.set_title(str(index), fontsize=8)
    if image is not None:
        fig.colorbar(image, ax=list(axes.flat), fraction=0.03, pad=0.02, label="weight")
    kernel_shape = "x".join(map(str, weight.shape[2:]))
    fig.suptitle(f"{title} ({count} filters, {kernel_shape})", fontweight="bold")
    fig.set_layout_engine("none")
    return save(fig, path, tight=False)


def plot_decision_boundary(
    points: np.ndarray,
    labels: np.ndarray,
    predict: Callable[[np.ndarray], np.ndarray],
    path: str | os.PathLike,
    title: str = "Decision boundary",
    resolution: int = 200,
) -> Path:
    """The predicted class over the plane (shaded), the boundary, and the data points
    (misclassified ones ringed in black). For 2-D inputs: moons, circles, spirals, xor.

    Args:
        points: (N, 2) inputs; labels: (N,) classes.
        predict: maps an (M, 2) float32 array to class scores (M, K) or classes (M,).

    Example:
        >>> import tempfile
        >>> x = np.random.default_rng(0).normal(size=(50, 2))
        >>> y = (x[:, 0] > 0).astype(int)
        >>> plot_decision_boundary(x, y, lambda g: (g[:, 0] > 0).astype(int),
        ...                        tempfile.mkdtemp() + "/b.png").name
        'b.png'
    """
    points, labels = np.asarray(points, float), np.asarray(labels).astype(int)
    margin = 0.1 * (points.max(axis=0) - points.min(axis=0)) + 1e-9
    low, high = points.min(axis=0) - margin, points.max(axis=0) + margin
    xs, ys = np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2).astype(np.float32)
    classes = _classes(predict(grid)).reshape(resolution, resolution)
    count = int(max(labels.max(), classes.max())) + 1
    plt = pyplot()
    colors = plt.matplotlib.colors.ListedColormap(
        COLORS[:count] if count <= len(COLORS) else plt.get_cmap("tab20").colors[:count]
    )
    fig, ax = figure(6.4, 5.4)
    levels = np.arange(count + 1) - 0.5
    ax.contourf(xs, ys, classes, levels=levels, cmap=colors, alpha=0.22)
    ax.contour(xs, ys, classes, levels=levels[1:-1], colors="#333333", linewidths=1.0)
    wrong = _classes(predict(points.astype(np.float32))) != labels
    for k in range(count):
        chosen = labels == k
        ax.scatter(
            points[chosen, 0],
            points[chosen, 1],
            s=14,
            color=colors(k),
            edgecolors="white",
            linewidths=0.3,
            label=f"class {k}",
        )
    ax.scatter(
        points[wrong, 0],
        points[wrong, 1],
        s=40,
        facecolors="none",
        edgecolors="black",
        linewidths=1.0,
        label=f"misclassified ({int(wrong.sum())})",
    )
    ax.set_xlabel("feature 1 (input units)")
    ax.set_ylabel("feature 2 (input units)")
    ax.set_title(
        f"{title}: accuracy {100 * (1 - wrong.mean()):.1f}% on the points shown",
        fontweight="bold",
        fontsize=11,
    )
    ax.legend(fontsize=8, loc="best", framealpha=0.9)
    return save(fig, path)


def _classes(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores)
    if scores.ndim == 2 and scores.shape[1] > 1:
        return scores.argmax(axis=1)
    scores = scores.reshape(len(scores))
    return (scores > 0.5).astype(int) if scores.dtype.kind == "f" else scores.astype(int)


def plot_reconstructions(
    rows: Mapping[str, np.ndarray],
    path: str | os.PathLike,
    title: str = "Autoencoder reconstructions",
    limit: int = 10,
) -> Path:
    """One labelled row of images per entry ("input", "noisy input", "dense: rebuilt", ...).

    Example:
        >>> import tempfile
        >>> images = np.random.default_rng(0).random((4, 8, 8))
        >>> plot_reconstructions({"input": images, "rebuilt": images * 0.9},
        ...                      tempfile.mkdtemp() + "/ae.png").name
        'ae.png'
    """
    columns = min(limit, min(len(images) for images in rows.values()))
    fig, axes = figure(
        1.0 * columns + 2.4, 1.0 * len(rows) + 0.7, nrows=len(rows), ncols=columns, squeeze=False
    )
    for r, (label, images) in enumerate(rows.items()):
        for c in range(columns):
            ax = axes[r, c]
            picture = np.clip(np.asarray(images[c], float).squeeze(), 0, 1)
            ax.imshow(picture, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(False)
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(
        f"{title} (columns: test images; pixel values 0 black to 1 white)",
        fontweight="bold",
        fontsize=11,
    )
    return save(fig, path)


def plot_attention(
    weights: np.ndarray,
    path: str | os.PathLike,
    queries: Sequence[str] | None = None,
    keys: Sequence[str] | None = None,
    title: str = "Attention weights",
) -> Path:
    """Heat maps of attention weights, one per head: row = query position, column = key.

    Args:
        weights: (heads, queries, keys) or (queries, keys); rows sum to 1.
        queries, keys: tick labels (tokens), optional.

    Example:
        >>> import tempfile
        >>> w = np.random.default_rng(0).random((2, 5, 5))
        >>> w /= w.sum(-1, keepdims=True)
        >>> plot_attention(w, tempfile.mkdtemp() + "/att.png").name
        'att.png'
    """
    weights = np.asarray(weights, float)
    weights = weights[None] if weights.ndim == 2 else weights
    heads = weights.shape[0]
    columns = min(4, heads)
    rows = math.ceil(heads / columns)
    size = max(2.8, min(5.0, 0.3 * weights.shape[2] + 1.5))
    fig, axes = figure(
        size * columns + 1.2, size * rows + 0.6, nrows=rows, ncols=columns, squeeze=False
    )
    image, top = None, float(weights.max()) or 1.0  # one colour scale for every head
    for head, ax in enumerate(axes.flat):
        ax.grid(False)
        if head >= heads:
            ax.axis("off")
            continue
        image = ax.imshow(weights[head], cmap="viridis", vmin=0, vmax=top, aspect="auto")
        ax.set_title(f"head {head + 1}", fontsize=10)
        ax.set_xlabel("key position")
        ax.set_ylabel("query position")
        if keys is not None:
            long = max(len(str(k)) for k in keys) > 2
            ax.set_xticks(range(len(keys)), keys, rotation=90 if long else 0, fontsize=8)
        if queries is not None:
            ax.set_yticks(range(len(queries)), queries, fontsize=8)
    fig.colorbar(image, ax=list(axes.flat), fraction=0.03, pad=0.02, label="attention weight")
    fig.suptitle(title, fontweight="bold")
    fig.set_layout_engine("none")
    return save(fig, path, tight=False)
