"""``algorithm="auto"``: pick an algorithm from the space and the budget.

The rules follow OptunaHub's AutoSampler and our benchmarks
(benchmarks/README_tune.md):

- several objectives: ``bayes`` (ParEGO) for budgets up to ``gp_budget`` trials,
  ``ga`` (NSGA-II) beyond;
- a define-by-run objective (the space grows while it runs) or only
  categoricals: ``tpe``, whose kernels handle them natively;
- otherwise, conditional spaces included, ``bayes`` (a GP) for the first
  ``gp_budget`` trials, then ``tpe``, because a GP's cost grows as n^3 and its
  lead shrinks with many trials. (On the mixed/conditional benchmark ``bayes``
  reaches regret 0.000 at 30 trials, ``tpe`` 0.025.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._distributions import Categorical
from .._search_space import Space
from ._base import Algorithm
from ._bayes import Bayes
from ._evolution import GA
from ._tpe import TPE


class Auto(Algorithm):
    """Delegates to ``bayes``, ``tpe`` or ``ga`` by the space, objectives and budget.

    Args:
        budget: Trials the study will run (``minimize`` sets it from ``n_trials``).
        gp_budget: Up to this many trials a GP is worth its cost.

    Example:
        >>> from gradwork.tune import Float, Space
        >>> auto = Auto(budget=30)
        >>> auto.setup(Space({"x": Float(0, 1)}), seed=0)
        >>> auto.chosen
        'bayes'
    """

    name = "auto"
    multi_objective = True

    def __init__(self, budget: int | None = None, gp_budget: int = 200) -> None:
        self.budget = budget
        self.gp_budget = gp_budget

    def choose(self, space: Space, told: int) -> str:
        """The name of the algorithm to use on ``space`` after ``told`` trials."""
        budget = self.budget if self.budget is not None else self.gp_budget
        if self.n_objectives > 1:
            return "bayes" if budget <= self.gp_budget else "ga"
        categorical = all(isinstance(space[name], Categorical) for name in space.names)
        if not len(space) or categorical or self._grown:
            return "tpe"
        return "bayes" if told < self.gp_budget else "tpe"

    def setup(self, space: Space, seed: int) -> None:
        self._grown = getattr(self, "_grown", False) or (
            hasattr(self, "space") and set(space) != set(self.space)
        )
        super().setup(space, seed)
        self._history: list[tuple[Mapping[str, Any], Any, dict[str, Any]]] = []
        self._start(self.choose(space, 0))

    def _start(self, chosen: str) -> None:
        self.chosen = chosen
        self.inner = {"bayes": Bayes, "tpe": TPE, "ga": GA}[chosen]()
        self.inner.n_objectives = self.n_objectives
        self.inner.setup(self.space, self.seed)
        for params, outcome, extra in self._history:
            self._tell_inner(params, outcome, extra)

    def ask(self, n: int, pending: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
        chosen = self.choose(self.space, len(self._history))
        if chosen != self.chosen:
            self._start(chosen)
        return self.inner.ask(n, pending)

    def tell(
        self, params: Mapping[str, Any], outcome: Any, estimate: float | None = None,
        progress: tuple[int, float] | None = None,
    ) -> Any:  # fmt: skip
        super().tell(params, outcome, estimate)
        extra = {"estimate": estimate, "progress": progress}
        self._history.append((dict(params), outcome, extra))
        return self._tell_inner(params, outcome, extra)

    def _tell_inner(self, params: Mapping[str, Any], outcome: Any, extra: dict) -> Any:
        if not isinstance(self.inner, TPE):  # only TPE ranks pruned trials by progress
            extra = {"estimate": extra["estimate"]}
        return self.inner.tell(params, outcome, **extra)

    def __repr__(self) -> str:
        return f"Auto(chosen={getattr(self, 'chosen', None)!r})"
