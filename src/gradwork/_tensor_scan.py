"""Tensor methods that scan, sort, rearrange and scatter: cumsum, sort, topk, flip,
repeat, roll, tril/triu, diagonal, nonzero, masked_select, scatter, index_add, ...

Primitives they need live in `gradwork.ops.scan`.
"""

from __future__ import annotations


class ScanMethods:
    __slots__ = ()
