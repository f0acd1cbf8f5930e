"""Upsampling layers: thin modules over `F.interpolate`."""

from __future__ import annotations

from typing import Any

from gradwork.nn import functional as F
from gradwork.nn.module import Module
from gradwork.tensor import Tensor


class Upsample(Module):
    """Resize (N, C, L) or (N, C, H, W) input to `size` or by `scale_factor`.

    Args:
        size: output spatial size (an int or one per axis).
        scale_factor: multiplier of each spatial size (stored as float, as torch).
        mode: 'nearest', 'nearest-exact', 'linear', 'bilinear', 'bicubic' or
            'area' (see F.interpolate).
        align_corners: linear and bicubic modes only (see F.interpolate).

    Shape:
        (N, C, W_in) -> (N, C, W_out) or (N, C, H_in, W_in) -> (N, C, H_out, W_out).

    Example:
        >>> import gradwork as gw
        >>> gw.nn.Upsample(scale_factor=2)(gw.zeros(1, 3, 4, 5)).shape
        (1, 3, 8, 10)
        >>> gw.nn.Upsample(size=(3, 3), mode="bicubic")(gw.zeros(1, 3, 4, 5)).shape
        (1, 3, 3, 3)
    """

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None) -> None:  # fmt: skip
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor: Any = tuple(float(factor) for factor in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode, self.align_corners = mode, align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)  # fmt: skip

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            info = f"scale_factor={self.scale_factor!r}"
        else:
            info = f"size={self.size!r}"
        return f"{info}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Upsample with mode='nearest' (torch's older name)."""

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Upsample with mode='bilinear' and align_corners=True (torch's older name)."""

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
