"""Fold and Unfold: sliding blocks of an image as columns (im2col) and back (col2im)."""

from __future__ import annotations

from typing import Any

from gradwork.nn import functional as F
from gradwork.nn.module import Module
from gradwork.tensor import Tensor


class Unfold(Module):
    """Extract every sliding kernel_size block: (N, C, H, W) -> (N, C*kh*kw, L).

    Example:
        >>> import gradwork as gw
        >>> gw.nn.Unfold(kernel_size=(2, 3))(gw.zeros(2, 5, 3, 4)).shape
        (2, 30, 4)
    """

    def __init__(self, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
                 stride: Any = 1) -> None:  # fmt: skip
        super().__init__()
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
            f"padding={self.padding}, stride={self.stride}"
        )


class Fold(Module):
    """Sum sliding blocks (N, C*kh*kw, L) into an image (N, C, *output_size).

    Example:
        >>> import gradwork as gw
        >>> gw.nn.Fold(output_size=(4, 5), kernel_size=(2, 2))(gw.zeros(1, 12, 12)).shape
        (1, 3, 4, 5)
    """

    def __init__(self, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
                 stride: Any = 1) -> None:  # fmt: skip
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                      self.stride)  # fmt: skip

    def extra_repr(self) -> str:
        return (
            f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
            f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}"
        )
