"""Pooling primitives: 2-D max and average pooling over strided windows, and their kin.

Also here: max unpooling (a scatter) and unfold/fold (im2col and col2im as
ops, reusing the convolution's helpers), with max pooling's argmax rule.

Fused for speed. They walk the kh*kw kernel positions (`ops/windows.py`):
at each position the inputs seen by every window form ONE strided slice of
the padded input, so a 2x2 pool is four vectorised passes whatever the batch
or image size. Max pooling's loops live in the kernels layer.
"""

from __future__ import annotations

import numpy as np

from gradwork._arrays import contiguous, xp_of
from gradwork.autograd import Function
from gradwork.ops import kernels
from gradwork.ops.kernels.reference import col2im, im2col
from gradwork.ops.windows import (
    pad_for_windows,
    pool_geometry,
    scatter_windows,
    window_slices,
)


class MaxPool2d(Function):
    """Max over each window of x (N, C, H, W); padding counts as -inf.

    NOTE: on ties the FIRST maximum in the window (row-major) takes the whole
    gradient, as in torch; ties are common after a ReLU (all-zero windows).
    The loops are kernels (`gradwork.ops.kernels`): the reference records the
    winning kernel position, the fast CPU kernel finds it again in backward.
    """

    @staticmethod
    def forward(ctx, x, kernel, stride, padding=(0, 0), dilation=(1, 1), ceil_mode=False):
        out, windows = kernels.max_pool2d_forward(x, kernel, stride, padding, dilation,
                                                  ceil_mode)  # fmt: skip
        # x too: the fast kernel's windows may read it, so changing it in place must raise
        ctx.save_for_backward(x, windows)  # freed by the engine once backward has run
        return out

    @staticmethod
    def backward(ctx, grad):
        _, windows = ctx.saved
        return kernels.max_pool2d_backward(windows, grad)


class AvgPool2d(Function):
    """Mean over each window; `count_include_pad` counts padded zeros in the divisor.

    `divisor_override` replaces the divisor, as in torch.
    """

    @staticmethod
    def forward(ctx, x, kernel, stride, padding=(0, 0), ceil_mode=False, count_include_pad=True,
                divisor_override=None):  # fmt: skip
        dilation = (1, 1)
        out_hw = pool_geometry(x, kernel, stride, padding, dilation, ceil_mode)
        padded = pad_for_windows(x, padding, out_hw, kernel, stride, dilation, 0)
        positions = list(window_slices(kernel, stride, dilation, out_hw))
        total = padded[positions[0]].copy()
        for index in positions[1:]:
            total += padded[index]
        divisor = _divisor(x, padded.shape, padding, kernel, stride, out_hw,
                           count_include_pad, divisor_override)  # fmt: skip
        ctx.save_for_backward(divisor)
        ctx.geometry = (x.shape, padded.shape, padding, kernel, stride, dilation, out_hw)
        return total / divisor

    @staticmethod
    def backward(ctx, grad):
        (divisor,) = ctx.saved
        share = grad / divisor
        return scatter_windows(ctx.geometry, share, None)


def _divisor(x, padded_shape, padding, kernel, stride, out_hw, count_include_pad, override):
    """How many elements each window averages: torch's rules, as an array or a number."""
    if override is not None:
        return override
    counts = []
    for axis in range(2):
        size, pad, k, s = x.shape[2 + axis], padding[axis], kernel[axis], stride[axis]
        start = np.arange(out_hw[axis]) * s - pad
        end = np.minimum(start + k, size + pad)  # padding counts, the ceil_mode overhang does not
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, size)
        counts.append(end - start)
    divisor = np.outer(counts[0], counts[1]).astype(x.dtype)
    if divisor.min() == divisor.max():
        return x.dtype.type(divisor.flat[0])
    return xp_of(x).asarray(divisor)  # the counts are worked out on the host: copy them over


def max_pool2d_indices(x, kernel, stride, padding=(0, 0), dilation=(1, 1), ceil_mode=False):
    """Flat (row * W + col) index, within its (H, W) plane, of each window's maximum.

    Not a primitive (indices take no gradient): torch's CPU rule on the raw
    input, so it works with or without a graph. The FIRST maximum of the
    window wins and a NaN beats everything; a window of only -inf names its
    first element inside the image, never the padding.
    """
    out_hw = pool_geometry(x, kernel, stride, padding, dilation, ceil_mode)
    padded = pad_for_windows(x, padding, out_hw, kernel, stride, dilation, -np.inf)
    best = np.full_like(x, -np.inf, shape=(*x.shape[:2], *out_hw))
    winner = np.full_like(x, -1, dtype=np.int64, shape=best.shape)
    for k, index in enumerate(window_slices(kernel, stride, dilation, out_hw)):
        seen = padded[index]
        better = (seen > best) | np.isnan(seen)
        np.copyto(best, seen, where=better)
        winner[better] = k
    row_in, col_in = np.divmod(winner, kernel[1])
    xp = xp_of(x)
    starts = [xp.arange(o) * s - p for o, s, p in zip(out_hw, stride, padding, strict=False)]
    rows = starts[0][:, None] + row_in * dilation[0]
    cols = starts[1][None, :] + col_in * dilation[1]
    # first in-image position of each window: its start, moved on by whole dilations
    first = [st + -(-np.maximum(-st, 0) // d) * d for st, d in zip(starts, dilation, strict=False)]
    fallback = first[0][:, None] * x.shape[3] + first[1][None, :]
    return np.where(winner < 0, fallback, rows * x.shape[3] + cols)


class MaxUnpool2d(Function):
    """The partial inverse of max pooling: each value goes to its flat index in a zero plane.

    A primitive because a scatter cannot be composed from the others; its
    backward is the matching gather. x (N, C, h, w) and indices of its shape,
    each in [0, H*W); out_hw = (H, W). NOTE: when indices repeat, the last
    value written wins in forward (as torch's CPU kernel) but every copy
    reads the gradient in backward (as torch).
    """

    @staticmethod
    def forward(ctx, x, indices, out_hw):
        planes = x.reshape(-1, x.shape[-2] * x.shape[-1])
        flat_index = xp_of(x).asarray(indices).reshape(planes.shape)  # host indices move over
        out = np.zeros_like(x, shape=(planes.shape[0], out_hw[0] * out_hw[1]))
        np.put_along_axis(out, flat_index, planes, axis=1)
        ctx.save_for_backward(flat_index)
        ctx.x_shape = x.shape
        return out.reshape(*x.shape[:-2], *out_hw)

    @staticmethod
    def backward(ctx, grad):
        (flat_index,) = ctx.saved
        planes = grad.reshape(flat_index.shape[0], -1)
        return np.take_along_axis(planes, flat_index, axis=1).reshape(ctx.x_shape)


class Unfold(Function):
    """im2col: x (N, C, H, W) -> (N, C*kh*kw, L), each column one (dilated) block.

    Fused for speed (one strided copy; composed from slices it would cost
    kh*kw graph nodes); the backward is col2im, one strided add per kernel
    position. Rows are ordered (channel, ki, kj), columns row-major over the
    block grid, as torch's.
    """

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, dilation):
        columns, out_hw = im2col(x, kernel, stride, padding, dilation, 1)
        ctx.geometry = (x.shape, kernel, stride, padding, dilation, out_hw)
        blocks = columns.reshape(columns.shape[1], x.shape[0], -1)
        return contiguous(blocks.transpose(1, 0, 2))

    @staticmethod
    def backward(ctx, grad):
        x_shape, kernel, stride, padding, dilation, out_hw = ctx.geometry
        columns = grad.transpose(1, 0, 2).reshape(1, grad.shape[1], -1)
        image = col2im(columns, x_shape, kernel, stride, padding, dilation, out_hw)
        return contiguous(image)


class Fold(Function):
    """col2im: blocks (N, C*kh*kw, L) summed into an (N, C, H, W) image; Unfold's adjoint.

    Fused for speed, like Unfold; `out_hw` is the image size, `blocks_hw`
    the (rows, cols) of the block grid (L = rows * cols).
    """

    @staticmethod
    def forward(ctx, columns, out_hw, kernel, stride, padding, dilation, blocks_hw):
        n, rows, _ = columns.shape
        channels = rows // (kernel[0] * kernel[1])
        ctx.geometry = (kernel, stride, padding, dilation)
        flat = columns.transpose(1, 0, 2).reshape(1, rows, -1)
        image = col2im(flat, (n, channels, *out_hw), kernel, stride, padding, dilation, blocks_hw)
        return contiguous(image)

    @staticmethod
    def backward(ctx, grad):
        kernel, stride, padding, dilation = ctx.geometry
        columns, _ = im2col(grad, kernel, stride, padding, dilation, 1)
        blocks = columns.reshape(columns.shape[1], grad.shape[0], -1)
        return contiguous(blocks.transpose(1, 0, 2))
