"""Norms in float64, and the grouping of parameter names into layers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def norm(array: Any) -> float:
    """The Euclidean norm of an array, accumulated in float64.

    NOTE: squaring float32 gradients of size 1e20 overflows float32 (max
    3.4e38) and would report inf for a merely huge gradient; accumulating in
    float64 keeps the number until the values themselves are inf or NaN.
    """
    # On the array's own device (np.square dispatches to CuPy): only the number comes back.
    flat = (array if hasattr(array, "reshape") else np.asarray(array)).reshape(-1)
    return float(np.sqrt(np.square(flat, dtype=np.float64).sum()).item())


def combine(norms: list[float]) -> float:
    """The norm of the concatenation of arrays, from their separate norms."""
    return math.sqrt(sum(n * n for n in norms))


def layer_of(parameter_name: str) -> str:
    """The module path that owns a parameter: "features.0.weight" -> "features.0".

    Example:
        >>> layer_of("features.0.weight"), layer_of("weight")
        ('features.0', '(model)')
    """
    path, _, _ = parameter_name.rpartition(".")
    return path or "(model)"


def group_by_layer(names: list[str]) -> dict[str, list[str]]:
    """Parameter names grouped by layer, layers in the order they first appear."""
    layers: dict[str, list[str]] = {}
    for name in names:
        layers.setdefault(layer_of(name), []).append(name)
    return layers
