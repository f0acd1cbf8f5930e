"""The one place a `dim` argument is checked and normalised, with torch's error.

A 0-dim tensor accepts dim 0 and -1, as in torch (it is treated as having one
dimension for this purpose only).
"""

from __future__ import annotations

from collections.abc import Sequence


def normalize_dim(dim: int, ndim: int) -> int:
    """`dim` as a non-negative axis of a tensor with `ndim` dimensions.

    Example:
        >>> normalize_dim(-1, 3), normalize_dim(0, 0)
        (2, 0)
        >>> normalize_dim(3, 3)
        Traceback (most recent call last):
        ...
        IndexError: Dimension out of range (expected to be in range of [-3, 2], but got 3)
    """
    if not isinstance(dim, int) or isinstance(dim, bool):
        if hasattr(dim, "__index__") and not isinstance(dim, bool):
            dim = dim.__index__()
        else:
            raise TypeError(f"dim must be an int, got {type(dim).__name__} ({dim!r})")
    wrap = max(ndim, 1)
    if not -wrap <= dim < wrap:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-wrap}, {wrap - 1}], "
            f"but got {dim})"
        )
    return dim % wrap if ndim else 0


def normalize_dims(dim: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    """`dim` (None or () for all, an int, or a sequence) as a tuple of distinct NumPy axes.

    Example:
        >>> normalize_dims((0, -1), 3), normalize_dims((), 2), normalize_dims(0, 0)
        ((0, 2), (0, 1), ())
    """
    dims = (dim,) if isinstance(dim, int) or hasattr(dim, "__index__") else dim
    if dims is None or len(dims) == 0:  # torch: dim=None and dim=() both mean every axis
        return tuple(range(ndim))
    axes = tuple(normalize_dim(d, ndim) for d in dims)
    if len(set(axes)) != len(axes):
        raise RuntimeError(f"dim {axes} appears multiple times in the list of dims")
    # A 0-dim tensor has no axis to reduce: dim 0 / -1 names the tensor itself.
    return axes if ndim else ()
