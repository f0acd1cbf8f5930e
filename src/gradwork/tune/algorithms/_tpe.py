"""Multivariate tree-structured Parzen estimator (TPE), in NumPy.

Split the finished trials at the ``gamma`` quantile of the loss into good and
bad; fit a Parzen estimator (a mixture with one *joint* kernel per trial plus a
wide prior component) to each; draw candidates from the good density l(x) and
keep the one with the largest l(x) / g(x). Numbers use truncated Gaussians on
[0, 1] with a Scott-style bandwidth; categoricals put most of a kernel's mass
on the trial's choice. Running trials count as bad (a constant liar), so
parallel workers spread out.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._distributions import Categorical
from .._search_space import Space
from .._trial import TrialState
from ._base import Algorithm

_erf = np.vectorize(math.erf, otypes=[float])


def latin_hypercube(rng: np.random.Generator, n: int, dims: int) -> np.ndarray:
    """``n`` points of [0, 1]^dims with one point in each of n slices per axis."""
    slices = np.argsort(rng.random((n, dims)), axis=0)
    return (slices + rng.random((n, dims))) / n


class Parzen:
    """A mixture of joint kernels over numeric and categorical coordinates."""

    def __init__(self, points: np.ndarray, space_kinds: list[int], bandwidth: float) -> None:
        # space_kinds[j] = 0 for numeric, k > 0 for a categorical with k choices.
        self.kinds = space_kinds
        self.numeric = [j for j, k in enumerate(space_kinds) if k == 0]
        n, dims = points.shape
        self.centres = np.vstack([points, np.full((1, dims), 0.5)])  # last: the prior
        sigma = bandwidth * max(n, 1) ** (-1.0 / (len(self.numeric) + 4))
        self.sigma = np.full(n + 1, sigma)
        self.sigma[-1] = 1.0
        self.weights = np.r_[np.ones(n), 1.0] / (n + 1)
        centres = self.centres[:, self.numeric]
        sig = self.sigma[:, None]
        upper = 0.5 * (1 + _erf((1 - centres) / (sig * math.sqrt(2))))
        lower = 0.5 * (1 + _erf(-centres / (sig * math.sqrt(2))))
        self.log_mass = np.log(np.maximum(upper - lower, 1e-300))

    def sample(self, rng: np.random.Generator, count: int) -> np.ndarray:
        component = rng.choice(len(self.weights), size=count, p=self.weights)
        out = np.empty((count, len(self.kinds)))
        for j, kind in enumerate(self.kinds):
            centre = self.centres[component, j]
            if kind == 0:
                out[:, j] = self._truncated(rng, centre, self.sigma[component])
            else:
                index = np.minimum((centre * kind).astype(int), kind - 1)
                keep = rng.random(count) < 0.5
                keep[component == len(self.weights) - 1] = False  # prior: uniform choice
                index = np.where(keep, index, rng.integers(0, kind, count))
                out[:, j] = (index + 0.5) / kind
        return out

    @staticmethod
    def _truncated(rng: np.random.Generator, centre: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        values = centre + sigma * rng.standard_normal(centre.shape)
        for _ in range(50):
            outside = (values < 0) | (values > 1)
            if not outside.any():
                break
            values[outside] = centre[outside] + sigma[outside] * rng.standard_normal(outside.sum())
        return np.clip(values, 0.0, 1.0)

    def log_density(self, points: np.ndarray) -> np.ndarray:
        """log p(points), shape (m,)."""
        numeric = points[:, None, self.numeric] - self.centres[None, :, self.numeric]
        sig = self.sigma[None, :, None]
        log_kernel = -0.5 * (numeric / sig) ** 2 - np.log(sig * math.sqrt(2 * math.pi))
        total = (log_kernel - self.log_mass[None]).sum(-1)
        for j, kind in enumerate(self.kinds):
            if kind == 0:
                continue
            same = (points[:, None, j] * kind).astype(int) == (
                self.centres[None, :, j] * kind
            ).astype(int)
            kernel = np.where(same, 0.5 + 0.5 / kind, 0.5 / kind)
            kernel[:, -1] = 1.0 / kind
            total = total + np.log(kernel)
        total = total + np.log(self.weights)[None]
        peak = total.max(axis=1, keepdims=True)
        return peak[:, 0] + np.log(np.exp(total - peak).sum(axis=1))


class TPE(Algorithm):
    """Multivariate TPE: sample where good trials are dense and bad ones are not.

    Args:
        n_initial: Latin-hypercube trials before the model (default ``max(5, d + 1)``).
        gamma: Fraction of trials counted as good.
        candidates: Draws from l(x) scored per ask.
        bandwidth: Kernel width on the unit axis before the ``n^(-1/(d+4))`` shrinkage.

    Example:
        >>> from gradwork.tune import Float, minimize
        >>> study = minimize(lambda p: (p["x"] - 0.3) ** 2, {"x": Float(0, 1)},
        ...                  algorithm=TPE(), n_trials=30)
        >>> abs(study.best_params["x"] - 0.3) < 0.05
        True
    """

    name = "tpe"

    def __init__(
        self, n_initial: int | None = None, gamma: float = 0.2, candidates: int = 24,
        bandwidth: float = 0.05,
    ) -> None:  # fmt: skip
        if not 0 < gamma < 1:
            raise ValueError(f"gradwork.tune.TPE: gamma={gamma}; expected 0 < gamma < 1")
        self.n_initial = n_initial
        self.gamma = gamma
        self.candidates = candidates
        self.bandwidth = bandwidth

    def setup(self, space: Space, seed: int) -> None:
        super().setup(space, seed)
        self._kinds = [
            space[name].size if isinstance(space[name], Categorical) else 0 for name in space.names
        ]
        count = self.n_initial if self.n_initial is not None else max(5, len(space) + 1)
        self._n_initial = count
        self._design = latin_hypercube(self.rng, count, len(space))
        self._pruned: list[tuple[int, float, np.ndarray]] = []  # (-step, loss, point)

    def tell(
        self, params: Any, outcome: Any, estimate: float | None = None,
        progress: tuple[int, float] | None = None,
    ) -> Any:  # fmt: skip
        """As ``Algorithm.tell``; a pruned trial's ``progress`` is ``(last step, its loss)``.

        NOTE: pruned trials rank after every completed one, those that got further
        first, then by their last loss (as Optuna's TPE does), rather than learning
        the study's ``estimate`` as a loss; the good share counts completed trials
        only (see ``propose``). Without ``progress`` (cv, no report) the estimate is
        learned as a loss. Measurements: benchmarks/README_tune.md.
        """
        if outcome is TrialState.PRUNED and progress is not None:
            self.seen.add(self.space.key(params))
            step, loss = progress
            self._pruned.append((-step, loss, self.space.encode(params)))
            return None
        return super().tell(params, outcome, estimate)

    def _ranked(self) -> tuple[np.ndarray, int]:
        """Points best first: completed by loss, then pruned by (furthest step, loss)."""
        points = [self.points[i] for i in np.argsort(self.losses, kind="stable")]
        points += [point for *_, point in sorted(self._pruned, key=lambda p: (p[0], p[1]))]
        return np.asarray(points), len(self.losses)

    def propose(self, pending: list[dict[str, Any]]) -> dict[str, Any] | None:
        started = len(self.seen) + len(pending)
        if started < self._n_initial or len(self.losses) + len(self._pruned) < 2:
            fallback = self.space.sample(self.rng, 64)
            design = self._design[started:] if started < self._n_initial else fallback
            return self.fresh(np.vstack([design, fallback]), pending)
        ranked, completed = self._ranked()
        # NOTE: the good share is taken of the completed trials: a pruner stopped the
        # others for being worse than their peers. A share of all trials would, under
        # ASHA, call good every completed trial, lucky early ones included.
        n_good = max(1, math.ceil(self.gamma * (completed if completed >= 2 else len(ranked))))
        good, bad = ranked[:n_good], ranked[n_good:]
        # Running trials count as bad (constant liar); so do failed ones, so the search
        # leaves regions where the objective breaks.
        extra = [self.space.encode(p) for p in pending] + self.failed
        if extra:
            bad = np.vstack([bad, extra])
        good_model = Parzen(good, self._kinds, self.bandwidth)
        bad_model = Parzen(bad, self._kinds, self.bandwidth)
        draws = good_model.sample(self.rng, self.candidates)
        score = good_model.log_density(draws) - bad_model.log_density(draws)
        return self.fresh(draws[np.argsort(-score)], pending)
