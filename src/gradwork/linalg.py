"""`gradwork.linalg`: norms of vectors and matrices, as `torch.linalg`.

`vector_norm` is one primitive (`ops.VectorNorm`, whose gradient at a zero
norm is torch's 0); `matrix_norm` composes it with amax/amin, and with the
singular values (`ops.SingularValues`) for the spectral and nuclear norms.

Example:
    >>> import gradwork as gw
    >>> gw.linalg.vector_norm(gw.tensor([3.0, 4.0]))
    tensor(5.)
    >>> gw.linalg.matrix_norm(gw.tensor([[1.0, -2.0], [3.0, 4.0]]), ord=1)
    tensor(6.)
"""

from __future__ import annotations

import math
from numbers import Number
from typing import Any

from gradwork import ops
from gradwork.ops.dims import normalize_dim, normalize_dims

__all__ = ["norm", "vector_norm", "matrix_norm", "svdvals"]


def _floating_input(name: str, x: Any, dtype: Any) -> Any:
    if not hasattr(x, "_version_counter"):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(x).__name__}")
    if dtype is not None:
        x = x.to(dtype)
    if x.dtype.kind not in "fc":
        raise RuntimeError(
            f"{name}: Expected a floating point or complex tensor as input. Got {x.dtype}; "
            "convert it first with .float()"
        )
    return x


def vector_norm(x: Any, ord: float = 2, dim: Any = None, keepdim: bool = False, *,  # noqa: A002
                dtype: Any = None) -> Any:  # fmt: skip
    """(sum |x|^ord)^(1/ord) over `dim` (all elements when None or ()), as torch's.

    ord = inf / -inf takes the largest / smallest |x|, ord = 0 counts non-zeros.
    The gradient at a zero vector is 0 (torch's subgradient), not nan.

    Example:
        >>> import gradwork as gw
        >>> x = gw.tensor([[3.0, -4.0], [0.0, 1.0]])
        >>> vector_norm(x, dim=1), vector_norm(x, ord=float("inf"))
        (tensor([5., 1.]), tensor(4.))
    """
    if isinstance(ord, bool) or not isinstance(ord, Number):
        raise TypeError(
            f"linalg_vector_norm(): argument 'ord' must be a number, not {type(ord).__name__}; "
            "use linalg.matrix_norm for 'fro' and 'nuc'"
        )
    x = _floating_input("linalg.vector_norm", x, dtype)
    axes = normalize_dims(dim, x.ndim)
    if (ord < 0 or math.isinf(ord)) and x.numel() == 0:  # max, min or 1/sum: no identity
        empty = [d for d in axes if x.shape[d] == 0]
        if dim is None or len(axes) == x.ndim or empty:
            where = f"the dimension {empty[0]}" if dim is not None and empty else "an empty tensor"
            raise RuntimeError(
                f"linalg.vector_norm cannot compute the {ord} norm on {where} because the "
                "operation does not have an identity"
            )
    dim = None if dim is None else axes  # None: a 0-dim x reduces itself
    return ops.VectorNorm.apply(x, ord=float(ord), dim=dim, keepdim=keepdim)


def svdvals(A: Any) -> Any:
    """The singular values of each matrix in the batch `A` (..., m, n), largest first."""
    A = _floating_input("linalg.svdvals", A, None)
    if A.ndim < 2:
        raise RuntimeError(
            f"linalg.svdvals: The input tensor A must have at least 2 dimensions, got {A.ndim}"
        )
    return ops.SingularValues.apply(A)


def matrix_norm(A: Any, ord: Any = "fro", dim: tuple[int, int] = (-2, -1),  # noqa: A002
                keepdim: bool = False, *, dtype: Any = None) -> Any:  # fmt: skip
    """A matrix norm over the two dims `dim`, as torch's.

    ord: 'fro' (Frobenius), 'nuc' (sum of singular values), 2 / -2 (largest /
    smallest singular value), 1 / -1 (max / min column sum of |A|), inf / -inf
    (max / min row sum of |A|).

    Example:
        >>> import gradwork as gw
        >>> A = gw.tensor([[1.0, -2.0], [3.0, 4.0]])
        >>> matrix_norm(A, ord=float("inf")), matrix_norm(A, ord=-1)
        (tensor(7.), tensor(4.))
    """
    A = _floating_input("linalg.matrix_norm", A, dtype)
    if A.ndim < 2:
        raise RuntimeError(
            "linalg.matrix_norm: The input tensor A must have at least 2 dimensions."
        )
    dims = tuple(dim) if isinstance(dim, list | tuple) else (dim,)
    if len(dims) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {dims}")
    rows, cols = (normalize_dim(d, A.ndim) for d in dims)
    if rows == cols:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got {dims}")
    if ord == "fro":
        return vector_norm(A, 2, (rows, cols), keepdim)
    if ord in _ORDERS and A.numel() == 0 and A.shape[rows] and A.shape[cols]:
        return A.sum((rows, cols), keepdim) * 0  # an empty batch of matrices: no norms
    if ord in ("nuc", 2, -2):
        return _spectral_norm(A, ord, rows, cols, keepdim)
    if ord in (1, -1, math.inf, -math.inf):
        # Sum |A| down each column (ord 1) or along each row (ord inf), then take
        # the max (positive ord) or min of those sums.
        summed, extreme = (rows, cols) if abs(ord) == 1 else (cols, rows)
        if A.shape[extreme] == 0:
            return _empty_extreme(A, ord, extreme, rows, cols, keepdim)
        sums = vector_norm(A, 1, summed, keepdim=True)
        out = sums.amax(extreme, keepdim=True) if ord > 0 else sums.amin(extreme, keepdim=True)
        return out if keepdim else out.squeeze((rows, cols))
    raise RuntimeError(
        f"linalg.matrix_norm: Order {ord} not supported; use 'fro', 'nuc', 1, -1, 2, -2, "
        "inf or -inf"
    )


_ORDERS = ("fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf)


def _empty_extreme(A: Any, ord: Any, dim: int, rows: int, cols: int, keepdim: bool) -> Any:
    """The max or min over no norms: 0 without a gradient for a max (torch), an error
    for a min."""
    if ord < 0:
        raise IndexError(
            f"amin(): Expected reduction dim {dim} to have non-zero size: the smallest "
            "norm of an empty matrix is undefined"
        )
    return A.detach().sum((rows, cols), keepdim)  # zeros of the norm's shape


def _spectral_norm(A: Any, ord: Any, rows: int, cols: int, keepdim: bool) -> Any:
    """'nuc', 2 or -2: the sum, max or min of the singular values of each matrix."""
    if (
        min(A.shape[rows], A.shape[cols]) == 0
    ):  # no singular values: 'nuc' sums none, 2 and -2 as an empty max/min
        if ord == "nuc":
            return A.sum((rows, cols), keepdim) * 0
        return _empty_extreme(A, -1 if ord == -2 else 1, -1, rows, cols, keepdim)
    batch = [d for d in range(A.ndim) if d not in (rows, cols)]
    values = svdvals(A.permute(*batch, rows, cols))
    out = {"nuc": values.sum(-1), 2: values.amax(-1), -2: values.amin(-1)}[ord]
    if keepdim:
        for d in sorted((rows, cols)):
            out = out.unsqueeze(d)
    return out


def norm(A: Any, ord: Any = None, dim: Any = None, keepdim: bool = False, *,  # noqa: A002
         dtype: Any = None) -> Any:  # fmt: skip
    """A vector norm (one dim, or all of a 1-D input) or a matrix norm (two dims, or a
    2-D input with `ord`), as torch.linalg.norm.

    With neither `ord` nor `dim`, the 2-norm of all the elements.

    Example:
        >>> import gradwork as gw
        >>> A = gw.tensor([[1.0, -2.0], [3.0, 4.0]])
        >>> norm(A, dim=0), norm(A, ord=1)
        (tensor([3.1623, 4.4721]), tensor(6.))
    """
    dims = (dim,) if isinstance(dim, int) else dim
    if dims is not None:
        if len(dims) == 1:
            return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype)
        if len(dims) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, dims, keepdim, dtype=dtype)
        raise RuntimeError(
            f"linalg.norm: If dim is specified, it must be of length 1 or 2. Got {list(dims)}"
        )
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if A.ndim not in (1, 2):
        raise RuntimeError(
            "linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. "
            f"Got {A.ndim}D."
        )
    if A.ndim == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    if isinstance(ord, str):  # torch sends a string ord to matrix_norm, which refuses 1-D
        raise RuntimeError(
            "linalg.matrix_norm: The input tensor A must have at least 2 dimensions."
        )
    return vector_norm(A, ord, None, keepdim, dtype=dtype)
