"""Convolution layers: `Conv1d`, `Conv2d`, `ConvTranspose2d` (im2col + one GEMM)."""

from __future__ import annotations

import math
from typing import Any

from gradwork.functions import pad as _pad
from gradwork.nn import functional as F
from gradwork.nn import init
from gradwork.nn._errors import LayerInputError
from gradwork.nn.linear import empty_parameter, uniform_bias_
from gradwork.nn.module import Module
from gradwork.tensor import Tensor

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _tuple(value: Any, n: int) -> tuple:
    if isinstance(value, str):
        return value
    return (int(value),) * n if isinstance(value, int) else tuple(int(v) for v in value)


class _ConvNd(Module):
    """Shared constructor, init, checks and repr of the convolution layers."""

    _spatial = 2
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None,
                 output_padding: Any = 0) -> None:  # fmt: skip
        super().__init__()
        self._check_arguments(in_channels, out_channels, groups, padding, padding_mode, stride)
        n = self._spatial
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = _tuple(kernel_size, n), _tuple(stride, n)
        self.padding, self.dilation = _tuple(padding, n), _tuple(dilation, n)
        self.output_padding = _tuple(output_padding, n)
        self.groups, self.padding_mode = groups, padding_mode
        if self._transposed:
            shape = (in_channels, out_channels // groups, *self.kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = empty_parameter(*shape, dtype=dtype)
        if bias:
            self.bias = empty_parameter(out_channels, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def _check_arguments(self, in_channels, out_channels, groups, padding, mode, stride):
        name = type(self).__name__
        if groups <= 0 or in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) must "
                f"both be divisible by groups ({groups})"
            )
        if mode not in PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {PADDING_MODES}, got {mode!r}")
        if isinstance(padding, str) and padding not in ("same", "valid"):
            raise ValueError(f"{name}: padding must be an int, a tuple, 'same' or 'valid'")
        if padding == "same" and _tuple(stride, self._spatial) != (1,) * self._spatial:
            raise ValueError(f"{name}: padding='same' is not supported for strided convolutions")

    def reset_parameters(self) -> None:
        # torch's default: kaiming_uniform_(a=sqrt(5)), a U(-1/sqrt(fan_in), ..) bound.
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            uniform_bias_(self.bias, fan_in)

    def _check_input(self, input: Tensor) -> None:
        n = self._spatial
        name = type(self).__name__
        if input.ndim not in (n + 1, n + 2):
            layout = "(N, C, H, W) or unbatched (C, H, W)" if n == 2 else "(N, C, L) or (C, L)"
            raise LayerInputError(
                name, f"a {n + 2}-D input {layout}", f"a {input.ndim}-D input of shape "
                f"{tuple(input.shape)}", _reshape_hint(input, n, self.in_channels),
                received=input,
            )  # fmt: skip
        channels = input.shape[-n - 1]
        if channels != self.in_channels:
            raise LayerInputError(
                name, f"in_channels={self.in_channels}", f"{channels} channels (input shape "
                f"{tuple(input.shape)}, channels on axis {input.ndim - n - 1})",
                f"set in_channels={channels}, or check the input layout is channels-first",
                received=input,
            )  # fmt: skip

    def _padded(self, input: Tensor) -> tuple[Tensor, Any]:
        """Apply a non-zero padding_mode by explicit padding (as torch does)."""
        if self.padding_mode == "zeros" or self.padding in ("valid",):
            return input, self.padding
        amounts = []
        for p in reversed(self.padding if self.padding != "same" else self._same()):
            amounts += [p, p]
        return _pad(input, amounts, mode=self.padding_mode), 0

    def _same(self) -> tuple:
        return tuple(
            d * (k - 1) // 2 for k, d in zip(self.kernel_size, self.dilation, strict=False)
        )

    def extra_repr(self) -> str:
        n = self._spatial
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        s += f", stride={self.stride}"
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


def _reshape_hint(input: Tensor, spatial: int, channels: int) -> str:
    if spatial == 2 and input.ndim == 2:
        side = math.isqrt(input.shape[-1] // max(channels, 1))
        if channels * side * side == input.shape[-1]:
            return f"reshape it to images first, e.g. x.view(-1, {channels}, {side}, {side})"
    return "reshape the input to the expected layout"


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation) over (N, C, H, W) or (C, H, W) input.

    Args:
        in_channels, out_channels: channel counts.
        kernel_size, stride, dilation: ints or pairs.
        padding: int, pair, 'valid' or 'same' (stride 1).
        groups: split channels into independent groups.
        bias: learn a per-output-channel bias.
        padding_mode: 'zeros', 'reflect', 'replicate' or 'circular'.

    Shape:
        (N, C_in, H, W) -> (N, C_out, H_out, W_out),
        H_out = (H + 2 padding - dilation (kernel - 1) - 1) // stride + 1.

    Example:
        >>> import gradwork as gw
        >>> gw.nn.Conv2d(1, 16, 3, padding=1)(gw.zeros(8, 1, 28, 28)).shape
        (8, 16, 28, 28)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)  # fmt: skip

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        self._check_input(input)
        input, padding = self._padded(input)
        return F.conv2d(input, self.weight, self.bias, self.stride, padding, self.dilation,
                        self.groups)  # fmt: skip


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L) or (C, L) input (conv2d on a height-1 image).

    Example:
        >>> import gradwork as gw
        >>> gw.nn.Conv1d(4, 8, 3)(gw.zeros(2, 4, 10)).shape
        (2, 8, 8)
    """

    _spatial = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)  # fmt: skip

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        self._check_input(input)
        input, padding = self._padded(input)
        padding = padding if isinstance(padding, str | int) else padding[0]
        return F.conv1d(input, self.weight, self.bias, self.stride[0], padding,
                        self.dilation[0], self.groups)  # fmt: skip


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution (the gradient of Conv2d), e.g. for upsampling.

    Weight shape is (in_channels, out_channels / groups, kh, kw), as in torch.

    Shape:
        H_out = (H - 1) stride - 2 padding + dilation (kernel - 1) + output_padding + 1.

    Example:
        >>> import gradwork as gw
        >>> gw.nn.ConvTranspose2d(8, 4, 2, stride=2)(gw.zeros(1, 8, 7, 7)).shape
        (1, 4, 14, 14)
    """

    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:  # fmt: skip
        if padding_mode != "zeros":
            raise ValueError("ConvTranspose2d: only padding_mode='zeros' is supported (as torch)")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype, output_padding)  # fmt: skip

    def forward(self, input: Tensor, output_size: Any = None) -> Tensor:  # noqa: A002
        self._check_input(input)
        output_padding = self.output_padding
        if output_size is not None:
            output_padding = self._output_padding_for(input, output_size)
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                  output_padding, self.groups, self.dilation)  # fmt: skip

    def _output_padding_for(self, input: Tensor, output_size: Any) -> tuple:
        size = tuple(output_size)[-2:]
        smallest = [
            (n - 1) * s - 2 * p + d * (k - 1) + 1
            for n, s, p, d, k in zip(
                input.shape[-2:],
                self.stride,
                self.padding,
                self.dilation,
                self.kernel_size,
                strict=False,
            )  # fmt: skip
        ]
        return tuple(want - low for want, low in zip(size, smallest, strict=False))
