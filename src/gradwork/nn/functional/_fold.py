"""unfold (im2col) and fold (col2im): sliding blocks of an image as columns, and back.

Both call fused primitives (ops.Unfold, ops.Fold), each the other's adjoint.
"""

from __future__ import annotations

from typing import Any

from gradwork import ops
from gradwork.nn.functional._conv_pool import pair
from gradwork.ops.windows import output_size as _blocks_along
from gradwork.tensor import Tensor


def _geometry(name: str, kernel_size, dilation, padding, stride):
    kernel, dilation = pair(kernel_size, name), pair(dilation, name)
    padding, stride = pair(padding, name), pair(stride, name)
    for label, values, least in (("kernel size", kernel, 1), ("dilation", dilation, 1),
                                 ("stride", stride, 1), ("padding", padding, 0)):  # fmt: skip
        if min(values) < least:
            relation = "greater than zero" if least else "non-negative"
            raise RuntimeError(f"{name}: {label} should be {relation}, but got {values}")
    return kernel, dilation, padding, stride


def _blocks(name, size, kernel, dilation, padding, stride):
    blocks = tuple(_blocks_along(s, k, st, p, d)
                   for s, k, st, p, d in zip(size, kernel, stride, padding, dilation,
                                             strict=False))  # fmt: skip
    if min(blocks) < 1:
        raise RuntimeError(
            f"{name}: Given input with spatial size {tuple(size)}, kernel_size={kernel}, "
            f"dilation={dilation}, padding={padding}, calculated shape of the array of sliding "
            f"blocks as {blocks}, but its components must be at least one."
        )
    return blocks


def unfold(input: Tensor, kernel_size: Any, dilation: Any = 1, padding: Any = 0,  # noqa: A002
           stride: Any = 1) -> Tensor:  # fmt: skip
    """Every (dilated) kernel_size block of (N, C, H, W) input as a column: (N, C*kh*kw, L).

    Rows are ordered (channel, kernel row, kernel column) and the L blocks
    row-major, as torch's; (C, H, W) input gives (C*kh*kw, L).

    Example:
        >>> import gradwork as gw
        >>> unfold(gw.arange(9.0).reshape(1, 1, 3, 3), 2)
        tensor([[[0., 1., 3., 4.],
                 [1., 2., 4., 5.],
                 [3., 4., 6., 7.],
                 [4., 5., 7., 8.]]])
    """
    if input.ndim == 3:
        return unfold(input.unsqueeze(0), kernel_size, dilation, padding, stride)[0]
    if input.ndim != 4:
        raise RuntimeError(
            f"unfold: Expected 3D or 4D (batch mode) tensor for input, but got: {list(input.shape)}"
        )
    kernel, dilation, padding, stride = _geometry("unfold", kernel_size, dilation, padding, stride)
    _blocks("unfold", input.shape[2:], kernel, dilation, padding, stride)
    return ops.Unfold.apply(input, kernel, stride, padding, dilation)


def fold(input: Tensor, output_size: Any, kernel_size: Any, dilation: Any = 1,  # noqa: A002
         padding: Any = 0, stride: Any = 1) -> Tensor:  # fmt: skip
    """Sum blocks (N, C*kh*kw, L) back into an (N, C, H, W) image: unfold's adjoint.

    Where blocks overlap their values add up, so fold(unfold(x)) multiplies
    each pixel by the number of blocks that cover it.

    Example:
        >>> import gradwork as gw
        >>> fold(gw.ones(1, 4, 4), (3, 3), 2)
        tensor([[[[1., 2., 1.],
                  [2., 4., 2.],
                  [1., 2., 1.]]]])
    """
    if input.ndim == 2:
        return fold(input.unsqueeze(0), output_size, kernel_size, dilation, padding, stride)[0]
    if input.ndim != 3:
        raise RuntimeError(
            f"fold: Expected 2D or 3D (batch mode) tensor for input, but got: {list(input.shape)}"
        )
    out_hw = pair(output_size, "fold output_size")
    kernel, dilation, padding, stride = _geometry("fold", kernel_size, dilation, padding, stride)
    if input.shape[1] % (kernel[0] * kernel[1]):
        raise RuntimeError(
            "fold: Expected size of input's dimension 1 to be divisible by the product of "
            f"kernel_size, but got input.size(1)={input.shape[1]} and kernel_size={kernel}"
        )
    blocks = _blocks("fold", out_hw, kernel, dilation, padding, stride)
    if input.shape[2] != blocks[0] * blocks[1]:
        raise RuntimeError(
            f"fold: Given output_size={out_hw}, kernel_size={kernel}, dilation={dilation}, "
            f"padding={padding}, stride={stride}, expected size of input's dimension 2 to "
            f"match the calculated number of sliding blocks {blocks[0]} * {blocks[1]} = "
            f"{blocks[0] * blocks[1]}, but got input.size(2)={input.shape[2]}."
        )
    return ops.Fold.apply(input, out_hw, kernel, stride, padding, dilation, blocks)
