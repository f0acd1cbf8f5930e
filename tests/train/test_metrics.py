"""Metrics against scikit-learn's definitions, with the expected numbers worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

import gradwork as gw
from gradwork import train
from gradwork.train import metrics as M
from tests.helpers import to_numpy

# y_true / y_pred used by the classification cases below.
# Confusion matrix (rows true, columns predicted):
#   class 0: [2, 1, 0]    class 1: [0, 1, 1]    class 2: [1, 0, 2]
TRUE = [0, 0, 0, 1, 1, 2, 2, 2]
PRED = [0, 0, 1, 1, 2, 0, 2, 2]
# precision per class: 2/3, 1/2, 2/3   recall: 2/3, 1/2, 2/3   F1: 2/3, 1/2, 2/3
# supports 3, 2, 3 (weighted = (3*2/3 + 2*1/2 + 3*2/3)/8 = 5/8)

CASES = [
    # (name, function, kwargs, expected)
    ("accuracy", M.accuracy, {}, 5 / 8),
    ("precision_macro", M.precision, {}, (2 / 3 + 1 / 2 + 2 / 3) / 3),
    ("recall_macro", M.recall, {}, (2 / 3 + 1 / 2 + 2 / 3) / 3),
    ("f1_macro", M.f1_score, {}, (2 / 3 + 1 / 2 + 2 / 3) / 3),
    ("precision_micro", M.precision, {"average": "micro"}, 5 / 8),
    ("f1_micro", M.f1_score, {"average": "micro"}, 5 / 8),
    ("f1_weighted", M.f1_score, {"average": "weighted"}, 5 / 8),
]


@pytest.mark.parametrize("name,function,kwargs,expected", CASES, ids=[c[0] for c in CASES])
def test_classification_values(name, function, kwargs, expected):
    assert function(TRUE, PRED, **kwargs) == pytest.approx(expected, abs=1e-12)


def test_unbalanced_precision_recall_differ():
    # class 0: TP=1 FP=2 FN=0 -> P=1/3 R=1 F1=1/2 ; class 1: TP=1 FP=0 FN=2 -> P=1 R=1/3 F1=1/2
    y_true, y_pred = [0, 1, 1, 1], [0, 0, 0, 1]
    assert M.precision(y_true, y_pred) == pytest.approx((1 / 3 + 1) / 2)
    assert M.recall(y_true, y_pred) == pytest.approx((1 + 1 / 3) / 2)
    assert M.f1_score(y_true, y_pred) == pytest.approx(0.5)
    np.testing.assert_allclose(M.precision(y_true, y_pred, average=None), [1 / 3, 1])


def test_zero_division_counts_zero_like_sklearn():
    # class 2 is never predicted: precision 0 (sklearn's zero_division result), recall 0.
    y_true, y_pred = [0, 1, 2], [0, 1, 1]
    assert M.precision(y_true, y_pred) == pytest.approx((1 + 1 / 2 + 0) / 3)
    assert M.recall(y_true, y_pred) == pytest.approx((1 + 1 + 0) / 3)


def test_confusion_matrix_and_logits():
    expected = np.array([[2, 1, 0], [0, 1, 1], [1, 0, 2]])
    np.testing.assert_array_equal(M.confusion_matrix(TRUE, PRED), to_numpy(expected))
    logits = np.eye(3)[PRED] * 5.0 - 1.0
    assert M.accuracy(gw.tensor(TRUE), gw.tensor(logits)) == 5 / 8
    np.testing.assert_array_equal(
        to_numpy(M.confusion_matrix(TRUE, logits, num_classes=4)[:3, :3]), to_numpy(expected)
    )


def test_top_k_accuracy():
    scores = [[0.1, 0.5, 0.4], [0.3, 0.3, 0.4], [0.7, 0.2, 0.1]]
    # ranks of the true class: sample0 class2 -> 2nd; sample1 class0 -> tie with class1,
    # lower index wins -> 2nd; sample2 class2 -> 3rd.
    assert M.top_k_accuracy([2, 0, 2], scores, k=1) == 0.0
    assert M.top_k_accuracy([2, 0, 2], scores, k=2) == pytest.approx(2 / 3)
    assert M.top_k_accuracy([2, 0, 2], scores, k=3) == 1.0


def test_regression_values():
    y_true, y_pred = [3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0]
    # sklearn docs' example: MSE 0.375, MAE 0.5, R² 0.9486081370449679
    assert M.mean_squared_error(y_true, y_pred) == pytest.approx(0.375)
    assert M.mean_absolute_error(y_true, y_pred) == pytest.approx(0.5)
    assert M.r2_score(y_true, y_pred) == pytest.approx(0.9486081370449679)
    assert M.r2_score([1.0, 1.0], [1.0, 1.0]) == 1.0
    assert M.r2_score([1.0, 1.0], [1.0, 2.0]) == 0.0


def test_length_mismatch_message():
    with pytest.raises(ValueError, match="y_true has 2 samples but y_pred has 3"):
        M.accuracy([0, 1], [0, 1, 1])


STATEFUL = [
    ("accuracy", lambda t, p: M.accuracy(t, p)),
    ("precision", lambda t, p: M.precision(t, p)),
    ("recall", lambda t, p: M.recall(t, p)),
    ("f1", lambda t, p: M.f1_score(t, p)),
    ("f1_micro", lambda t, p: M.f1_score(t, p, average="micro")),
    ("f1_weighted", lambda t, p: M.f1_score(t, p, average="weighted")),
    ("top3_accuracy", lambda t, p: M.top_k_accuracy(t, p, k=3)),
    ("perplexity", lambda t, p: M.perplexity(t, p)),
]


@pytest.mark.parametrize("name,reference", STATEFUL, ids=[s[0] for s in STATEFUL])
def test_accumulators_equal_functional_over_batches(name, reference):
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 5, 50)
    scores = rng.standard_normal((50, 5))
    metric = train.get_metric(name)
    for start in range(0, 50, 16):
        metric.update(scores[start : start + 16], y_true[start : start + 16])
    assert metric.compute() == pytest.approx(reference(y_true, scores), abs=1e-12)
    metric.reset()
    metric.update(scores[:10], y_true[:10])
    assert metric.compute() == pytest.approx(reference(y_true[:10], scores[:10]), abs=1e-12)


@pytest.mark.parametrize(
    "name,reference",
    [("mse", M.mean_squared_error), ("mae", M.mean_absolute_error), ("r2", M.r2_score)],
)
def test_regression_accumulators(name, reference):
    rng = np.random.default_rng(2)
    y_true = rng.standard_normal(40) * 3 + 1
    y_pred = (y_true + rng.standard_normal(40)).reshape(-1, 1).astype(np.float32)
    metric = train.get_metric(name)
    for start in range(0, 40, 16):
        metric.update(y_pred[start : start + 16], y_true[start : start + 16])
    assert metric.compute() == pytest.approx(reference(y_true, y_pred), rel=1e-6)


def test_every_metric_name_has_a_test():
    tested = {s[0] for s in STATEFUL} | {"mse", "mae", "r2"}
    untested = (
        set(train.METRIC_NAMES) - tested - {"top5_accuracy", "precision_micro", "recall_micro"}
    )
    assert not untested


def test_unknown_metric_suggests():
    with pytest.raises(ValueError, match="Did you mean 'accuracy'"):
        train.get_metric("acuracy")
