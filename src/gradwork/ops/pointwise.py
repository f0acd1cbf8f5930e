"""Elementwise primitives beyond ops/elementwise.py (rounding, trigonometry, erf, ...).

Only what can't be composed from existing primitives, each with the reason in
its docstring. `PRIMITIVES` lists them for gradwork.ops.PRIMITIVES.
"""

from __future__ import annotations

PRIMITIVES: tuple = ()
