"""Blocks beyond torch: `Residual` (y = block(x) + shortcut(x)) and ResNet's `BasicBlock`."""

from __future__ import annotations

from gradwork.nn import functional as F
from gradwork.nn.container import Sequential
from gradwork.nn.conv import Conv2d
from gradwork.nn.linear import Identity
from gradwork.nn.module import Module
from gradwork.nn.normalization import BatchNorm2d
from gradwork.tensor import Tensor


class Residual(Module):
    """y = block(x) + shortcut(x); the shortcut is the identity when None.

    Example:
        >>> import gradwork as gw
        >>> layer = gw.nn.Residual(gw.nn.Linear(4, 4))
        >>> layer(gw.zeros(2, 4)).shape
        (2, 4)
    """

    def __init__(self, block: Module, shortcut: Module | None = None) -> None:
        super().__init__()
        self.block = block
        self.shortcut = Identity() if shortcut is None else shortcut

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        out = self.block(input)
        skip = self.shortcut(input)
        if out.shape != skip.shape:
            hint = (
                "pass shortcut=Conv2d(in, out, kernel_size=1, stride=...) (a 1x1 convolution "
                "projection) so the shapes agree"
                if isinstance(self.shortcut, Identity)
                else "make the shortcut produce the block's output shape"
            )
            raise ValueError(
                f"Residual: block output shape {tuple(out.shape)} differs from shortcut "
                f"output shape {tuple(skip.shape)} (input {tuple(input.shape)}); {hint}"
            )
        return out + skip


class BasicBlock(Module):
    """ResNet's basic block: conv3x3-BN-ReLU-conv3x3-BN, plus a shortcut, then ReLU.

    The shortcut is a 1x1 convolution (with the block's stride) and BN when the
    stride is not 1 or the channel count changes, else the identity (He et al., 2016).

    Example:
        >>> import gradwork as gw
        >>> gw.nn.BasicBlock(16, 32, stride=2)(gw.zeros(2, 16, 8, 8)).shape
        (2, 32, 4, 4)
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1) -> None:
        super().__init__()
        self.in_ch, self.out_ch, self.stride = in_ch, out_ch, stride
        self.conv1 = Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = BatchNorm2d(out_ch)
        self.conv2 = Conv2d(out_ch, out_ch, 3, stride=1, padding=1, bias=False)
        self.bn2 = BatchNorm2d(out_ch)
        if stride != 1 or in_ch != out_ch:
            self.shortcut = Sequential(
                Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), BatchNorm2d(out_ch)
            )
        else:
            self.shortcut = Identity()

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        out = F.relu(self.bn1(self.conv1(input)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(input))
