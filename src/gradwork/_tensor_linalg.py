"""Tensor methods of linear algebra and statistics: mm, bmm, dot, outer, norm,
std_mean/var_mean, and dtype views (half, type, view(dtype)).
"""

from __future__ import annotations


class LinalgMethods:
    __slots__ = ()
