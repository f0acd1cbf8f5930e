"""``Space``: a checked, ordered dict of distributions with conditional parameters."""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from typing import Any

import numpy as np

from ._distributions import Categorical, Distribution, Float, Int

ParamKey = tuple[tuple[str, Hashable], ...]


def _check_distribution(name: Any, distribution: Any) -> None:
    if not isinstance(name, str):
        raise TypeError(f"gradwork.tune: parameter name {name!r} must be a string")
    if not isinstance(distribution, (Float, Int, Categorical)):
        raise TypeError(
            f"gradwork.tune: space[{name!r}] is {distribution!r}; expected Float(low, high), "
            "Int(low, high) or Categorical(choices)"
        )


def _order(space: Mapping[str, Distribution]) -> list[str]:
    """Names with every parent before its children; rejects unknown parents and cycles."""
    for name, distribution in space.items():
        if distribution.when is None:
            continue
        parent, value = distribution.when
        if parent not in space:
            raise ValueError(
                f"gradwork.tune: space[{name!r}] has when=({parent!r}, {value!r}) but there is "
                f"no parameter {parent!r}; add it or fix the name (known: {sorted(space)})"
            )
        if not space[parent].contains(value):
            raise ValueError(
                f"gradwork.tune: space[{name!r}] has when=({parent!r}, {value!r}) but "
                f"{parent!r} can never take {value!r} ({space[parent]})"
            )
    ordered: list[str] = []
    remaining = list(space)
    while remaining:
        ready = [n for n in remaining if space[n].when is None or space[n].when[0] in ordered]
        if not ready:
            raise ValueError(f"gradwork.tune: conditional parameters form a cycle: {remaining}")
        ordered += ready
        remaining = [n for n in remaining if n not in ready]
    return ordered


class Space(Mapping):
    """An immutable mapping name -> distribution, ordered parents first.

    Example:
        >>> space = Space({"opt": Categorical(["sgd", "adam"]),
        ...                "momentum": Float(0, 1, when=("opt", "sgd"))})
        >>> space.decode([0.9, 0.3])
        {'opt': 'adam'}
        >>> space.decode([0.1, 0.3])
        {'opt': 'sgd', 'momentum': 0.3}
    """

    def __init__(self, distributions: Mapping[str, Distribution] | None = None) -> None:
        distributions = dict(distributions or {})
        for name, distribution in distributions.items():
            _check_distribution(name, distribution)
        self._names = _order(distributions)
        self._distributions = {name: distributions[name] for name in self._names}

    def __getitem__(self, name: str) -> Distribution:
        return self._distributions[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"Space({self._distributions!r})"

    @property
    def names(self) -> list[str]:
        """Parameter names, every parent before its children."""
        return list(self._names)

    def is_active(self, name: str, params: Mapping[str, Any]) -> bool:
        """Whether ``name`` exists given the values of its (already decided) parents."""
        when = self._distributions[name].when
        return when is None or (when[0] in params and params[when[0]] == when[1])

    def decode(self, unit: Any) -> dict[str, Any]:
        """Real values (active parameters only) for a point of the unit cube."""
        params: dict[str, Any] = {}
        for name, position in zip(self._names, np.asarray(unit, dtype=float), strict=False):
            if self.is_active(name, params):
                params[name] = self._distributions[name].decode(float(position))
        return params

    def encode(self, params: Mapping[str, Any], fill: float = 0.5) -> np.ndarray:
        """The unit-cube point of ``params``; parameters that are absent get ``fill``."""
        point = np.full(len(self._names), fill)
        for i, name in enumerate(self._names):
            if name in params:
                point[i] = self._distributions[name].encode(params[name])
        return point

    def key(self, params: Mapping[str, Any]) -> ParamKey:
        """A hashable identity of a configuration (to spot duplicates)."""
        return tuple((name, params[name]) for name in self._names if name in params)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` uniform points of the unit cube, shape ``(n, len(self))``."""
        return rng.random((n, len(self._names)))

    def size(self) -> float:
        """Number of distinct configurations (``inf`` when a Float has a range)."""
        total = 1.0
        for distribution in self._distributions.values():
            if isinstance(distribution, Float):
                if distribution.low != distribution.high:
                    return float("inf")
            else:
                total *= distribution.size + (distribution.when is not None)
        return total

    def check(self, params: Mapping[str, Any]) -> None:
        """Raise ValueError if ``params`` does not fit the space."""
        for name in self._names:
            active = self.is_active(name, params)
            if active and name in params and not self._distributions[name].contains(params[name]):
                raise ValueError(
                    f"gradwork.tune: {name}={params[name]!r} is outside {self._distributions[name]}"
                )

    def merged(self, extra: Mapping[str, Distribution]) -> Space:
        """A new space with ``extra`` distributions added (define-by-run)."""
        return Space({**self._distributions, **extra})
