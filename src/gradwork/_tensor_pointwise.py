"""Tensor methods for elementwise math beyond the basics: rounding, trigonometry,
logarithms in other bases, the error function, integer division and remainder,
bitwise operators, and closeness tests.

Each is composed from primitives where the math allows (gradients come free);
the primitives it needs live in `gradwork.ops.pointwise`.
"""

from __future__ import annotations


class PointwiseMethods:
    __slots__ = ()
