"""Window geometry shared by pooling, im2col and their kernels: sizes, padding, slices.

Every kernel position (i, j) of a sliding window sees ONE strided slice of
the (padded) input across all windows at once, so a pooling pass is kh*kw
vectorised operations whatever the batch or image size, and its backward
writes back through the same slices (no `np.add.at`, no window copies).
"""

from __future__ import annotations

import numpy as np


def output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Length of a convolution's output along one axis (torch's formula)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def pool_output_size(size, kernel, stride, padding, dilation, ceil_mode):
    """Output length along one axis, torch's rule (ceil_mode windows must start inside)."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if ceil_mode:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + padding:  # last window would start in the padding
            out -= 1
        return out
    return span // stride + 1


def pool_geometry(x, kernel, stride, padding, dilation, ceil_mode):
    return tuple(
        pool_output_size(s, k, st, p, d, ceil_mode)
        for s, k, st, p, d in zip(x.shape[2:], kernel, stride, padding, dilation, strict=False)
    )


def pad_for_windows(x, padding, out_hw, kernel, stride, dilation, fill):
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


def window_slices(kernel, stride, dilation, out_hw):
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


def overlapping(kernel, stride, dilation):
    return any(d * (k - 1) + 1 > s for k, s, d in zip(kernel, stride, dilation, strict=False))


def scatter_windows(geometry, grad, mask_of):
    """Send each window's gradient back to the inputs it read.

    `mask_of(index)`, when given, says which windows pass their gradient to
    the inputs at that kernel position.
    """
    x_shape, padded_shape, padding, kernel, stride, dilation, out_hw = geometry
    overlap = overlapping(kernel, stride, dilation)
    # When the windows tile the padded image exactly (e.g. 2x2, stride 2, even
    # sizes) the writes below reach every element once: no zero fill needed.
    tiles = tuple(padded_shape[2:]) == tuple(o * s for o, s in zip(out_hw, stride, strict=False))
    fill = np.empty_like if tiles and not overlap and kernel == stride else np.zeros_like
    image = fill(grad, shape=(*x_shape[:2], *padded_shape[2:]))
    for index in window_slices(kernel, stride, dilation, out_hw):
        if overlap:
            image[index] += grad if mask_of is None else grad * mask_of(index)
        elif mask_of is None:  # windows are disjoint: each input is written at most once
            image[index] = grad
        else:  # written straight into the strided slice: no temporary
            np.multiply(grad, mask_of(index), out=image[index])
    ph, pw = padding
    return image[:, :, ph : ph + x_shape[2], pw : pw + x_shape[3]]
