"""A Gaussian process with a Matern-5/2 ARD kernel, fitted by maximum a posteriori.

Inputs live in [0, 1] (one-hot for categoricals); outputs are standardised by
the caller. Hyperparameters (per-dimension lengthscales, signal variance, noise
variance) are optimised in log space with L-BFGS-B on the exact log marginal
likelihood plus log priors, with analytic gradients and one Cholesky per step.

Priors (``prior="default"``): on each inverse squared lengthscale
``lam = 1 / l**2`` the log density ``-(0.1 / lam + 0.1 * lam)``, which keeps
lengthscales roughly in [0.2, 5] on the unit cube so no dimension is declared
irrelevant from a handful of points; Gamma(2, 1) on the signal variance and
Gamma(1.1, 30) on the noise variance (objectives are usually near-deterministic),
as densities of the variances (no log-space Jacobian); noise = 1e-6 + exp(raw).
These are Optuna's GPSampler priors: on the same data the fits agree to 2 digits.
``prior="dimension-scaled"``
uses LogNormal(sqrt(2) + log(D)/2, sqrt(3)) lengthscales (Hvarfner et al., 2024)
with LogNormal(0, 1) signal and an exponential noise prior; on our benchmarks
it was a little better on Branin and worse on Hartmann6.
"""

from __future__ import annotations

import math

import numpy as np

from ._simple import require_scipy

SQRT5 = math.sqrt(5.0)
NOISE_FLOOR = 1e-6
NOISE_RATE = 100.0
MAX_LENGTHSCALE = 100.0
PRIORS = ("default", "dimension-scaled")


def matern52(distance: np.ndarray) -> np.ndarray:
    """Matern-5/2 correlation of scaled distance ``r``."""
    root = SQRT5 * distance
    return (1.0 + root + root * root / 3.0) * np.exp(-root)


def matern52_slope(distance: np.ndarray) -> np.ndarray:
    """``-(dk/dr) / r``: the factor shared by every gradient (finite at r = 0)."""
    root = SQRT5 * distance
    return (5.0 / 3.0) * (1.0 + root) * np.exp(-root)


class GaussianProcess:
    """Exact GP regression; ``fit`` finds hyperparameters, ``condition`` caches the solve.

    Example:
        >>> x = np.linspace(0, 1, 8)[:, None]
        >>> gp = GaussianProcess().fit(x, np.sin(6 * x[:, 0]), seed=0)
        >>> mean, variance = gp.predict(np.array([[0.5]]))
        >>> bool(abs(mean[0] - np.sin(3.0)) < 0.05)
        True
    """

    def __init__(self, prior: str = "default") -> None:
        if prior not in PRIORS:
            raise ValueError(f"gradwork.tune: GP prior={prior!r}; expected one of {PRIORS}")
        self.prior = prior
        self.theta: np.ndarray | None = None

    def _unpack(self, theta: np.ndarray) -> tuple[np.ndarray, float, float]:
        # NOTE: the noise is NOISE_FLOOR + exp(raw), so the optimiser can approach the floor
        # without the log-parameter running to -inf.
        noise = NOISE_FLOOR + math.exp(theta[-1])
        return np.exp(theta[:-2]), float(np.exp(theta[-2])), noise

    def _log_prior(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        dims = theta.size - 2
        gradient = np.zeros_like(theta)
        if self.prior == "default":
            inverse = np.exp(-2 * theta[:-2])
            value = -float((0.1 / inverse + 0.1 * inverse).sum())
            gradient[:-2] = -0.2 / inverse + 0.2 * inverse
        else:
            loc, scale = math.sqrt(2.0) + 0.5 * math.log(max(dims, 1)), math.sqrt(3.0)
            z = (theta[:-2] - loc) / scale
            value = -0.5 * float(z @ z)
            gradient[:-2] = -z / scale
        if self.prior == "default":
            # Gamma(2, 1) on the signal variance, Gamma(1.1, 30) on the noise, as densities of
            # the variances themselves (no log-space Jacobian): modes at 1 and ~0.003.
            signal, excess = math.exp(theta[-2]), math.exp(theta[-1])
            noise = NOISE_FLOOR + excess
            value += theta[-2] - signal + 0.1 * math.log(noise) - 30 * noise
            gradient[-2], gradient[-1] = 1 - signal, (0.1 / noise - 30) * excess
            return value, gradient
        value -= 0.5 * theta[-2] ** 2
        gradient[-2] = -theta[-2]
        noise = math.exp(theta[-1])
        value -= NOISE_RATE * (NOISE_FLOOR + noise)
        gradient[-1] = -NOISE_RATE * noise
        return value, gradient

    def _objective(
        self, theta: np.ndarray, x: np.ndarray, y: np.ndarray
    ) -> tuple[float, np.ndarray]:
        """Negative log posterior and its gradient in ``theta``."""
        scipy = require_scipy("algorithm='bayes'")
        lengthscales, signal, noise = self._unpack(theta)
        difference2 = (x[:, None, :] - x[None, :, :]) ** 2 / lengthscales**2
        distance = np.sqrt(difference2.sum(-1))
        correlation = matern52(distance)
        kernel = signal * correlation + (noise + 1e-9) * np.eye(len(y))
        try:
            factor = scipy.linalg.cho_factor(kernel, lower=True)
        except np.linalg.LinAlgError:
            return 1e10, np.zeros_like(theta)
        alpha = scipy.linalg.cho_solve(factor, y)
        inverse = scipy.linalg.cho_solve(factor, np.eye(len(y)))
        nll = 0.5 * y @ alpha + np.log(np.diag(factor[0])).sum()
        outer = np.outer(alpha, alpha) - inverse  # d(log lik)/dK
        gradient = np.empty_like(theta)
        shared = outer * signal * matern52_slope(distance)
        gradient[:-2] = -0.5 * np.einsum("ij,ijd->d", shared, difference2)
        gradient[-2] = -0.5 * np.sum(outer * signal * correlation)
        gradient[-1] = -0.5 * np.trace(outer) * (noise - NOISE_FLOOR)
        prior, prior_gradient = self._log_prior(theta)
        return float(nll - prior), gradient - prior_gradient

    def fit(
        self, x: np.ndarray, y: np.ndarray, seed: int = 0, restarts: int = 2
    ) -> GaussianProcess:
        """MAP hyperparameters for data ``(x, y)`` (y standardised), then ``condition``."""
        scipy = require_scipy("algorithm='bayes'")
        dims = x.shape[1]
        bounds = [(math.log(0.01), math.log(MAX_LENGTHSCALE))] * dims
        bounds += [(math.log(0.01), math.log(100.0)), (math.log(1e-9), math.log(1.0))]
        rng = np.random.default_rng(seed)
        starts = [np.r_[np.full(dims, math.log(0.5)), 0.0, math.log(1e-4)]]
        if self.theta is not None and self.theta.size == dims + 2:
            starts = [self.theta] if restarts == 0 else [self.theta, *starts]
        for _ in range(restarts - 1):
            starts.append(np.r_[rng.uniform(-2.5, 1.0, dims), 0.0, math.log(1e-3)])
        best = None
        for start in starts:
            result = scipy.optimize.minimize(
                self._objective, start, args=(x, y), jac=True, method="L-BFGS-B",
                bounds=bounds, options={"maxiter": 200},
            )  # fmt: skip
            if best is None or result.fun < best.fun:
                best = result
        self.theta = best.x
        return self.condition(x, y)

    def condition(self, x: np.ndarray, y: np.ndarray) -> GaussianProcess:
        """Cache the Cholesky solve for data ``(x, y)`` with the current hyperparameters."""
        scipy = require_scipy("algorithm='bayes'")
        self.lengthscales, self.signal, self.noise = self._unpack(self.theta)
        self.x = x
        distance = self._distance(x, x)
        kernel = self.signal * matern52(distance) + (self.noise + 1e-9) * np.eye(len(x))
        self.factor = scipy.linalg.cho_factor(kernel, lower=True)
        self.alpha = scipy.linalg.cho_solve(self.factor, y)
        return self

    def _distance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        scaled_a, scaled_b = a / self.lengthscales, b / self.lengthscales
        squared = (
            (scaled_a**2).sum(1)[:, None]
            + (scaled_b**2).sum(1)[None, :]
            - 2 * scaled_a @ scaled_b.T
        )
        return np.sqrt(np.maximum(squared, 0.0))

    def predict(self, points: np.ndarray, gradient: bool = False) -> tuple:
        """Posterior mean and variance of the latent function at ``points``.

        With ``gradient=True`` also returns their gradients, shapes ``(m, D)``.
        """
        scipy = require_scipy("algorithm='bayes'")
        distance = self._distance(points, self.x)
        cross = self.signal * matern52(distance)  # (m, n)
        mean = cross @ self.alpha
        solved = scipy.linalg.cho_solve(self.factor, cross.T)  # (n, m)
        variance = np.maximum(self.signal - np.einsum("mn,nm->m", cross, solved), 1e-12)
        if not gradient:
            return mean, variance
        # d k(p, x_i) / dp = -signal * slope(r) * (p - x_i) / l^2
        weight = -self.signal * matern52_slope(distance)  # (m, n)
        difference = (points[:, None, :] - self.x[None, :, :]) / self.lengthscales**2
        mean_gradient = np.einsum("mn,mnd->md", weight * self.alpha[None, :], difference)
        variance_gradient = -2 * np.einsum("mn,mnd->md", weight * solved.T, difference)
        return mean, variance, mean_gradient, variance_gradient
