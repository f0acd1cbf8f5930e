"""Model-free algorithms: random search, scrambled Sobol points and grid search."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._search_space import Space
from ._base import Algorithm


def require_scipy(what: str) -> Any:
    """Import SciPy or say how to get it."""
    try:
        import scipy  # noqa: F401
    except ImportError as error:  # pragma: no cover - scipy is present in CI
        raise ImportError(
            f"gradwork.tune: {what} needs SciPy; install it with `python -m pip install scipy` "
            "(or, from a clone of gradwork, `python -m pip install '.[tune]'`); the algorithms "
            "tpe, random, grid, ga, de and pso work without it"
        ) from error
    import scipy.optimize
    import scipy.stats.qmc

    return scipy


class Random(Algorithm):
    """Independent uniform samples of the unit cube (log parameters in log space).

    In a finite space it skips configurations that are done or running.

    Example:
        >>> from gradwork.tune import Float, Space
        >>> algorithm = Random()
        >>> algorithm.setup(Space({"x": Float(0, 1)}), seed=0)
        >>> len(algorithm.ask(3))
        3
    """

    name = "random"
    multi_objective = True

    def propose(self, pending: list[dict[str, Any]]) -> dict[str, Any] | None:
        return self.fresh(self.space.sample(self.rng, 64), pending)


class Sobol(Algorithm):
    """Scrambled Sobol points (``scipy.stats.qmc``): even coverage, no model.

    Args:
        scramble: Owen scrambling with the study seed (keep it on).
    """

    name = "sobol"
    multi_objective = True

    def __init__(self, scramble: bool = True) -> None:
        self.scramble = scramble

    def setup(self, space: Space, seed: int) -> None:
        super().setup(space, seed)
        scipy = require_scipy("algorithm='sobol'")
        self._engine = scipy.stats.qmc.Sobol(max(len(space), 1), scramble=self.scramble, seed=seed)
        self._issued: set = set()

    def _draw(self) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # balance warning: we draw one at a time on purpose
            return self._engine.random(1)[0][: len(self.space)]

    def propose(self, pending: list[dict[str, Any]]) -> dict[str, Any] | None:
        params = self.fresh(np.vstack([self._draw(), self.space.sample(self.rng, 64)]), pending)
        self._issued.add(self.space.key(params))
        return params

    def tell(self, params: Mapping[str, Any], outcome: Any, estimate: float | None = None) -> Any:
        key = self.space.key(params)
        if key not in self._issued:
            self._draw()  # a replayed trial: move along the sequence as if we had asked it
        return super().tell(params, outcome, estimate)


class Grid(Algorithm):
    """Every combination of levels, each handed out once, in a seeded shuffled order.

    Args:
        levels: Levels per Float/Int (an int for all, or a dict name -> int).
            Ints with fewer values and Categoricals use all their values.
        shuffle: Visit the grid in random order (better when the budget is smaller
            than the grid); False walks it in order.

    Example:
        >>> from gradwork.tune import Categorical, Int, Space
        >>> grid = Grid(shuffle=False)
        >>> grid.setup(Space({"a": Int(0, 1), "b": Categorical(["x", "y"])}), seed=0)
        >>> grid.ask(5)
        [{'a': 0, 'b': 'x'}, {'a': 0, 'b': 'y'}, {'a': 1, 'b': 'x'}, {'a': 1, 'b': 'y'}]
    """

    name = "grid"
    multi_objective = True

    def __init__(self, levels: int | Mapping[str, int] = 5, shuffle: bool = True) -> None:
        self.levels = levels
        self.shuffle = shuffle

    def _levels(self, name: str) -> int:
        levels = self.levels.get(name, 5) if isinstance(self.levels, Mapping) else self.levels
        if int(levels) < 1:
            raise ValueError(f"gradwork.tune.Grid: levels for {name!r} is {levels}; expected >= 1")
        return int(levels)

    def setup(self, space: Space, seed: int) -> None:
        super().setup(space, seed)
        configurations = [{}]
        for name in space.names:
            values = space[name].grid(self._levels(name))
            grown = []
            for params in configurations:
                if not space.is_active(name, params):
                    grown.append(params)
                    continue
                grown += [{**params, name: value} for value in values]
            configurations = grown
        if self.shuffle:
            order = self.rng.permutation(len(configurations))
            configurations = [configurations[i] for i in order]
        self.configurations = configurations
        self._keys = [space.key(params) for params in configurations]

    def propose(self, pending: list[dict[str, Any]]) -> dict[str, Any] | None:
        taken = self.taken(pending)
        for key, params in zip(self._keys, self.configurations, strict=False):
            if key not in taken:
                return dict(params)
        return None
