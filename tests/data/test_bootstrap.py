"""bootstrap resamples and bootstrap_ci: out-of-bag correctness, interval coverage."""

import numpy as np
import pytest

from gradwork.data import ConfidenceInterval, TensorDataset, bootstrap, bootstrap_ci


def test_bootstrap_out_of_bag_is_exactly_the_undrawn_indices():
    pairs = list(bootstrap(TensorDataset(np.arange(50)), n_resamples=20, seed=3))
    assert len(pairs) == 20
    for sample, oob in pairs:
        assert len(sample) == 50 and sample.min() >= 0 and sample.max() < 50
        assert set(oob) == set(range(50)) - set(sample)
        assert np.all(np.diff(oob) > 0)
    assert len({tuple(s) for s, _ in pairs}) == 20  # every resample differs


def test_bootstrap_out_of_bag_share_is_about_e_inverse():
    shares = [len(oob) / 2000 for _, oob in bootstrap(2000, n_resamples=30, seed=0)]
    assert abs(np.mean(shares) - np.exp(-1)) < 0.01


def test_bootstrap_reproducible_and_sample_size():
    a = [s.tolist() for s, _ in bootstrap(10, n_resamples=3, seed=1)]
    b = [s.tolist() for s, _ in bootstrap(10, n_resamples=3, seed=1)]
    assert a == b
    sample, _ = next(bootstrap(10, n_resamples=1, sample_size=4))
    assert len(sample) == 4


def test_bootstrap_ci_mean_coverage_on_normal_samples():
    rng = np.random.default_rng(0)
    covered = 0
    for repetition in range(200):
        data = rng.normal(loc=3.0, scale=2.0, size=40)
        estimate, low, high = bootstrap_ci(np.mean, data, n_resamples=300, seed=repetition)
        assert low <= estimate <= high
        covered += low <= 3.0 <= high
    assert 0.90 * 200 <= covered <= 0.99 * 200, covered


@pytest.mark.parametrize("method", ["percentile", "basic", "bca"])
def test_bootstrap_ci_methods_agree_roughly_with_normal_theory(method):
    data = np.random.default_rng(1).normal(size=200)
    estimate, low, high = bootstrap_ci(np.mean, data, n_resamples=2000, method=method)
    half_width = 1.96 * data.std(ddof=1) / np.sqrt(200)
    assert estimate == pytest.approx(data.mean())
    assert low == pytest.approx(estimate - half_width, abs=0.03)
    assert high == pytest.approx(estimate + half_width, abs=0.03)


def test_bootstrap_ci_resamples_pairs_together():
    y_true = np.random.default_rng(2).integers(0, 2, 300)
    y_pred = y_true.copy()
    y_pred[:60] = 1 - y_pred[:60]  # exactly 80% accurate

    def accuracy(t, p):
        return np.mean(t == p)

    estimate, low, high = bootstrap_ci(accuracy, y_true, y_pred, n_resamples=500)
    assert estimate == pytest.approx(0.8) and 0.74 < low < 0.8 < high < 0.86
    # A perfect predictor stays perfect under every paired resample.
    assert bootstrap_ci(accuracy, y_true, y_true, n_resamples=50) == (1.0, 1.0, 1.0)


def test_bootstrap_ci_wider_for_higher_confidence():
    data = np.random.default_rng(3).exponential(size=100)
    _, low90, high90 = bootstrap_ci(np.median, data, confidence=0.90)
    _, low99, high99 = bootstrap_ci(np.median, data, confidence=0.99)
    assert low99 < low90 and high90 < high99


def test_bootstrap_ci_returns_a_confidence_interval_that_unpacks_and_prints():
    scores = np.r_[np.ones(80), np.zeros(20)]
    ci = bootstrap_ci(np.mean, scores, n_resamples=400, confidence=0.9, seed=1)
    assert isinstance(ci, ConfidenceInterval)
    estimate, low, high = ci
    assert (estimate, low, high) == (ci.estimate, ci.low, ci.high)
    assert ci.confidence == 0.9 and low < estimate == 0.8 < high
    assert str(ci).startswith("0.8 (90% CI ")


def test_bootstrap_ci_of_scores_alone_bootstraps_their_mean():
    scores = np.random.default_rng(4).normal(1.0, 1.0, 150)
    assert bootstrap_ci(scores, n_resamples=300, seed=2) == bootstrap_ci(
        np.mean, scores, n_resamples=300, seed=2
    )
