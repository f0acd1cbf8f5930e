"""One table entry of the primitive tables, shared by test_ops.py and the family tables.

Each family of ops (pointwise math, scans and scatter, linear algebra, ...) keeps
its entries in `tests/core/cases_<family>.py` as a list named `CASES`;
`family_cases()` gathers them, so test_ops.py runs the float64 gradcheck and the
torch parity check over every entry of every family.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.helpers import randn64


@dataclass
class Case:
    name: str
    primitive: type
    ours: Callable
    theirs: Callable  # the same computation in torch
    shapes: tuple  # shapes of the float64 inputs
    low: float | None = None  # keep inputs above this (log, sqrt, pow)
    constants: dict = field(default_factory=dict)

    def inputs(self):
        return [randn64(*shape, low=self.low) for shape in self.shapes]


def family_cases() -> list[Case]:
    """Every `CASES` list in tests/core/cases_*.py."""
    import tests.core as package

    found = []
    for module in pkgutil.iter_modules(package.__path__):
        if module.name.startswith("cases_"):
            found.extend(importlib.import_module(f"tests.core.{module.name}").CASES)
    return found
