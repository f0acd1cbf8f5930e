"""Primitives for scans, sorting and scatter (cumsum, sort, scatter_add, ...).

Only what can't be composed from existing primitives, each with the reason in
its docstring. `PRIMITIVES` lists them for gradwork.ops.PRIMITIVES.
"""

from __future__ import annotations

PRIMITIVES: tuple = ()
