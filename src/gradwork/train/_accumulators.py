"""Stateful metrics for the loop: `update(output, target)` per batch, `compute()` per epoch.

Each accumulates counts or sums as arrays (one vectorised NumPy call per batch,
no conversion to Python numbers), so the per-batch cost stays a few microseconds;
`compute()` applies the formula from `gradwork.train.metrics` once per epoch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradwork.suggest import did_you_mean
from gradwork.train import metrics as functional


class Metric:
    """Base class: subclasses set `name` and implement `reset`, `update`, `compute`.

    `state_dict()` returns the accumulators so a checkpoint taken mid-epoch
    resumes with the same epoch metrics.
    """

    name = "metric"
    _state_names: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        raise NotImplementedError

    def update(self, output: Any, target: Any) -> None:
        raise NotImplementedError

    def compute(self) -> Any:
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {name: getattr(self, name) for name in self._state_names}

    def load_state_dict(self, state: dict) -> None:
        for name in self._state_names:
            setattr(self, name, state[name])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class Accuracy(Metric):
    """Running accuracy.

    Example:
        >>> metric = Accuracy()
        >>> metric.update([[0.1, 0.9], [0.8, 0.2]], [1, 1])
        >>> metric.compute()
        0.5
    """

    name = "accuracy"
    _state_names = ("correct", "count")

    def reset(self) -> None:
        self.correct, self.count = 0, 0

    def update(self, output: Any, target: Any) -> None:
        target = functional.as_array(target)
        self.correct = self.correct + (functional.as_labels(output) == target).sum()
        self.count += target.size  # per element: a language model's (N, T) targets count N*T

    def compute(self) -> float:
        return float(self.correct) / max(self.count, 1)


class TopKAccuracy(Accuracy):
    """Running top-k accuracy (the true class among the k highest scores)."""

    def __init__(self, k: int = 5) -> None:
        self.k = k
        self.name = f"top{k}_accuracy"
        super().__init__()

    def update(self, output: Any, target: Any) -> None:
        target = functional.as_array(target)
        hits = functional.top_k_hits(target, functional.as_array(output), self.k)
        self.correct = self.correct + hits.sum()
        self.count += len(target)


class ConfusionMatrix(Metric):
    """Running confusion matrix; grows when a larger class index appears."""

    name = "confusion_matrix"
    _state_names = ("matrix",)

    def __init__(self, num_classes: int | None = None) -> None:
        self.num_classes = num_classes
        super().__init__()

    def reset(self) -> None:
        self.matrix = np.zeros((self.num_classes or 0,) * 2, dtype=np.int64)

    def update(self, output: Any, target: Any) -> None:
        output = functional.as_array(output)
        labels = functional.as_labels(output).astype(np.int64)
        target = functional.as_array(target).astype(np.int64)
        size = max(len(self.matrix), int(max(labels.max(initial=-1), target.max(initial=-1))) + 1)
        if output.ndim >= 2:
            size = max(size, output.shape[-1])
        if size > len(self.matrix):
            grown = np.zeros((size, size), dtype=np.int64)
            grown[: len(self.matrix), : len(self.matrix)] = self.matrix
            self.matrix = grown
        self.matrix += np.bincount(target * size + labels, minlength=size * size).reshape(size, -1)

    def compute(self) -> np.ndarray:
        return self.matrix.copy()


class _ConfusionScore(ConfusionMatrix):
    """Precision, recall or F1 read off a running confusion matrix."""

    _which = 0

    def __init__(self, average: str | None = "macro", num_classes: int | None = None) -> None:
        if average not in functional.AVERAGES:
            raise ValueError(
                f"{type(self).__name__}: average must be one of {functional.AVERAGES}, "
                f"got {average!r}"
            )
        self.average = average
        self.name = self.base_name if average == "macro" else f"{self.base_name}_{average}"
        super().__init__(num_classes)

    def compute(self) -> Any:
        return functional.scores_from_confusion(self.matrix, self.average)[self._which]


class Precision(_ConfusionScore):
    """Running precision (macro by default)."""

    base_name, _which = "precision", 0


class Recall(_ConfusionScore):
    """Running recall (macro by default)."""

    base_name, _which = "recall", 1


class F1Score(_ConfusionScore):
    """Running F1 score (macro by default).

    Example:
        >>> metric = F1Score()
        >>> metric.update([0, 1, 2], [0, 1, 1]); metric.update([2], [2])
        >>> round(metric.compute(), 4)
        0.7778
    """

    base_name, _which = "f1", 2


class MeanSquaredError(Metric):
    """Running mean squared error over all elements."""

    name = "mse"
    _state_names = ("total", "count")

    def reset(self) -> None:
        self.total, self.count = 0.0, 0

    def update(self, output: Any, target: Any) -> None:
        difference = _difference(output, target)
        self.total = self.total + self._term(difference).sum(dtype=np.float64)
        self.count += difference.size

    @staticmethod
    def _term(difference: np.ndarray) -> np.ndarray:
        return difference * difference

    def compute(self) -> float:
        return float(self.total) / max(self.count, 1)


class MeanAbsoluteError(MeanSquaredError):
    """Running mean absolute error over all elements."""

    name = "mae"

    @staticmethod
    def _term(difference: np.ndarray) -> np.ndarray:
        return np.abs(difference)


class R2Score(Metric):
    """Running R² from per-output sums (NOTE: float64 sums keep SS_tot = Σy² - (Σy)²/n exact
    enough; for targets with a huge mean relative to their spread prefer the functional form).
    """

    name = "r2"
    _state_names = ("count", "sum", "sum_squares", "residual")

    def reset(self) -> None:
        self.count, self.sum, self.sum_squares, self.residual = 0, 0.0, 0.0, 0.0

    def update(self, output: Any, target: Any) -> None:
        target = functional.as_array(target).astype(np.float64)
        target = target.reshape(len(target), -1)
        difference = _difference(output, target)
        self.count += len(target)
        self.sum = self.sum + target.sum(axis=0)
        self.sum_squares = self.sum_squares + (target * target).sum(axis=0)
        self.residual = self.residual + (difference * difference).sum(axis=0, dtype=np.float64)

    def compute(self) -> float:
        total = self.sum_squares - self.sum * self.sum / max(self.count, 1)
        return functional.r2_from_sums(self.residual, np.maximum(total, 0.0))


class Perplexity(Metric):
    """exp(mean cross-entropy in nats) of logits (..., C) at integer targets (...).

    For a language model, targets (N, T) and logits (N, T, V): the mean is over
    every position. Targets below 0 (cross-entropy's ignore_index) are skipped.

    Example:
        >>> metric = Perplexity()
        >>> metric.update(np.zeros((2, 3, 4)), np.zeros((2, 3), np.int64))
        >>> round(metric.compute(), 6)  # uniform over 4 classes
        4.0
    """

    name = "perplexity"
    _state_names = ("total", "count")

    def reset(self) -> None:
        self.total, self.count = 0.0, 0

    def update(self, output: Any, target: Any) -> None:
        logits = functional.as_array(output).astype(np.float64)
        target = functional.as_array(target).astype(np.int64)
        logits = logits.reshape(-1, logits.shape[-1])
        target = target.reshape(-1)
        keep = target >= 0
        logits, target = logits[keep], target[keep]
        peak = logits.max(axis=-1, keepdims=True)
        log_total = np.log(np.exp(logits - peak).sum(axis=-1)) + peak[:, 0]
        self.total = self.total + float((log_total - logits[np.arange(len(target)), target]).sum())
        self.count += len(target)

    def compute(self) -> float:
        return float(np.exp(self.total / max(self.count, 1)))


def _difference(output: Any, target: Any) -> np.ndarray:
    output, target = functional.as_array(output), functional.as_array(target)
    if output.shape != target.shape and output.size == target.size:
        output = output.reshape(target.shape)  # (N, 1) predictions against (N,) targets
    return output - target


_FACTORIES = {
    "accuracy": Accuracy,
    "top5_accuracy": lambda: TopKAccuracy(5),
    "top3_accuracy": lambda: TopKAccuracy(3),
    "precision": Precision,
    "recall": Recall,
    "f1": F1Score,
    "precision_micro": lambda: Precision("micro"),
    "recall_micro": lambda: Recall("micro"),
    "f1_micro": lambda: F1Score("micro"),
    "f1_weighted": lambda: F1Score("weighted"),
    "mse": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "r2": R2Score,
    "perplexity": Perplexity,
}
METRIC_NAMES = tuple(_FACTORIES)


def get_metric(metric: str | Metric) -> Metric:
    """A fresh metric from its name (see `METRIC_NAMES`), or the metric itself.

    Example:
        >>> get_metric("f1_micro").name
        'f1_micro'
    """
    if isinstance(metric, Metric):
        return metric
    if metric not in _FACTORIES:
        hint = did_you_mean(str(metric), METRIC_NAMES)
        raise ValueError(
            f"gradwork.train: unknown metric {metric!r}; known metrics are "
            f"{', '.join(METRIC_NAMES)}.{hint}"
        )
    return _FACTORIES[metric]()
