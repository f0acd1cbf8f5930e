"""Metrics as plain functions of `(y_true, y_pred)`, with scikit-learn's definitions.

Arguments are in scikit-learn's order (truth first). `y_pred` may be class
labels of shape (N,) or scores/logits of shape (N, C) (the arg-max is taken).
Each function accepts NumPy arrays, gradwork Tensors or lists, and returns a
Python float (or an array for `confusion_matrix` and `average=None`).

The stateful versions used by the training loop live in `gradwork.train.Metric`
and friends; they accumulate a confusion matrix or sums and call these formulas.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradwork import _arrays

AVERAGES = ("macro", "micro", "weighted", None)


def as_array(value: Any) -> np.ndarray:
    """The NumPy array under a Tensor, array or list (no copy when possible).

    Metrics are counted on the host: device data is copied there, explicitly.
    """
    return np.asarray(_arrays.to_host(getattr(value, "array", value)))


def as_labels(y_pred: Any) -> np.ndarray:
    """Class labels from labels (N,) or scores (N, C)."""
    y_pred = as_array(y_pred)
    return y_pred.argmax(axis=-1) if y_pred.ndim >= 2 else y_pred


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of samples whose predicted class equals the true class.

    Example:
        >>> accuracy([0, 1, 2, 2], [0, 2, 2, 2])
        0.75
    """
    y_true, y_pred = as_array(y_true), as_labels(y_pred)
    _check_lengths("accuracy", y_true, y_pred)
    return float((y_true == y_pred).mean())


def top_k_accuracy(y_true: Any, y_score: Any, k: int = 5) -> float:
    """Fraction of samples whose true class is among the `k` highest scores.

    NOTE: ties are broken like scikit-learn's `top_k_accuracy_score` only when
    scores are distinct; with tied scores the lower class index wins here.

    Example:
        >>> top_k_accuracy([0, 1], [[0.5, 0.3, 0.2], [0.6, 0.1, 0.3]], k=2)
        0.5
    """
    y_true, y_score = as_array(y_true), as_array(y_score)
    if y_score.ndim != 2:
        raise ValueError(
            f"top_k_accuracy: y_score must have shape (N, C), got {y_score.shape}; "
            "pass the scores or logits, not the predicted labels"
        )
    _check_lengths("top_k_accuracy", y_true, y_score)
    return float(top_k_hits(y_true, y_score, k).mean())


def top_k_hits(y_true: np.ndarray, y_score: np.ndarray, k: int) -> np.ndarray:
    """A boolean per sample: is the true class among the top `k` scores?"""
    k = min(k, y_score.shape[1])
    true_score = np.take_along_axis(y_score, y_true.reshape(-1, 1).astype(np.int64), axis=1)
    # Rank = number of classes scoring strictly higher, or equal with a lower index.
    higher = (y_score > true_score).sum(axis=1)
    index = np.arange(y_score.shape[1])
    tied_before = ((y_score == true_score) & (index < y_true.reshape(-1, 1))).sum(axis=1)
    return higher + tied_before < k


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int | None = None) -> np.ndarray:
    """Counts C[i, j] of samples with true class i predicted as class j.

    Example:
        >>> confusion_matrix([0, 1, 1], [0, 0, 1])
        array([[1, 0],
               [1, 1]])
    """
    y_true, y_pred = as_array(y_true).astype(np.int64), as_labels(y_pred).astype(np.int64)
    _check_lengths("confusion_matrix", y_true, y_pred)
    if num_classes is None:
        num_classes = int(max(y_true.max(initial=-1), y_pred.max(initial=-1))) + 1
    flat = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def precision(y_true: Any, y_pred: Any, average: str | None = "macro", num_classes=None) -> Any:
    """Of the samples predicted as a class, the fraction that truly are (sklearn's precision).

    Example:
        >>> round(precision([0, 1, 1, 2], [0, 1, 2, 2]), 4)
        0.8333
    """
    return scores_from_confusion(confusion_matrix(y_true, y_pred, num_classes), average)[0]


def recall(y_true: Any, y_pred: Any, average: str | None = "macro", num_classes=None) -> Any:
    """Of the samples of a class, the fraction predicted as it (sklearn's recall).

    Example:
        >>> round(recall([0, 1, 1, 2], [0, 1, 2, 2]), 4)
        0.8333
    """
    return scores_from_confusion(confusion_matrix(y_true, y_pred, num_classes), average)[1]


def f1_score(y_true: Any, y_pred: Any, average: str | None = "macro", num_classes=None) -> Any:
    """Harmonic mean of precision and recall per class, then averaged (sklearn's F1).

    Example:
        >>> round(f1_score([0, 1, 1, 2], [0, 1, 2, 2]), 4)
        0.7778
    """
    return scores_from_confusion(confusion_matrix(y_true, y_pred, num_classes), average)[2]


def scores_from_confusion(matrix: np.ndarray, average: str | None) -> tuple:
    """(precision, recall, F1) from a confusion matrix, averaged like scikit-learn.

    NOTE: a 0/0 (a class never predicted, or never present) counts as 0, which is
    scikit-learn's `zero_division="warn"` result, without the warning. "macro"
    averages over the classes present in truth or prediction (sklearn's labels),
    "micro" pools the counts (equal to accuracy for single-label data), and
    "weighted" weights each class by its support.
    """
    if average not in AVERAGES:
        raise ValueError(f"metrics: average must be one of {AVERAGES}, got {average!r}")
    true_positive = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0).astype(np.float64)
    support = matrix.sum(axis=1).astype(np.float64)
    if average == "micro":
        total = true_positive.sum() / max(support.sum(), 1.0)
        return total, total, total
    per_class_precision = _safe_divide(true_positive, predicted)
    per_class_recall = _safe_divide(true_positive, support)
    per_class_f1 = _safe_divide(
        2 * per_class_precision * per_class_recall, per_class_precision + per_class_recall
    )
    scores = (per_class_precision, per_class_recall, per_class_f1)
    if average is None:
        return scores
    present = (support + predicted) > 0
    if average == "macro":
        return tuple(float(s[present].mean()) if present.any() else 0.0 for s in scores)
    weights = support / max(support.sum(), 1.0)
    return tuple(float((s * weights).sum()) for s in scores)


def perplexity(y_true: Any, y_score: Any) -> float:
    """exp(mean cross-entropy in nats) of logits (..., C) at class indices (...); < 0 ignored.

    A language model's next-token logits (N, T, V) against ids (N, T) give the
    per-token perplexity: 1 for a sure and right model, C for uniform guessing.

    Example:
        >>> round(perplexity([0, 1], np.log([[0.5, 0.5], [0.5, 0.5]])), 6)
        2.0
    """
    scores = as_array(y_score).astype(np.float64)
    scores = scores.reshape(-1, scores.shape[-1])
    y_true = as_array(y_true).astype(np.int64).reshape(-1)
    keep = y_true >= 0
    scores, y_true = scores[keep], y_true[keep]
    peak = scores.max(axis=1, keepdims=True)
    log_total = np.log(np.exp(scores - peak).sum(axis=1)) + peak[:, 0]
    losses = log_total - scores[np.arange(len(y_true)), y_true]
    return float(np.exp(losses.mean())) if len(losses) else float("nan")


def mean_squared_error(y_true: Any, y_pred: Any) -> float:
    """Mean of squared differences.

    Example:
        >>> mean_squared_error([1.0, 2.0], [1.5, 1.0])
        0.625
    """
    y_true, y_pred = _regression_pair("mean_squared_error", y_true, y_pred)
    return float(((y_true - y_pred) ** 2).mean())


def mean_absolute_error(y_true: Any, y_pred: Any) -> float:
    """Mean of absolute differences.

    Example:
        >>> mean_absolute_error([1.0, 2.0], [1.5, 1.0])
        0.75
    """
    y_true, y_pred = _regression_pair("mean_absolute_error", y_true, y_pred)
    return float(np.abs(y_true - y_pred).mean())


def r2_score(y_true: Any, y_pred: Any) -> float:
    """Coefficient of determination 1 - SS_res / SS_tot (uniform average over outputs).

    NOTE: with constant targets (SS_tot = 0) scikit-learn returns 1.0 for a
    perfect fit and 0.0 otherwise; so does this.

    Example:
        >>> r2_score([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
        0.5
    """
    y_true, y_pred = _regression_pair("r2_score", y_true, y_pred)
    y_true, y_pred = y_true.reshape(len(y_true), -1), y_pred.reshape(len(y_pred), -1)
    residual = ((y_true - y_pred) ** 2).sum(axis=0)
    total = ((y_true - y_true.mean(axis=0)) ** 2).sum(axis=0)
    return r2_from_sums(residual, total)


def r2_from_sums(residual: np.ndarray, total: np.ndarray) -> float:
    """R² per output from residual and total sums of squares, averaged uniformly."""
    residual, total = np.asarray(residual, np.float64), np.asarray(total, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_output = np.where(total > 0, 1.0 - residual / total, np.where(residual > 0, 0.0, 1.0))
    return float(np.mean(per_output))


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), 0.0)


def _regression_pair(name: str, y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    y_true = as_array(y_true).astype(np.float64)
    y_pred = as_array(y_pred).astype(np.float64)
    if y_true.shape != y_pred.shape and y_true.size == y_pred.size:
        y_pred = y_pred.reshape(y_true.shape)  # (N, 1) predictions against (N,) targets
    _check_lengths(name, y_true, y_pred)
    return y_true, y_pred


def _check_lengths(name: str, y_true: np.ndarray, y_pred: np.ndarray) -> None:
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"{name}: y_true has {len(y_true)} samples but y_pred has {len(y_pred)}; "
            "pass the predictions and targets of the same batch"
        )
