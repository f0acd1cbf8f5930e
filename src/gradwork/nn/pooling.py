"""Pooling layers over (N, C, H, W) or (N, C, L) input."""

from __future__ import annotations

from typing import Any

from gradwork.nn import functional as F
from gradwork.nn._errors import LayerInputError
from gradwork.nn.functional._conv_pool import pair
from gradwork.nn.module import Module
from gradwork.tensor import Tensor


def _check_dims(module: Module, input: Tensor, dims: tuple[int, ...], layout: str) -> None:
    if input.ndim not in dims:
        raise LayerInputError(
            type(module).__name__, f"a {' or '.join(f'{d}-D' for d in dims)} input {layout}",
            f"shape {tuple(input.shape)}", "reshape the input to that layout", received=input,
        )  # fmt: skip


class MaxPool2d(Module):
    """Max over kernel_size windows (stride defaults to kernel_size).

    With return_indices=True it returns (values, indices): the flat H*W
    index of each maximum, which MaxUnpool2d takes.

    Example:
        >>> import gradwork as gw
        >>> gw.nn.MaxPool2d(2)(gw.zeros(1, 3, 28, 28)).shape
        (1, 3, 14, 14)
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:  # fmt: skip
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input: Tensor) -> Any:  # noqa: A002
        _check_dims(self, input, (3, 4), "(N, C, H, W) or (C, H, W)")
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)  # fmt: skip

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class AvgPool2d(Module):
    """Mean over kernel_size windows; count_include_pad counts padded zeros."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:  # fmt: skip
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        _check_dims(self, input, (3, 4), "(N, C, H, W) or (C, H, W)")
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)  # fmt: skip

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool1d(MaxPool2d):
    """Max over windows of (N, C, L) input."""

    def forward(self, input: Tensor) -> Any:  # noqa: A002
        _check_dims(self, input, (2, 3), "(N, C, L) or (C, L)")
        return F.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)  # fmt: skip


class AvgPool1d(AvgPool2d):
    """Mean over windows of (N, C, L) input."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        _check_dims(self, input, (2, 3), "(N, C, L) or (C, L)")
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)  # fmt: skip

    def extra_repr(self) -> str:
        kernel, stride, padding = _one(self.kernel_size), _one(self.stride), _one(self.padding)
        return f"kernel_size={kernel}, stride={stride}, padding={padding}"


def _one(value: Any) -> tuple:
    return (value,) if isinstance(value, int) else tuple(value)


class AdaptiveAvgPool2d(Module):
    """Average into a fixed output size; output_size=1 is global average pooling.

    Example:
        >>> import gradwork as gw
        >>> gw.nn.AdaptiveAvgPool2d(1)(gw.ones(2, 8, 7, 7)).shape
        (2, 8, 1, 1)
    """

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        _check_dims(self, input, (3, 4), "(N, C, H, W) or (C, H, W)")
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(AdaptiveAvgPool2d):
    """Max into a fixed output size."""

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input: Tensor) -> Any:  # noqa: A002
        _check_dims(self, input, (3, 4), "(N, C, H, W) or (C, H, W)")
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)


class MaxUnpool2d(Module):
    """The partial inverse of MaxPool2d: values back at their indices, zeros elsewhere.

    Shape:
        input and indices (N, C, H_in, W_in) -> (N, C, H_out, W_out), with
        H_out = (H_in - 1) * stride - 2 * padding + kernel_size unless
        `output_size` (given to forward) picks another size the pool could have had.

    Example:
        >>> import gradwork as gw
        >>> pool, unpool = gw.nn.MaxPool2d(2, return_indices=True), gw.nn.MaxUnpool2d(2)
        >>> values, indices = pool(gw.randn(1, 1, 5, 5))
        >>> unpool(values, indices, output_size=(5, 5)).shape
        (1, 1, 5, 5)
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        self.kernel_size = pair(kernel_size, "MaxUnpool2d kernel_size")
        self.stride = pair(kernel_size if stride is None else stride, "MaxUnpool2d stride")
        self.padding = pair(padding, "MaxUnpool2d padding")

    def forward(self, input: Tensor, indices: Any, output_size: Any = None) -> Tensor:  # noqa: A002
        _check_dims(self, input, (3, 4), "(N, C, H, W) or (C, H, W)")
        return F.max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding,
                              output_size)  # fmt: skip

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
