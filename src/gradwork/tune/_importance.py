"""Parameter importance by the variance of binned marginal means.

Method (a functional-ANOVA "lite", no surrogate model): for each parameter,
group the completed trials by its value — categoricals by choice, numbers into
``bins`` quantile bins (of the log value for log parameters), and "absent" for
trials where a conditional parameter is inactive. The mean objective in each
group is the parameter's marginal effect; the count-weighted variance of these
group means is the variance it explains (the between-group sum of squares).
Importances are these variances divided by their sum, so they add up to 1.
Small-sample noise makes every parameter look a little important: below
``min_trials(space)`` completed trials (10, or 2 per parameter plus 4) the
shares are refused with a ValueError rather than reported, and
``return_std=True`` adds a bootstrap standard deviation (resampling the
trials) to each share, so a reader sees how far to trust it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._distributions import Categorical
from ._search_space import Space


def _groups(space: Space, name: str, trials: Sequence[Any], bins: int) -> np.ndarray:
    distribution = space[name]
    labels = np.full(len(trials), -1)
    present = [i for i, trial in enumerate(trials) if name in trial.params]
    if not present:
        return labels
    if isinstance(distribution, Categorical):
        for i in present:
            labels[i] = distribution.index(trials[i].params[name])
        return labels
    positions = np.array([distribution.encode(trials[i].params[name]) for i in present])
    edges = np.quantile(positions, np.linspace(0, 1, bins + 1)[1:-1])
    labels[present] = np.searchsorted(edges, positions, side="right")
    return labels


MIN_TRIALS = 10
BOOTSTRAP_ROUNDS = 200


def min_trials(space: Space) -> int:
    """Completed trials needed before importance is reported for ``space``."""
    return max(MIN_TRIALS, 2 * len(space) + 4)


def importance(
    space: Space, trials: Sequence[Any], bins: int = 4, return_std: bool = False, seed: int = 0
) -> dict[str, Any]:
    """``{name: share}`` over completed ``trials``, largest first, summing to 1.

    With ``return_std=True``: ``{name: (share, bootstrap standard deviation)}``.

    Example:
        >>> from types import SimpleNamespace as T
        >>> from gradwork.tune import Float, Space
        >>> space = Space({"a": Float(0, 1), "b": Float(0, 1)})
        >>> trials = [T(params={"a": a, "b": b}, value=10 * a + 0.1 * b)
        ...           for a in np.linspace(0, 1, 5) for b in np.linspace(0, 1, 5)]
        >>> shares = importance(space, trials)
        >>> shares["a"] > 0.99
        True
    """
    needed = min_trials(space)
    if len(trials) < needed:
        raise ValueError(
            f"gradwork.tune: importance needs at least {needed} completed trials for "
            f"{len(space)} parameters, got {len(trials)}; with fewer the shares are noise "
            "(run more trials, or prune less aggressively)"
        )
    shares = _shares(space, trials, bins)
    if not return_std:
        return shares
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(BOOTSTRAP_ROUNDS):
        sample = [trials[i] for i in rng.integers(0, len(trials), len(trials))]
        draws.append(_shares(space, sample, bins))
    return {
        name: (share, float(np.std([draw[name] for draw in draws], ddof=1)))
        for name, share in shares.items()
    }


def _shares(space: Space, trials: Sequence[Any], bins: int) -> dict[str, float]:
    values = np.array([float(trial.value) for trial in trials])
    mean = values.mean()
    explained = {}
    for name in space.names:
        labels = _groups(space, name, trials, bins)
        between = 0.0
        for label in np.unique(labels):
            members = values[labels == label]
            between += members.size * (members.mean() - mean) ** 2
        explained[name] = between
    total = sum(explained.values())
    if total <= 0:
        return {name: 1.0 / len(space) for name in space.names}
    ranked = sorted(explained.items(), key=lambda item: -item[1])
    return {name: float(share / total) for name, share in ranked}
