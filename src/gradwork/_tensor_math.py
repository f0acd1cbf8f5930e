"""Tensor methods that compute: operators, math functions, activations, reductions.

Composites (softmax, var, std, reciprocal, max along a dim, ...) are written
from primitives, so they get their gradients for free.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

from gradwork import ops
from gradwork.ops.reduce import _axes

# What max(dim)/min(dim) return, like torch.return_types.max.
ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])


def operand(value: Any) -> Any:
    """A Tensor, or a Python number kept as a constant (NumPy promotes it weakly).

    NumPy scalars become Python numbers so that `float32_tensor * np.float64(2)`
    stays float32, as in torch. Arrays and lists become constant tensors.
    """
    if isinstance(value, np.generic):  # first: np.float64 is a subclass of float
        return value.item()
    if isinstance(value, _tensor_types):
        return value
    from gradwork.tensor import Tensor  # a rare path: the import cost is fine here

    return Tensor(value if isinstance(value, np.ndarray) else np.asarray(value))


# Filled in by tensor.py (which imports this module, so it can't be imported here).
_tensor_types: tuple = (bool, int, float)


def _no_grad(data: Any) -> Any:
    from gradwork.tensor import _from_op

    return _from_op(data)


def _raw(value: Any) -> Any:
    return getattr(operand(value), "data", value)


class MathMethods:
    __slots__ = ()

    # ------------------------------------------------------------ operators
    def __add__(self, other):
        return ops.Add.apply(self, operand(other))

    def __radd__(self, other):
        return ops.Add.apply(operand(other), self)

    def __sub__(self, other):
        return ops.Sub.apply(self, operand(other))

    def __rsub__(self, other):
        return ops.Sub.apply(operand(other), self)

    def __mul__(self, other):
        return ops.Mul.apply(self, operand(other))

    def __rmul__(self, other):
        return ops.Mul.apply(operand(other), self)

    def __truediv__(self, other):
        return ops.Div.apply(self, operand(other))

    def __rtruediv__(self, other):
        return ops.Div.apply(operand(other), self)

    def __pow__(self, exponent):
        return ops.Pow.apply(self, operand(exponent))

    def __rpow__(self, base):
        return ops.Pow.apply(operand(base), self)

    def __matmul__(self, other):
        return ops.MatMul.apply(self, operand(other))

    def __rmatmul__(self, other):
        return ops.MatMul.apply(operand(other), self)

    def __neg__(self):
        return ops.Neg.apply(self)

    def __abs__(self):
        return ops.Abs.apply(self)

    # Comparisons give boolean tensors and carry no gradient.
    def __lt__(self, other):
        return _no_grad(self.data < _raw(other))

    def __le__(self, other):
        return _no_grad(self.data <= _raw(other))

    def __gt__(self, other):
        return _no_grad(self.data > _raw(other))

    def __ge__(self, other):
        return _no_grad(self.data >= _raw(other))

    def __eq__(self, other):
        return _no_grad(self.data == _raw(other))

    def __ne__(self, other):
        return _no_grad(self.data != _raw(other))

    add, sub, mul, div, pow, matmul = __add__, __sub__, __mul__, __truediv__, __pow__, __matmul__
    lt, le, gt, ge, eq, ne = __lt__, __le__, __gt__, __ge__, __eq__, __ne__
    true_divide, multiply, subtract = div, mul, sub

    def neg(self):
        return ops.Neg.apply(self)

    # --------------------------------------------------------- math functions
    def exp(self):
        return ops.Exp.apply(self)

    def log(self):
        return ops.Log.apply(self)

    def log1p(self):
        return ops.Log1p.apply(self)

    def sqrt(self):
        return ops.Sqrt.apply(self)

    def rsqrt(self):
        return self.sqrt().reciprocal()

    def abs(self):
        return ops.Abs.apply(self)

    def sign(self):
        return ops.Sign.apply(self)

    def sin(self):
        return ops.Sin.apply(self)

    def cos(self):
        return ops.Cos.apply(self)

    def reciprocal(self):
        return ops.Div.apply(1.0, self)

    def square(self):
        return ops.Mul.apply(self, self)

    def clamp(self, min=None, max=None):  # noqa: A002 - torch's argument names
        if min is None and max is None:
            raise ValueError("clamp: at least one of min and max must be given")
        if not isinstance(min, int | float | None) or not isinstance(max, int | float | None):
            # Tensor bounds: compose from maximum/minimum (gradients flow to both).
            out = self if min is None else self.maximum(operand(min))
            return out if max is None else out.minimum(operand(max))
        return ops.Clamp.apply(self, min, max)

    clip = clamp

    def maximum(self, other):
        return ops.Maximum.apply(self, operand(other))

    def minimum(self, other):
        return ops.Minimum.apply(self, operand(other))

    # ------------------------------------------------------------- activations
    def relu(self):
        return ops.Relu.apply(self)

    def sigmoid(self):
        return ops.Sigmoid.apply(self)

    def tanh(self):
        return ops.Tanh.apply(self)

    def log_softmax(self, dim: int = -1):
        return ops.LogSoftmax.apply(self, dim=dim)

    def softmax(self, dim: int = -1):
        # exp of the stable log-softmax: no overflow for large logits.
        return self.log_softmax(dim).exp()

    def logsumexp(self, dim: Any = None, keepdim: bool = False):
        return ops.LogSumExp.apply(self, dim=dim, keepdim=keepdim)

    # -------------------------------------------------------------- reductions
    def sum(self, dim: Any = None, keepdim: bool = False):
        return ops.Sum.apply(self, dim=dim, keepdim=keepdim)

    def mean(self, dim: Any = None, keepdim: bool = False):
        if self.data.dtype.kind not in "fc":
            raise TypeError(
                f"mean: needs a floating-point tensor, got {self.data.dtype}; call .float() first"
            )
        return ops.Mean.apply(self, dim=dim, keepdim=keepdim)

    def var(self, dim: Any = None, unbiased: bool = True, keepdim: bool = False, *,
            correction: float | None = None):  # fmt: skip
        """Variance with Bessel's correction by default (torch: correction=1)."""
        if correction is None:
            correction = 1 if unbiased else 0
        centred = self - self.mean(dim, keepdim=True)
        count = int(np.prod([self.data.shape[i] for i in _axes(dim, self.data.ndim)]))
        # NOTE: count - correction <= 0 gives inf/nan, as in torch.
        with np.errstate(divide="ignore", invalid="ignore"):
            return (centred * centred).sum(dim, keepdim) / max(count - correction, 0)

    def std(self, dim: Any = None, unbiased: bool = True, keepdim: bool = False, *,
            correction: float | None = None):  # fmt: skip
        return self.var(dim, unbiased, keepdim, correction=correction).sqrt()

    def prod(self, dim: int | None = None, keepdim: bool = False):
        return ops.Prod.apply(self, dim=dim, keepdim=keepdim)

    def amax(self, dim: Any = None, keepdim: bool = False):
        return ops.Amax.apply(self, dim=None if dim == () else dim, keepdim=keepdim)

    def amin(self, dim: Any = None, keepdim: bool = False):
        return ops.Amin.apply(self, dim=None if dim == () else dim, keepdim=keepdim)

    def max(self, dim: Any = None, keepdim: bool = False):
        """max(): the largest value; max(dim): (values, indices); max(tensor): maximum."""
        if dim is None:
            return self.amax()
        if not isinstance(dim, int):
            return self.maximum(dim)
        return self._extreme_along(dim, keepdim, self.argmax)

    def min(self, dim: Any = None, keepdim: bool = False):
        if dim is None:
            return self.amin()
        if not isinstance(dim, int):
            return self.minimum(dim)
        return self._extreme_along(dim, keepdim, self.argmin)

    def _extreme_along(self, dim, keepdim, arg):
        # NOTE: the gradient goes to the one index returned (torch's max(dim)).
        indices = arg(dim, keepdim=True)
        values = self.gather(dim, indices)
        if not keepdim:
            values, indices = values.squeeze(dim), indices.squeeze(dim)
        return ValuesIndices(values, indices)

    def argmax(self, dim: int | None = None, keepdim: bool = False):
        return _no_grad(_arg(np.argmax, self.data, dim, keepdim))

    def argmin(self, dim: int | None = None, keepdim: bool = False):
        return _no_grad(_arg(np.argmin, self.data, dim, keepdim))

    def all(self, dim: Any = None, keepdim: bool = False):
        return _no_grad(np.all(self.data, axis=dim, keepdims=keepdim))

    def any(self, dim: Any = None, keepdim: bool = False):
        return _no_grad(np.any(self.data, axis=dim, keepdims=keepdim))

    def isnan(self):
        return _no_grad(np.isnan(self.data))

    def isfinite(self):
        return _no_grad(np.isfinite(self.data))

    # ----------------------------------------------------------- composites
    def where(self, condition, other):
        """torch's `x.where(cond, y)`: x where cond holds, else y."""
        return ops.Where.apply(_raw(condition).astype(bool), self, operand(other))

    def masked_fill(self, mask, value):
        return ops.Where.apply(_raw(mask).astype(bool), operand(value), self)


def _arg(find, data, dim, keepdim):
    if dim is None:
        index = np.asarray(find(data))
        return index.reshape((1,) * data.ndim) if keepdim else index
    return find(data, axis=dim, keepdims=keepdim)
