"""Pooling primitives: 2-D max and average pooling over strided windows, and their kin.

Also here: max unpooling (a scatter) and unfold/fold (im2col and col2im as
ops, reusing the convolution's helpers), with max pooling's argmax rule.

Fused for speed. Both walk the kh*kw kernel positions; at each position the
inputs seen by every window form ONE strided slice of the padded input, so a
2x2 pool is four vectorised passes whatever the batch or image size. The
backward writes through the same slices (`out=` a strided view), so no
`np.add.at` and no window copy is needed.
"""

from __future__ import annotations

import numpy as np

from gradwork.autograd import Function
from gradwork.ops.conv import col2im, im2col


def pool_output_size(size, kernel, stride, padding, dilation, ceil_mode):
    """Output length along one axis, torch's rule (ceil_mode windows must start inside)."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if ceil_mode:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + padding:  # last window would start in the padding
            out -= 1
        return out
    return span // stride + 1


def _geometry(x, kernel, stride, padding, dilation, ceil_mode):
    return tuple(
        pool_output_size(s, k, st, p, d, ceil_mode)
        for s, k, st, p, d in zip(x.shape[2:], kernel, stride, padding, dilation, strict=False)
    )


def _padded(x, padding, out_hw, kernel, stride, dilation, fill):
    """x padded by `padding` (and on the bottom/right as far as ceil_mode windows reach)."""
    extent = [
        (o - 1) * s + d * (k - 1) + 1
        for o, s, d, k in zip(out_hw, stride, dilation, kernel, strict=False)
    ]
    ph, pw = padding
    height = max(extent[0], x.shape[2] + ph)
    width = max(extent[1], x.shape[3] + pw)
    if (height, width) == x.shape[2:] and ph == pw == 0:
        return x
    padded = np.full_like(x, fill, shape=(*x.shape[:2], height, width))
    padded[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]] = x
    return padded


def _slices(kernel, stride, dilation, out_hw):
    """For each kernel position, the index of the inputs it sees in every window."""
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            top, left = i * dilation[0], j * dilation[1]
            yield (
                slice(None),
                slice(None),
                slice(top, top + stride[0] * (out_hw[0] - 1) + 1, stride[0]),
                slice(left, left + stride[1] * (out_hw[1] - 1) + 1, stride[1]),
            )


def _overlapping(kernel, stride, dilation):
    return any(d * (k - 1) + 1 > s for k, s, d in zip(kernel, stride, dilation, strict=False))


class MaxPool2d(Function):
    """Max over each window of x (N, C, H, W); padding counts as -inf.

    NOTE: on ties the FIRST maximum in the window (row-major) takes the whole
    gradient, as in torch; ties are common after a ReLU (all-zero windows).
    The forward keeps no argmax (a chain of np.maximum is several times
    faster than tracking winners with masked copies); the backward finds the
    first position equal to the maximum, kernel position by kernel position.
    """

    @staticmethod
    def forward(ctx, x, kernel, stride, padding=(0, 0), dilation=(1, 1), ceil_mode=False):
        out_hw = _geometry(x, kernel, stride, padding, dilation, ceil_mode)
        padded = _padded(x, padding, out_hw, kernel, stride, dilation, -np.inf)
        positions = list(_slices(kernel, stride, dilation, out_hw))
        if len(positions) == 1:
            out = padded[positions[0]].copy()
        else:
            out = np.maximum(padded[positions[0]], padded[positions[1]])
        for index in positions[2:]:
            np.maximum(out, padded[index], out=out)
        ctx.save_for_backward(padded, out)
        ctx.geometry = (x.shape, padded.shape, padding, kernel, stride, dilation, out_hw)
        return out

    @staticmethod
    def backward(ctx, grad):
        padded, out = ctx.saved
        taken = None  # windows whose maximum an earlier kernel position already took

        def first_winner(index):
            nonlocal taken
            winner = padded[index] == out
            if taken is None:
                taken = winner  # NOTE: aliased; the caller uses each mask before the next call
                return winner
            first = np.greater(winner, taken)  # winner and not taken: one pass on bools
            taken |= winner
            return first

        return _scatter(ctx.geometry, grad, first_winner)


class AvgPool2d(Function):
    """Mean over each window; `count_include_pad` counts padded zeros in the divisor.

    `divisor_override` replaces the divisor, as in torch.
    """

    @staticmethod
    def forward(ctx, x, kernel, stride, padding=(0, 0), ceil_mode=False, count_include_pad=True,
                divisor_override=None):  # fmt: skip
        dilation = (1, 1)
        out_hw = _geometry(x, kernel, stride, padding, dilation, ceil_mode)
        padded = _padded(x, padding, out_hw, kernel, stride, dilation, 0)
        positions = list(_slices(kernel, stride, dilation, out_hw))
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
        return _scatter(ctx.geometry, share, None)


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
    return divisor if divisor.min() != divisor.max() else x.dtype.type(divisor.flat[0])


def _scatter(geometry, grad, mask_of):
    """Send each window's gradient back to the inputs it read.

    `mask_of(index)`, when given, says which windows pass their gradient to
    the inputs at that kernel position.
    """
    x_shape, padded_shape, padding, kernel, stride, dilation, out_hw = geometry
    overlap = _overlapping(kernel, stride, dilation)
    # When the windows tile the padded image exactly (e.g. 2x2, stride 2, even
    # sizes) the writes below reach every element once: no zero fill needed.
    tiles = tuple(padded_shape[2:]) == tuple(o * s for o, s in zip(out_hw, stride, strict=False))
    fill = np.empty_like if tiles and not overlap and kernel == stride else np.zeros_like
    image = fill(grad, shape=(*x_shape[:2], *padded_shape[2:]))
    for index in _slices(kernel, stride, dilation, out_hw):
        if overlap:
            image[index] += grad if mask_of is None else grad * mask_of(index)
        elif mask_of is None:  # windows are disjoint: each input is written at most once
            image[index] = grad
        else:  # written straight into the strided slice: no temporary
            np.multiply(grad, mask_of(index), out=image[index])
    ph, pw = padding
    return image[:, :, ph : ph + x_shape[2], pw : pw + x_shape[3]]


def max_pool2d_indices(x, kernel, stride, padding=(0, 0), dilation=(1, 1), ceil_mode=False):
    """Flat (row * W + col) index, within its (H, W) plane, of each window's maximum.

    Not a primitive (indices take no gradient): torch's CPU rule on the raw
    input, so it works with or without a graph. The FIRST maximum of the
    window wins and a NaN beats everything; a window of only -inf names its
    first element inside the image, never the padding.
    """
    out_hw = _geometry(x, kernel, stride, padding, dilation, ceil_mode)
    padded = _padded(x, padding, out_hw, kernel, stride, dilation, -np.inf)
    best = np.full((*x.shape[:2], *out_hw), -np.inf, dtype=x.dtype)
    winner = np.full(best.shape, -1, dtype=np.int64)
    for k, index in enumerate(_slices(kernel, stride, dilation, out_hw)):
        seen = padded[index]
        better = (seen > best) | np.isnan(seen)
        np.copyto(best, seen, where=better)
        winner[better] = k
    row_in, col_in = np.divmod(winner, kernel[1])
    starts = [np.arange(o) * s - p for o, s, p in zip(out_hw, stride, padding, strict=False)]
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
        flat_index = indices.reshape(planes.shape)
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
        return np.ascontiguousarray(blocks.transpose(1, 0, 2))

    @staticmethod
    def backward(ctx, grad):
        x_shape, kernel, stride, padding, dilation, out_hw = ctx.geometry
        columns = grad.transpose(1, 0, 2).reshape(1, grad.shape[1], -1)
        image = col2im(columns, x_shape, kernel, stride, padding, dilation, out_hw)
        return np.ascontiguousarray(image)


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
        return np.ascontiguousarray(image)

    @staticmethod
    def backward(ctx, grad):
        kernel, stride, padding, dilation = ctx.geometry
        columns, _ = im2col(grad, kernel, stride, padding, dilation, 1)
        blocks = columns.reshape(columns.shape[1], grad.shape[0], -1)
        return np.ascontiguousarray(blocks.transpose(1, 0, 2))
