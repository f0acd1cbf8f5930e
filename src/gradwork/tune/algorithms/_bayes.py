"""Bayesian optimisation: a GP surrogate and log expected improvement.

Each ask: fit the GP (``_gp.py``) to the standardised losses, add running
trials as "lies" (constant liar), score log-EI on scrambled Sobol candidates
plus points near the best trials, refine the best one, others drawn in
proportion to EI and the best observed point with L-BFGS-B (analytic gradients,
lengthscale-preconditioned, categoricals held fixed), and decode the winner. The first
``n_initial`` trials are Sobol points.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gradwork.ops.kernels.threads import single_threaded_blas

from .._distributions import Categorical
from .._search_space import Space
from .._trial import TrialState
from ._base import Algorithm
from ._gp import GaussianProcess
from ._simple import require_scipy

LOG_2PI_HALF = 0.5 * math.log(2 * math.pi)
LOG_PI_2_HALF = 0.5 * math.log(math.pi / 2)


def log_h(z: np.ndarray) -> np.ndarray:
    """``log(phi(z) + z * Phi(z))`` without underflow (Ament et al., 2023, eq. 9)."""
    special = require_scipy("algorithm='bayes'").special
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    upper = z > -1
    zu = z[upper]
    out[upper] = np.log(np.exp(-0.5 * zu * zu - LOG_2PI_HALF) + zu * special.ndtr(zu))
    middle = ~upper & (z > -1e4)
    zm = z[middle]
    exponent = np.log(special.erfcx(-zm / math.sqrt(2)) * np.abs(zm)) + LOG_PI_2_HALF
    out[middle] = -0.5 * zm * zm - LOG_2PI_HALF + _log1mexp(exponent)
    far = z <= -1e4
    out[far] = -0.5 * z[far] ** 2 - LOG_2PI_HALF - 2 * np.log(np.abs(z[far]))
    return out


def _log1mexp(x: np.ndarray) -> np.ndarray:
    """``log(1 - exp(x))`` for ``x < 0``, accurate at both ends."""
    x = np.minimum(x, -1e-300)
    return np.where(x > -math.log(2), np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


def log_expected_improvement(gp: GaussianProcess, points: np.ndarray, best: float, gradient=False):
    """logEI of minimisation below ``best`` at ``points`` (and its gradient)."""
    special = require_scipy("algorithm='bayes'").special
    if not gradient:
        mean, variance = gp.predict(points)
        sigma = np.sqrt(variance)
        return log_h((best - mean) / sigma) + np.log(sigma)
    mean, variance, mean_gradient, variance_gradient = gp.predict(points, gradient=True)
    sigma = np.sqrt(variance)
    z = (best - mean) / sigma
    value = log_h(z) + np.log(sigma)
    ratio = np.exp(special.log_ndtr(z) - log_h(z))  # d log_h / dz = Phi(z) / h(z)
    sigma_gradient = variance_gradient / (2 * sigma[:, None])
    z_gradient = -(mean_gradient + z[:, None] * sigma_gradient) / sigma[:, None]
    return value, ratio[:, None] * z_gradient + sigma_gradient / sigma[:, None]


class Features:
    """Unit-cube points -> GP inputs: numbers as they are, categoricals one-hot."""

    def __init__(self, space: Space) -> None:
        self.space = space
        distributions = [space[name] for name in space.names]
        self.numeric = [i for i, d in enumerate(distributions) if not isinstance(d, Categorical)]
        self.categorical = [
            (i, d.size) for i, d in enumerate(distributions) if isinstance(d, Categorical)
        ]

    def mask(self, units: np.ndarray) -> np.ndarray:
        """Put inactive conditional coordinates at 0.5, as ``Space.encode`` does."""
        names = self.space.names
        active = np.ones(units.shape, dtype=bool)
        for column, name in enumerate(names):
            when = self.space[name].when
            if when is None:
                continue
            parent = names.index(when[0])
            values = [self.space[when[0]].decode(u) for u in units[:, parent]]
            matches = np.array([value == when[1] for value in values], dtype=bool)
            active[:, column] = active[:, parent] & matches
        return np.where(active, units, 0.5)

    def __call__(self, units: np.ndarray) -> np.ndarray:
        blocks = [units[:, self.numeric]]
        for column, size in self.categorical:
            index = np.minimum((units[:, column] * size).astype(int), size - 1)
            blocks.append(np.eye(size)[index])
        return np.concatenate(blocks, axis=1)


class Bayes(Algorithm):
    """GP-based Bayesian optimisation with log expected improvement.

    Args:
        n_initial: Sobol points before the GP takes over (default
            ``min(10, d + 4)`` for ``d`` parameters: few, so the model starts early).
        candidates: Sobol candidates scored per ask.
        restarts: Candidates refined with L-BFGS-B: the best one plus others drawn
            with probability proportional to their EI.
        liar: Value given to running trials: ``"min"``, ``"mean"`` or ``"max"`` of
            the observed losses (constant liar).
        local: Also score candidates drawn close to the five best trials.
        prior: GP hyperparameter prior, ``"default"`` or ``"dimension-scaled"``
            (see ``_gp.py``).
        incumbent_starts: Best observed points also refined with L-BFGS-B.
        fit_restarts: Extra hyperparameter fits from random starts; 0 warm-starts
            only from the previous fit (Optuna's choice, and better on Hartmann6).

    Example:
        >>> from gradwork.tune import Float, minimize
        >>> study = minimize(lambda p: (p["x"] - 0.3) ** 2, {"x": Float(0, 1)},
        ...                  algorithm=Bayes(), n_trials=12)
        >>> abs(study.best_params["x"] - 0.3) < 0.01
        True
    """

    name = "bayes"

    def __init__(
        self, n_initial: int | None = None, candidates: int = 2048, restarts: int = 9,
        liar: str = "min", local: bool = True, prior: str = "default",
        incumbent_starts: int = 1, fit_restarts: int = 0,
    ) -> None:  # fmt: skip
        self.fit_restarts = fit_restarts
        self.local = local
        self.incumbent_starts = incumbent_starts
        self.prior = prior
        if liar not in ("min", "mean", "max"):
            raise ValueError(f"gradwork.tune.Bayes: liar={liar!r}; expected 'min', 'mean' or 'max'")
        self.n_initial = n_initial
        self.candidates = candidates
        self.restarts = restarts
        self.liar = liar

    def setup(self, space: Space, seed: int) -> None:
        super().setup(space, seed)
        scipy = require_scipy("algorithm='bayes'")
        self._sobol = scipy.stats.qmc.Sobol(max(len(space), 1), scramble=True, seed=seed)
        self._initial = self._sobol.random(64)[:, : len(space)]
        self._features = Features(space)
        self._gp = GaussianProcess(self.prior)
        self._fitted_on = -1
        self._conditional = any(space[name].when is not None for name in space.names)
        dims = len(space)
        self._n_initial = self.n_initial if self.n_initial is not None else min(10, dims + 4)
        self._pruned: list[np.ndarray] = []  # unit points of trials a pruner stopped

    def tell(self, params: Mapping[str, Any], outcome: Any) -> None:
        super().tell(params, outcome)
        if outcome is TrialState.PRUNED:
            self._pruned.append(self.space.encode(params))

    def propose(self, pending: list[dict[str, Any]]) -> dict[str, Any] | None:
        started = len(self.seen) + len(pending)
        if len(self.losses) < 2 or started < self._n_initial:
            return self.fresh(self._initial[started % 64 :], pending)
        unit = self._maximise(pending)
        return self.fresh(np.vstack([unit[None, :], self.space.sample(self.rng, 64)]), pending)

    def _model(self, pending: list[dict[str, Any]]) -> tuple[GaussianProcess, float]:
        losses = np.asarray(self.losses)
        center, scale = losses.mean(), losses.std() or 1.0
        y = (losses - center) / scale
        x = self._features(np.asarray(self.points))
        if self._fitted_on != len(y):
            self._gp.fit(x, y, seed=int(self.rng.integers(2**31)), restarts=self.fit_restarts)
            self._fitted_on = len(y)
        # Running trials get the constant lie. NOTE: pruned trials have no final
        # value, but a pruner stopped them for doing worse than their peers, so
        # they count as the worst loss seen; left out, the GP would keep
        # proposing the region a pruner just rejected (a corner, trial after trial).
        lie = {"min": y.min(), "mean": 0.0, "max": y.max()}[self.liar]
        extra = [(self.space.encode(p), lie) for p in pending]
        extra += [(point, y.max()) for point in self._pruned]
        if extra:
            points = self._features(np.array([point for point, _ in extra]))
            values = np.array([value for _, value in extra])
            self._gp.condition(np.vstack([x, points]), np.r_[y, values])
        else:
            self._gp.condition(x, y)
        return self._gp, float(y.min())

    def _candidates(self) -> np.ndarray:
        dims = len(self.space)
        sobol = self._sobol.random(self.candidates)[:, :dims]
        order = np.argsort(self.losses)[:5]
        best = np.asarray(self.points)[order]
        scales = np.array([0.1, 0.03, 0.01])[None, :, None, None]
        noise = scales * self.rng.standard_normal((len(best), 3, 40, dims))
        local = np.clip((best[:, None, None, :] + noise).reshape(-1, dims), 0.0, 1.0)
        categorical = [column for column, _ in self._features.categorical]
        local[:, categorical] = np.repeat(best, 120, axis=0)[:, categorical]
        units = np.vstack([sobol, local]) if self.local else sobol
        return self._features.mask(units) if self._conditional else units

    def _maximise(self, pending: list[dict[str, Any]]) -> np.ndarray:
        gp, best = self._model(pending)
        units = self._candidates()
        scores = log_expected_improvement(gp, self._features(units), best)
        starts = np.vstack([units[self._start_indices(scores)], self._incumbents()])
        if not self._features.numeric:
            return starts[0]
        refined = self._refine(gp, best, starts)
        final = log_expected_improvement(gp, self._features(refined), best)
        return refined[int(np.argmax(final))]

    def _start_indices(self, scores: np.ndarray) -> np.ndarray:
        """The best candidate plus others drawn with probability proportional to their EI.

        NOTE: drawing (rather than taking the top scores) spreads the local searches over
        several basins of the acquisition; the top few usually sit in the same one.
        """
        top = int(np.argmax(scores))
        weights = np.exp(scores - scores[top])
        weights[top] = 0.0
        count = min(self.restarts - 1, int(np.count_nonzero(weights > 0)))
        if count <= 0:
            return np.array([top])
        drawn = self.rng.choice(len(scores), size=count, replace=False, p=weights / weights.sum())
        return np.r_[top, drawn]

    def _incumbents(self) -> np.ndarray:
        """The best observed points: local search from them exploits near the incumbent."""
        order = np.argsort(self.losses)[: self.incumbent_starts]
        return np.asarray(self.points)[order]

    def _refine(self, gp: GaussianProcess, best: float, starts: np.ndarray) -> np.ndarray:
        """L-BFGS-B on the numeric coordinates of each start (categoricals held fixed).

        NOTE: coordinates are divided by the GP lengthscales (Optuna's preconditioning), so
        the acquisition is equally curved in every direction and L-BFGS-B stops sensibly.
        """
        scipy = require_scipy("algorithm='bayes'")
        numeric = self._features.numeric
        scale = gp.lengthscales[: len(numeric)]
        refined = starts.copy()
        for row, start in enumerate(starts):
            unit = start[None, :].copy()

            def negative(scaled: np.ndarray, unit=unit) -> tuple[float, np.ndarray]:
                unit[0, numeric] = scaled * scale
                value, gradient = log_expected_improvement(
                    gp, self._features(unit), best, gradient=True
                )
                return -float(value[0]), -gradient[0, : len(numeric)] * scale

            result = scipy.optimize.minimize(
                negative, start[numeric] / scale, jac=True, method="L-BFGS-B",
                bounds=[(0.0, 1.0 / s) for s in scale], options={"maxiter": 200, "gtol": 1e-2},
            )  # fmt: skip
            refined[row, numeric] = np.clip(result.x * scale, 0.0, 1.0)
        return refined

    def ask(self, n: int, pending: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
        with single_threaded_blas():
            return super().ask(n, pending)
