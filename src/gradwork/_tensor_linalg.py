"""Tensor methods of linear algebra and statistics: mm, bmm, dot, outer, norm,
std_mean/var_mean, einsum, and dtype views (half, type, view(dtype)).

mm, bmm and dot are matmul with torch's checks: exact ranks, one dtype (they
never promote) and no broadcasting. outer and einsum promote, as torch's do.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradwork import dtypes, linalg, ops
from gradwork._tensor_math import _cast, _is_tensor, _require_floating
from gradwork.ops.dims import normalize_dims
from gradwork.ops.linalg import explicit_equation

# torch's legacy type names, by dtype: t.type() -> 'gradwork.FloatTensor'.
_TYPE_NAMES = {
    dtypes.float32: "FloatTensor", dtypes.float64: "DoubleTensor", dtypes.float16: "HalfTensor",
    dtypes.int64: "LongTensor", dtypes.int32: "IntTensor", dtypes.int16: "ShortTensor",
    dtypes.int8: "CharTensor", dtypes.uint8: "ByteTensor", dtypes.bool_: "BoolTensor",
}  # fmt: skip
_TYPES_BY_NAME = {name: dtype for dtype, name in _TYPE_NAMES.items()}


def _tensor_argument(name: str, argument: str, value: Any) -> Any:
    if not _is_tensor(value):
        raise TypeError(
            f"{name}(): argument '{argument}' must be Tensor, not {type(value).__name__}"
        )
    return value


def _refuse_bool(name: str, *tensors: Any) -> None:
    if any(t.dtype == np.bool_ for t in tensors):
        raise NotImplementedError(f"\"{name}\" not implemented for 'Bool'; convert with .long()")


def _is_dtype(value: Any) -> bool:
    return isinstance(value, np.dtype) or (
        isinstance(value, type) and issubclass(value, np.generic)
    )


def _dtype_from_type_name(name: str) -> np.dtype:
    """'torch.FloatTensor', 'gradwork.FloatTensor' or 'FloatTensor' -> float32."""
    short = name.rpartition(".")[2]
    if short not in _TYPES_BY_NAME or name.count(".") > 1:
        raise ValueError(
            f"invalid type: {name!r}; use a dtype or one of "
            f"{', '.join('gradwork.' + n for n in _TYPES_BY_NAME)}"
        )
    return _TYPES_BY_NAME[short]


class LinalgMethods:
    __slots__ = ()

    # --------------------------------------------------------- matrix products
    def mm(self, mat2):
        """The matrix product of two 2-D tensors of one dtype (no broadcasting)."""
        _tensor_argument("mm", "mat2", mat2)
        for name, t in (("self", self), ("mat2", mat2)):
            if t.ndim != 2:
                raise RuntimeError(f"{name} must be a matrix, got a {t.ndim}-D tensor")
        _same_dtype(self, mat2, "expected m1 and m2 to have the same dtype, but got: {} != {}")
        _refuse_bool("mm", self, mat2)
        if self.shape[1] != mat2.shape[0]:
            (n, k), (k2, m) = self.shape, mat2.shape
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({n}x{k} and {k2}x{m})")
        return ops.MatMul.apply(self, mat2)

    def bmm(self, mat2):
        """Batched matrix product: (b, n, k) @ (b, k, m) -> (b, n, m), no broadcasting."""
        _tensor_argument("bmm", "mat2", mat2)
        for name, t in (("batch1", self), ("batch2", mat2)):
            if t.ndim != 3:
                raise RuntimeError(f"{name} must be a 3D tensor, got a {t.ndim}-D tensor")
        _same_dtype(self, mat2, "expected scalar type {} but found {}")
        _refuse_bool("bmm", self, mat2)
        expected = [self.shape[0], self.shape[2]]
        if list(mat2.shape[:2]) != expected:
            raise RuntimeError(
                f"Expected size for first two dimensions of batch2 tensor to be: {expected} "
                f"but got: {list(mat2.shape[:2])}."
            )
        return ops.MatMul.apply(self, mat2)

    def dot(self, other):
        """The inner product of two 1-D tensors of one dtype and length."""
        _tensor_argument("dot", "tensor", other)
        if self.ndim != 1 or other.ndim != 1:
            raise RuntimeError(
                f"1D tensors expected, but got {self.ndim}D and {other.ndim}D tensors"
            )
        _same_dtype(
            self, other, "dot : expected both vectors to have same dtype, but found {} and {}"
        )
        _refuse_bool("dot", self, other)
        if self.shape != other.shape:
            n, m = self.shape[0], other.shape[0]
            raise RuntimeError(
                f"inconsistent tensor size, expected tensor [{n}] and src [{m}] to have the "
                f"same number of elements, but got {n} and {m} elements respectively"
            )
        return ops.MatMul.apply(self, other)

    def outer(self, vec2):
        """The outer product of two 1-D tensors: out[i, j] = self[i] * vec2[j] (promotes).

        Example:
            >>> import gradwork as gw
            >>> gw.tensor([1, 2]).outer(gw.tensor([1.0, 10.0]))
            tensor([[ 1., 10.],
                    [ 2., 20.]])
        """
        _tensor_argument("outer", "vec2", vec2)
        for name, t in (("self", self), ("vec2", vec2)):
            if t.ndim != 1:
                raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {t.ndim}-D")
        return self.reshape(-1, 1) * vec2

    ger = outer

    # ------------------------------------------------------------------- norms
    def norm(self, p: Any = "fro", dim: Any = None, keepdim: bool = False, dtype: Any = None):
        """torch.Tensor.norm: a vector p-norm over `dim` (all elements when None); 'fro'
        over at most two dims is the 2-norm, 'nuc' a matrix norm (see gradwork.linalg).

        Example:
            >>> import gradwork as gw
            >>> gw.tensor([[3.0, 4.0], [0.0, 0.0]]).norm(dim=1)
            tensor([5., 0.])
        """
        dims = [dim] if isinstance(dim, int) else dim
        if isinstance(p, str):
            if p == "fro" and (dims is None or len(dims) <= 2):
                return linalg.vector_norm(self, 2, dims, keepdim, dtype=dtype)
            dims = list(range(self.ndim)) if dims is None else dims
            return linalg.matrix_norm(self, p, dims, keepdim, dtype=dtype)
        return linalg.vector_norm(self, 2 if p is None else p, dims, keepdim, dtype=dtype)

    # ------------------------------------------------------------- dtype views
    def half(self):
        return self.to(dtypes.float16)

    def type(self, dtype: Any = None, non_blocking: bool = False, **kwargs: Any):
        """No argument: the type name ('gradwork.FloatTensor'); a dtype or type name:
        the tensor converted (itself when it already has that dtype), as torch's."""
        if dtype is None:
            return "gradwork." + _TYPE_NAMES.get(self.dtype, f"{self.dtype}Tensor")
        if isinstance(dtype, str):
            dtype = _dtype_from_type_name(dtype)
        return self.to(dtype)

    def type_as(self, other):
        """This tensor converted to `other`'s dtype."""
        return self.to(_tensor_argument("type_as", "other", other).dtype)

    def view(self, *shape):
        """view(*shape): reshape; view(dtype): the same bytes read as another dtype.

        A view to a dtype of another element size changes the last dimension
        (float32 (2, 4) viewed as float16 is (2, 8)). As in torch, it carries no
        gradient and shares storage (and the version counter) with this tensor.

        Example:
            >>> import gradwork as gw
            >>> gw.tensor([1.0]).view(gw.int32)
            tensor([1065353216], dtype=gradwork.int32)
        """
        if len(shape) == 1 and _is_dtype(shape[0]):
            return _view_as_dtype(self, np.dtype(shape[0]))
        return self.reshape(*shape)


def _same_dtype(a: Any, b: Any, message: str) -> None:
    if a.dtype != b.dtype:  # mm, bmm and dot never promote (torch)
        raise RuntimeError(message.format(a.dtype, b.dtype) + "; convert one with .to(other.dtype)")


def _view_as_dtype(tensor: Any, dtype: np.dtype) -> Any:
    old, new = tensor.dtype.itemsize, dtype.itemsize
    what = f"view {tensor.dtype} as {dtype} (different element sizes)"
    if old != new:
        if tensor.ndim == 0:
            raise RuntimeError(f"self.dim() cannot be 0 to {what}")
        if tensor.shape[-1] != 1 and tensor.array.strides[-1] != old:
            raise RuntimeError(
                f"self.stride(-1) must be 1 to {what}, but got "
                f"{tensor.array.strides[-1] // old}; call .contiguous() first"
            )
        if new > old and tensor.shape[-1] % (new // old):
            raise RuntimeError(
                f"self.size(-1) must be divisible by {new // old} to {what}, but got "
                f"{tensor.shape[-1]}"
            )
    out = tensor.detach()  # shares the version counter: in-place changes show through
    out.array = tensor.array.view(dtype)
    return out


# -------------------------------------------------------- module-level functions
def einsum(equation: Any, *operands: Any) -> Any:
    """Sum of products over the letters of `equation`, as torch.einsum.

    Ellipses ('...ij,...jk') broadcast, as do letters of size 1; without '->'
    the output is the ellipsis dims then the letters used once, in order.
    Operands may come as separate arguments or as one list; torch's sublist
    form (`einsum(a, [0, 1], b, [1, 2], [0, 2])`) works too. Dtypes promote.

    Example:
        >>> import gradwork as gw
        >>> a, b = gw.ones(2, 3), gw.ones(3, 4)
        >>> gw.einsum("ij,jk->ik", a, b).shape, gw.einsum("ii", gw.eye(3)).item()
        ((2, 4), 3.0)
    """
    if len(operands) == 1 and isinstance(operands[0], list | tuple):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        equation, operands = _sublist_form((equation, *operands))
    for i, x in enumerate(operands):
        _tensor_argument("einsum", f"operands[{i}]", x)
    equation, shapes, summed = explicit_equation(equation, [x.shape for x in operands])
    dtype = _einsum_dtype(operands, equation, summed)
    tensors = [
        x if x.shape == shape else x.expand(shape)
        for x, shape in zip((_cast(x, dtype) for x in operands), shapes, strict=False)
    ]
    return ops.Einsum.apply(*tensors, equation=equation)


def _einsum_dtype(operands: tuple, equation: str, summed: dict) -> np.dtype:
    """torch's einsum dtype: promoted, except where it contracts two operands with bmm
    (a summed letter of size > 1 that several share), which wants one dtype, not bool."""
    terms = equation.partition("->")[0].split(",")
    if len(operands) == 1:
        dtype = operands[0].dtype
        # NOTE: one operand summed is torch's sum: ints and bools add up in int64.
        return dtypes.int64 if summed and dtype.kind in "biu" else dtype
    if any(x.array.size == 0 for x in operands):
        # NOTE: with an empty operand torch returns zeros in the last operand's
        # dtype and checks no dtypes at all.
        return operands[-1].dtype
    if any(n > 1 and sum(c in t for t in terms) > 1 for c, n in summed.items()):
        for x in operands[1:]:
            _same_dtype(operands[0], x, "expected scalar type {} but found {}")
        _refuse_bool("bmm", *operands)
    return dtypes.result_type(*operands)


def _sublist_form(arguments: tuple) -> tuple[str, tuple]:
    """einsum(a, [0, 1], b, [1, 2], [0, 2]) as ('ab,bc->ac', (a, b))."""
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

    def term(sublist):
        return "".join("..." if s is Ellipsis else letters[s] for s in sublist)

    pairs = arguments[: len(arguments) // 2 * 2]
    equation = ",".join(term(s) for s in pairs[1::2])
    if len(arguments) % 2:  # an output sublist ends the arguments
        equation += "->" + term(arguments[-1])
    return equation, pairs[0::2]


def var_mean(input: Any, dim: Any = None, unbiased: bool | None = None,  # noqa: A002
             keepdim: bool = False, *, correction: float | None = None) -> tuple:  # fmt: skip
    """(variance, mean) over `dim`, as torch.var_mean (correction=1: Bessel's).

    Example:
        >>> import gradwork as gw
        >>> gw.var_mean(gw.tensor([1.0, 2.0, 3.0]))
        (tensor(1.), tensor(2.))
    """
    return _spread_mean("var_mean", input, dim, unbiased, keepdim, correction)


def std_mean(input: Any, dim: Any = None, unbiased: bool | None = None,  # noqa: A002
             keepdim: bool = False, *, correction: float | None = None) -> tuple:  # fmt: skip
    """(standard deviation, mean) over `dim`, as torch.std_mean.

    Example:
        >>> import gradwork as gw
        >>> gw.std_mean(gw.tensor([[1.0, 3.0], [5.0, 7.0]]), dim=1, correction=0)
        (tensor([1., 1.]), tensor([2., 6.]))
    """
    return _spread_mean("std_mean", input, dim, unbiased, keepdim, correction)


def _spread_mean(name, tensor, dim, unbiased, keepdim, correction):
    _tensor_argument(name, "input", tensor)
    if isinstance(dim, bool):  # torch's overload std_mean(input, unbiased)
        dim, unbiased = None, dim
    _require_floating(tensor, f"{name} only support floating point and complex dtypes")
    if correction is None:
        correction = 0 if unbiased is False else 1
    spread = tensor.std if name == "std_mean" else tensor.var
    mean = tensor.mean(dim, keepdim)
    return spread(dim, keepdim=keepdim, correction=correction), _running_mean(tensor, dim, mean)


def _running_mean(tensor: Any, dim: Any, mean: Any) -> Any:
    """The mean as torch's std_mean/var_mean give it: they update a running mean
    (Welford), which turns nan once an infinite value is followed by another."""
    axes = normalize_dims(dim, tensor.ndim)
    if tensor.numel() == 0 or np.isfinite(tensor.array).all() or not axes:
        return mean
    kept = [d for d in range(tensor.ndim) if d not in axes]
    values = tensor.array.transpose(*kept, *axes).reshape(*[tensor.shape[d] for d in kept], -1)
    broken = np.isinf(values[..., :-1]).any(-1).reshape(mean.shape)
    return ops.Where.apply(broken, mean.dtype.type(np.nan), mean)
