"""The ask/tell contract that every search algorithm follows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._search_space import ParamKey, Space
from .._trial import TrialState

Outcome = float | np.ndarray | TrialState


class Algorithm:
    """Base class of search strategies: ``setup``, then ``ask``/``tell`` in any order.

    The study calls ``setup(space, seed)`` once (and again, followed by a replay
    of every finished trial, when the space grows or a study resumes). ``ask(n,
    pending)`` returns ``n`` new parameter dicts, knowing the configurations still
    running so that parallel workers never duplicate work. ``tell(params,
    outcome)`` gives the result: a loss to *minimise* (the study flips the sign
    for ``maximize``; an array of losses with several objectives) or
    ``TrialState.FAILED`` / ``TrialState.PRUNED``. A pruned trial comes with
    ``estimate``, the study's guess of its final loss from how it ranked among
    its peers when stopped; the base class learns it like a loss, so every
    model keeps learning under a pruner. Failed points are kept in ``failed``
    so that models can steer away from regions where the objective breaks.

    Subclasses write ``propose(pending)`` (one new configuration) and may
    override ``ask`` to share work across a batch.
    """

    name = "base"
    #: Whether the algorithm handles several objectives (``minimize(..., directions=[...])``).
    multi_objective = False
    #: Objectives of the study; the study sets it before ``setup``.
    n_objectives = 1

    def setup(self, space: Space, seed: int) -> None:
        """Start afresh on ``space`` with a seeded generator."""
        self.space = space
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.points: list[np.ndarray] = []  # unit-cube points of completed trials
        self.losses: list[Any] = []  # floats; arrays with several objectives
        self.failed: list[np.ndarray] = []  # unit-cube points of failed trials
        self.seen: set[ParamKey] = set()
        if self.n_objectives > 1 and not self.multi_objective:
            raise ValueError(
                f"gradwork.tune: algorithm {self.name!r} optimises one objective, and this "
                f"study has {self.n_objectives}; use 'ga' (NSGA-II), 'bayes' (ParEGO), "
                "'auto', 'random', 'sobol' or 'grid'"
            )

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

    def tell(
        self, params: Mapping[str, Any], outcome: Outcome, estimate: float | None = None
    ) -> Any:
        """Record the result of ``params``: a loss, or FAILED / PRUNED (with ``estimate``).

        Returns the loss learned (the estimate for a pruned trial), or None.
        """
        self.seen.add(self.space.key(params))
        if outcome is TrialState.FAILED:
            self.failed.append(self.space.encode(params))
            return None
        if outcome is TrialState.PRUNED:
            if estimate is None or self.n_objectives > 1:
                return None
            outcome = estimate
        if isinstance(outcome, TrialState):
            return None
        loss = float(outcome) if self.n_objectives == 1 else np.asarray(outcome, dtype=float)
        self.points.append(self.space.encode(params))
        self.losses.append(loss)
        return loss

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
            if isinstance(v, (int, float, str, bool)) and k not in ("seed", "n_objectives")
        )
        return f"{type(self).__name__}({shown})"
