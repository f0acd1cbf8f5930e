"""Bootstrap resampling: resample indices with out-of-bag sets, and confidence intervals."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from statistics import NormalDist
from typing import Any

import numpy as np

from gradwork.data.loader import make_generator
from gradwork.data.splits import _n_samples


def bootstrap(
    dataset_or_n: Any, n_resamples: int = 100, seed: int | None = 0, sample_size: int | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield `(sample_indices, out_of_bag_indices)` for `n_resamples` bootstrap resamples.

    Each resample draws `sample_size` (default: n) indices with replacement;
    the out-of-bag indices are those never drawn (sorted), about 36.8% of n
    for large n. Use them to estimate error on data the resample did not see.

    Args:
        dataset_or_n: A data set or a number of samples.
        n_resamples: How many resamples to yield.
        seed: Seed of the draws (None: gradwork's stream).
        sample_size: Indices per resample (default: n).

    Example:
        >>> sample, oob = next(bootstrap(5, n_resamples=1, seed=0))
        >>> len(sample), bool(np.isin(oob, sample).any())
        (5, False)
    """
    n = _n_samples(dataset_or_n, "bootstrap")
    size = n if sample_size is None else sample_size
    if n <= 0 or size <= 0:
        raise ValueError(f"bootstrap: needs at least one sample, got n={n}, sample_size={size}")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 1:
        raise ValueError(f"bootstrap: n_resamples must be a positive int, got {n_resamples!r}")
    rng = make_generator(None, seed, "bootstrap")
    for _ in range(n_resamples):
        sample = rng.integers(0, n, size=size)
        drawn = np.zeros(n, dtype=bool)
        drawn[sample] = True
        yield sample, np.flatnonzero(~drawn)


def _as_arrays(arrays: tuple, owner: str) -> list[np.ndarray]:
    if not arrays:
        raise ValueError(
            f"{owner}: pass the data to resample, e.g. bootstrap_ci(fn, y_true, y_pred)"
        )
    arrays = [np.asarray(getattr(a, "array", a)) for a in arrays]
    lengths = [len(a) if a.ndim else None for a in arrays]
    if None in lengths or len(set(lengths)) != 1 or lengths[0] == 0:
        raise ValueError(
            f"{owner}: every array must have the same non-zero length along dimension 0 "
            f"(rows are resampled together), got lengths {lengths}"
        )
    return arrays


def _jackknife_acceleration(metric_fn: Callable, arrays: list[np.ndarray]) -> float:
    n = len(arrays[0])
    keep = ~np.eye(n, dtype=bool)
    values = np.array([float(metric_fn(*(a[keep[i]] for a in arrays))) for i in range(n)])
    spread = values.mean() - values
    denominator = 6.0 * (spread**2).sum() ** 1.5
    return float((spread**3).sum() / denominator) if denominator > 0 else 0.0


class ConfidenceInterval(tuple):
    """`(estimate, low, high)`, unpackable as a 3-tuple, with the `confidence` it covers.

    Example:
        >>> ci = ConfidenceInterval(0.8, 0.7, 0.9, 0.95)
        >>> estimate, low, high = ci
        >>> print(ci)
        0.8 (95% CI 0.7 to 0.9)
    """

    def __new__(cls, estimate: float, low: float, high: float, confidence: float):
        interval = super().__new__(cls, (float(estimate), float(low), float(high)))
        interval.confidence = confidence
        return interval

    estimate = property(lambda self: self[0])
    low = property(lambda self: self[1])
    high = property(lambda self: self[2])

    def __str__(self) -> str:
        percent = round(100 * self.confidence)
        return f"{self.estimate:.4g} ({percent}% CI {self.low:.4g} to {self.high:.4g})"


def bootstrap_ci(
    metric_fn: Callable[..., Any] | Any,
    *arrays: Any,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int | None = 0,
    method: str = "percentile",
) -> ConfidenceInterval:
    """A bootstrap confidence interval for any metric of paired arrays.

    Rows of all arrays are resampled together (so `(y_true, y_pred)` pairs
    stay paired), the metric is recomputed on every resample, and the
    interval is read off the resampled values.

    Args:
        metric_fn: Function of the arrays returning a number, e.g. accuracy; or,
            with no arrays after it, per-example scores whose mean is bootstrapped
            (`bootstrap_ci(scores)` is `bootstrap_ci(np.mean, scores)`).
        *arrays: Arrays (or Tensors) with the same length.
        n_resamples: Number of bootstrap resamples.
        confidence: Coverage of the interval, in (0, 1).
        seed: Seed of the resampling (None: gradwork's stream).
        method: "percentile" (quantiles of the resampled metric), "basic"
            (reflected around the estimate) or "bca" (bias-corrected and
            accelerated; costs n extra metric calls for the jackknife).

    Returns:
        A `ConfidenceInterval`: `(estimate, low, high)`, the metric on the full
        data and the interval (also `.estimate`, `.low`, `.high`, `.confidence`).
        For per-example scores, pass `np.mean` as the metric.

    Example:
        >>> y = np.r_[np.ones(80), np.zeros(20)]
        >>> estimate, low, high = bootstrap_ci(np.mean, y, n_resamples=500)
        >>> estimate, low < 0.8 < high
        (0.8, True)
    """
    if method not in ("percentile", "basic", "bca"):
        raise ValueError(
            f"bootstrap_ci: method must be 'percentile', 'basic' or 'bca', got {method!r}"
        )
    if not 0 < confidence < 1:
        raise ValueError(f"bootstrap_ci: confidence must lie in (0, 1), got {confidence!r}")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 2:
        raise ValueError(f"bootstrap_ci: n_resamples must be an int >= 2, got {n_resamples!r}")
    if not callable(metric_fn) and not arrays:  # per-example scores: their mean
        metric_fn, arrays = np.mean, (metric_fn,)
    arrays = _as_arrays(arrays, "bootstrap_ci")
    estimate = float(metric_fn(*arrays))
    n = len(arrays[0])
    rng = make_generator(None, seed, "bootstrap_ci")
    values = np.empty(n_resamples)
    for r in range(n_resamples):
        rows = rng.integers(0, n, size=n)
        values[r] = float(metric_fn(*(a[rows] for a in arrays)))
    alpha = (1.0 - confidence) / 2.0
    levels = np.array([alpha, 1.0 - alpha])
    if method == "bca":
        levels = _bca_levels(values, estimate, levels, _jackknife_acceleration(metric_fn, arrays))
    low, high = np.quantile(values, levels)
    if method == "basic":
        low, high = 2 * estimate - high, 2 * estimate - low
    return ConfidenceInterval(estimate, low, high, confidence)


def _bca_levels(
    values: np.ndarray, estimate: float, levels: np.ndarray, acceleration: float
) -> np.ndarray:
    normal = NormalDist()
    # NOTE: clip the share below the estimate away from 0 and 1 so inv_cdf stays finite.
    below = np.clip(np.mean(values < estimate), 1.0 / len(values), 1 - 1.0 / len(values))
    bias = normal.inv_cdf(float(below))
    adjusted = []
    for level in levels:
        z = bias + normal.inv_cdf(float(level))
        adjusted.append(normal.cdf(bias + z / (1 - acceleration * z)))
    return np.array(adjusted)
