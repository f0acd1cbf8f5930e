"""Search algorithms: small ask/tell strategy classes, chosen by name or passed as objects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._auto import Auto
from ._base import Algorithm
from ._bayes import Bayes
from ._evolution import DE, GA, PSO
from ._simple import Grid, Random, Sobol
from ._tpe import TPE

ALGORITHMS: dict[str, type[Algorithm]] = {
    "auto": Auto,
    "bayes": Bayes,
    "random": Random,
    "sobol": Sobol,
    "grid": Grid,
    "tpe": TPE,
    "ga": GA,
    "de": DE,
    "pso": PSO,
}


def make_algorithm(algorithm: Any, options: Mapping[str, Any] | None = None) -> Algorithm:
    """An ``Algorithm`` from a name (plus keyword options) or an instance."""
    if isinstance(algorithm, Algorithm):
        if options:
            raise ValueError(
                "gradwork.tune: algorithm_options only apply to an algorithm given by name; "
                f"set them on the instance instead, e.g. {type(algorithm).__name__}(...)"
            )
        return algorithm
    if not isinstance(algorithm, str) or algorithm.lower() not in ALGORITHMS:
        raise ValueError(
            f"gradwork.tune: unknown algorithm {algorithm!r}; expected one of "
            f"{sorted(ALGORITHMS)} or an Algorithm instance such as PSO(inertia=0.5)"
        )
    kind = ALGORITHMS[algorithm.lower()]
    try:
        return kind(**dict(options or {}))
    except TypeError as error:
        raise TypeError(
            f"gradwork.tune: bad algorithm_options for {algorithm!r}: {error}"
        ) from None


__all__ = [
    "ALGORITHMS",
    "Auto",
    "DE",
    "GA",
    "PSO",
    "TPE",
    "Algorithm",
    "Bayes",
    "Grid",
    "Random",
    "Sobol",
    "make_algorithm",
]
