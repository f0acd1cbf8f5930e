"""Search-space distributions and the unit-cube encoding every algorithm shares.

Every parameter maps to one coordinate in [0, 1]: floats linearly (or in log
space), integers and categoricals by cutting [0, 1] into equal cells, one per
level. Algorithms search the unit cube; ``Space.decode`` turns a point back into
real values, so results never carry indices.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

When = tuple[str, Any] | None


def _check_when(when: Any, owner: str) -> None:
    if when is not None and not (isinstance(when, tuple) and len(when) == 2):
        raise ValueError(
            f"gradwork.tune.{owner}: when={when!r}; expected a pair (parent_name, value), "
            "e.g. when=('optimizer', 'sgd')"
        )


def _check_bounds(owner: str, low: float, high: float, log: bool) -> None:
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"gradwork.tune.{owner}: bounds ({low}, {high}) must be finite numbers")
    if low > high:
        raise ValueError(
            f"gradwork.tune.{owner}: low={low} is greater than high={high}; "
            "expected low <= high (swap them)"
        )
    if log and low <= 0:
        raise ValueError(
            f"gradwork.tune.{owner}: log=True needs low > 0, got low={low}; "
            "use a positive lower bound such as 1e-5, or log=False"
        )


@dataclass(frozen=True)
class Float:
    """A real parameter in ``[low, high]``, sampled uniformly or in log space.

    Args:
        low: Smallest value.
        high: Largest value.
        log: Search ``log(value)`` uniformly (learning rates, weight decay).
        when: ``(parent, value)``: the parameter exists only when ``parent == value``.

    Example:
        >>> round(Float(1e-4, 1e-1, log=True).decode(0.5), 6)
        0.003162
    """

    low: float
    high: float
    log: bool = False
    when: When = None

    def __post_init__(self) -> None:
        _check_bounds("Float", self.low, self.high, self.log)
        _check_when(self.when, "Float")

    def _ends(self) -> tuple[float, float]:
        if self.log:
            return math.log(self.low), math.log(self.high)
        return float(self.low), float(self.high)

    def decode(self, unit: float) -> float:
        """The value at position ``unit`` in [0, 1]."""
        start, end = self._ends()
        value = start + min(max(unit, 0.0), 1.0) * (end - start)
        value = math.exp(value) if self.log else value
        return float(min(max(value, self.low), self.high))

    def encode(self, value: Any) -> float:
        """The position in [0, 1] of ``value`` (inverse of ``decode``)."""
        start, end = self._ends()
        point = math.log(value) if self.log else float(value)
        return 0.5 if end == start else (point - start) / (end - start)

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a legal value of this parameter."""
        return isinstance(value, (int, float)) and self.low <= value <= self.high

    def grid(self, levels: int) -> list[float]:
        """``levels`` evenly spaced values (in log space when ``log``)."""
        if levels == 1 or self.low == self.high:
            return [self.decode(0.5)]
        return [self.decode(i / (levels - 1)) for i in range(levels)]


@dataclass(frozen=True)
class Int:
    """An integer parameter ``low, low + step, ..., <= high``.

    Args:
        low: Smallest value.
        high: Largest value (kept only if reachable from ``low`` in steps).
        log: Search in log space (layer widths); needs ``step == 1``.
        step: Spacing between values.
        when: ``(parent, value)``: the parameter exists only when ``parent == value``.

    Example:
        >>> Int(1, 9, step=2).grid(10)
        [1, 3, 5, 7, 9]
    """

    low: int
    high: int
    log: bool = False
    step: int = 1
    when: When = None

    def __post_init__(self) -> None:
        _check_bounds("Int", self.low, self.high, self.log)
        _check_when(self.when, "Int")
        if int(self.low) != self.low or int(self.high) != self.high:
            raise ValueError(
                f"gradwork.tune.Int: bounds ({self.low}, {self.high}) must be whole numbers; "
                "use Float for real values"
            )
        if self.step <= 0 or int(self.step) != self.step:
            raise ValueError(
                f"gradwork.tune.Int: step={self.step}; expected a positive whole number such as 1"
            )
        if self.log and self.step != 1:
            raise ValueError(
                f"gradwork.tune.Int: log=True with step={self.step}; log spacing needs step=1"
            )

    @property
    def size(self) -> int:
        """How many values the parameter can take."""
        return (self.high - self.low) // self.step + 1

    def _ends(self) -> tuple[float, float]:
        # Each value owns a cell of equal width, so uniform sampling is fair.
        if self.log:
            return math.log(self.low - 0.5), math.log(self.high + 0.5)
        return self.low - 0.5 * self.step, self.low + (self.size - 0.5) * self.step

    def decode(self, unit: float) -> int:
        """The value at position ``unit`` in [0, 1]."""
        start, end = self._ends()
        point = start + min(max(unit, 0.0), 1.0) * (end - start)
        point = math.exp(point) if self.log else point
        index = round((point - self.low) / self.step)
        return int(self.low + min(max(index, 0), self.size - 1) * self.step)

    def encode(self, value: Any) -> float:
        """The position in [0, 1] of ``value`` (centre of its cell)."""
        start, end = self._ends()
        point = math.log(value) if self.log else float(value)
        return (point - start) / (end - start)

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a legal value of this parameter."""
        ok = isinstance(value, (int, np.integer)) and self.low <= value <= self.high
        return ok and (value - self.low) % self.step == 0

    def grid(self, levels: int) -> list[int]:
        """At most ``levels`` distinct values, evenly spaced (in log space when ``log``)."""
        if self.size <= levels:
            return [self.low + i * self.step for i in range(self.size)]
        values = [self.decode((i + 0.5) / levels) for i in range(levels)]
        return sorted(set(values))


@dataclass(frozen=True)
class Categorical:
    """A parameter that takes one of ``choices`` (any hashable values).

    Example:
        >>> Categorical(["sgd", "adam"]).decode(0.9)
        'adam'
    """

    choices: tuple[Hashable, ...] = field()
    when: When = None

    def __post_init__(self) -> None:
        if isinstance(self.choices, (str, bytes)) or not isinstance(self.choices, Sequence):
            raise TypeError(
                f"gradwork.tune.Categorical: choices={self.choices!r}; expected a list or tuple "
                "such as ['sgd', 'adam']"
            )
        if len(self.choices) == 0:
            raise ValueError(
                "gradwork.tune.Categorical: choices is empty; give at least one choice"
            )
        object.__setattr__(self, "choices", tuple(self.choices))
        _check_when(self.when, "Categorical")

    @property
    def size(self) -> int:
        """How many choices there are."""
        return len(self.choices)

    def decode(self, unit: float) -> Hashable:
        """The choice whose cell holds ``unit``."""
        return self.choices[min(int(max(unit, 0.0) * self.size), self.size - 1)]

    def encode(self, value: Any) -> float:
        """The centre of the cell of ``value``."""
        return (self.index(value) + 0.5) / self.size

    def index(self, value: Any) -> int:
        """Position of ``value`` in ``choices``."""
        for position, choice in enumerate(self.choices):
            if choice == value and type(choice) is type(value):
                return position
        return self.choices.index(value)

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is one of the choices."""
        return value in self.choices

    def grid(self, levels: int) -> list[Hashable]:
        """All choices (``levels`` does not apply)."""
        return list(self.choices)


Distribution = Float | Int | Categorical
