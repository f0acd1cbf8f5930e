"""The ask/tell contract that every search algorithm follows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._search_space import ParamKey, Space
from .._trial import TrialState

Outcome = float | TrialState


class Algorithm:
    """Base class of search strategies: ``setup``, then ``ask``/``tell`` in any order.

    The study calls ``setup(space, seed)`` once (and again, followed by a replay
    of every finished trial, when the space grows or a study resumes). ``ask(n,
    pending)`` returns ``n`` new parameter dicts, knowing the configurations still
    running so that parallel workers never duplicate work. ``tell(params,
    outcome)`` gives the result: a loss to *minimise* (the study flips the sign
    for ``maximize``) or ``TrialState.FAILED`` / ``TrialState.PRUNED``.

    Subclasses write ``propose(pending)`` (one new configuration) and may
    override ``ask`` to share work across a batch.
    """

    name = "base"

    def setup(self, space: Space, seed: int) -> None:
        """Start afresh on ``space`` with a seeded generator."""
        self.space = space
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.points: list[np.ndarray] = []  # unit-cube points of completed trials
        self.losses: list[float] = []
        self.seen: set[ParamKey] = set()

    def ask(self, n: int, pending: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
        """``n`` new configurations (fewer when a finite space runs out)."""
        pending = list(pending)
        asked: list[dict[str, Any]] = []
        for _ in range(n):
            params = self.propose(pending + asked)
            if params is None:
                break
            asked.append(params)
        return asked

    def propose(self, pending: list[dict[str, Any]]) -> dict[str, Any] | None:
        """One new configuration, or None when there is nothing left to try."""
        raise NotImplementedError

    def tell(self, params: Mapping[str, Any], outcome: Outcome) -> None:
        """Record the result of ``params``: a loss, or FAILED / PRUNED."""
        self.seen.add(self.space.key(params))
        if not isinstance(outcome, TrialState):
            self.points.append(self.space.encode(params))
            self.losses.append(float(outcome))

    def taken(self, pending: Sequence[Mapping[str, Any]]) -> set[ParamKey]:
        """Keys of configurations finished or running."""
        return self.seen | {self.space.key(params) for params in pending}

    def fresh(self, units: np.ndarray, pending: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """The first decoded point of ``units`` that is not taken.

        If every one is taken (the candidates collapsed onto finished trials),
        a few random points are tried before accepting a repeat: repeating a
        finished configuration would waste the trial.
        """
        taken = self.taken(pending)
        for batch in (units, None):
            if batch is None:  # drawn only now, so the usual path uses no randomness
                batch = self.space.sample(self.rng, 32)
            for unit in batch:
                params = self.space.decode(unit)
                if self.space.key(params) not in taken:
                    return params
        return self.space.decode(units[0])

    def __repr__(self) -> str:
        options = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        shown = ", ".join(
            f"{k}={v!r}"
            for k, v in options.items()
            if isinstance(v, (int, float, str, bool)) and k != "seed"
        )
        return f"{type(self).__name__}({shown})"
