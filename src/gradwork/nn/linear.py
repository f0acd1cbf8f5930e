"""Shape-level layers: `Identity`, `Linear`, `Flatten`, `Unflatten`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradwork import dtypes
from gradwork.nn import functional as F
from gradwork.nn import init
from gradwork.nn._errors import LayerInputError
from gradwork.nn.module import Module
from gradwork.nn.parameter import Parameter
from gradwork.tensor import Tensor


def empty_parameter(*shape: int, dtype: Any = None) -> Parameter:
    """An uninitialised (zero) Parameter; reset_parameters() fills it."""
    return Parameter(np.zeros(shape, dtype=dtypes.as_dtype(dtype or dtypes.float32)))


def uniform_bias_(bias: Tensor, fan_in: int) -> None:
    """torch's default bias init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
    init.uniform_(bias, -bound, bound)


class Identity(Module):
    """Returns its input unchanged (arguments are accepted and ignored, as in torch)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return input


class Linear(Module):
    """y = x W^T + b, as one graph node.

    Args:
        in_features: size of each input sample (the last axis).
        out_features: size of each output sample.
        bias: learn an additive bias.
        dtype: parameter dtype (float32 by default).

    Shape:
        (*, in_features) -> (*, out_features)

    Weights start as torch's: kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)),
    and the bias U(-1/sqrt(in), 1/sqrt(in)).

    Example:
        >>> import gradwork as gw
        >>> gw.nn.Linear(20, 30)(gw.randn(128, 20)).shape
        (128, 30)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:  # fmt: skip
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = empty_parameter(out_features, in_features, dtype=dtype)
        if bias:
            self.bias = empty_parameter(out_features, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            uniform_bias_(self.bias, self.in_features)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        if input.ndim == 0 or input.shape[-1] != self.in_features:
            got = input.shape[-1] if input.ndim else "a scalar"
            raise LayerInputError(
                "Linear", f"in_features={self.in_features}", f"{got}",
                f"set in_features={got}" if input.ndim else "pass a tensor of shape (*, features)",
                received=input, context=f" (input shape {tuple(input.shape)})",
            )  # fmt: skip
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Flatten(Module):
    """Flatten dimensions start_dim..end_dim into one (by default all but the batch).

    Example:
        >>> import gradwork as gw
        >>> gw.nn.Flatten()(gw.zeros(32, 1, 5, 5)).shape
        (32, 25)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expand dimension `dim` into `unflattened_size`.

    Example:
        >>> import gradwork as gw
        >>> gw.nn.Unflatten(1, (2, 5))(gw.zeros(4, 10)).shape
        (4, 2, 5)
    """

    def __init__(self, dim: int, unflattened_size: tuple[int, ...]) -> None:
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        dim = self.dim % input.ndim
        shape = input.shape[:dim] + self.unflattened_size + input.shape[dim + 1 :]
        return input.reshape(*shape)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
