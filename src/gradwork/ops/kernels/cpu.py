"""Fast NumPy kernels for the CPU, each equal to its reference in `reference.py`.

What makes each fast, measured on MNIST-sized layers (2 cores):
- Convolution at stride 1 runs im2col on a WIDENED output grid, so every
  copy and every col2im add is one long contiguous run instead of many
  14- or 28-float rows (NumPy's per-row loop cost dominated those).
- Max pooling's forward is a chain of np.maximum (no argmax bookkeeping);
  the backward finds each window's first maximum one kernel position at a
  time, writing straight into strided slices.
- Batch norm reuses the centred values and writes its gradient into one
  array; ReLU's backward masks with one byte-wide pass.
- Adam updates through one reused scratch array: no temporaries.
"""

from __future__ import annotations

import numpy as np

from gradwork.ops.kernels import reference
from gradwork.ops.windows import pad_for_windows, pool_geometry, scatter_windows, window_slices


# -- convolution -------------------------------------------------------------------------------
def widened_im2col(x, kernel, padding, dilation, groups):
    """Stride-1 columns on the WIDENED output grid: (G, C/G*kh*kw, N*Ho*Wp), (Ho, Wo), Wp.

    Letting each output row run the full padded width Wp (the last Wp - Wo
    positions are junk that the output drops) makes the window of kernel
    position (i, j) one contiguous run of Ho*Wp floats per (channel, sample)
    plane, starting at i*d*Wp + j*d. An extra zero row at the bottom keeps
    the last runs inside their plane. The GEMMs grow by Wp / Wo.

    NOTE: the weight gradient multiplies the junk columns by exact zeros
    (see _widened_grad), so finite inputs give the reference's values; an
    inf in the input can add 0 * inf = nan where the reference has inf.
    """
    n, c, h, w_in = x.shape
    (kh, kw), (ph, pw), (dh, dw) = kernel, padding, dilation
    hp, wp = h + 2 * ph, w_in + 2 * pw
    ho, wo = hp - dh * (kh - 1), wp - dw * (kw - 1)
    padded = np.zeros_like(x, shape=(n, c, hp + 1, wp))
    padded[:, :, ph : ph + h, pw : pw + w_in] = x
    sn, sc, sh, sw = padded.strides
    shape = (c, kh, kw, n, ho * wp)
    strides = (sc, sh * dh, sw * dw, sn, sw)
    view = np.lib.stride_tricks.as_strided(padded, shape, strides, writeable=False)
    columns = np.ascontiguousarray(view)  # the one copy
    return columns.reshape(groups, -1, n * ho * wp), (ho, wo), wp


def _widened_grad(grad, groups, width):
    """(N, O, Ho, Wo) -> (G, O/G, N*Ho*Wp): the GEMM layout, zeros in the junk columns."""
    n, o, ho, wo = grad.shape
    widened = np.empty_like(grad, shape=(o, n, ho, width))
    widened[..., :wo] = grad.transpose(1, 0, 2, 3)
    widened[..., wo:] = 0
    return widened.reshape(groups, o // groups, -1)


def _widened_col2im(columns, x_shape, kernel, padding, dilation, out_hw):
    """col2im at stride 1 on the widened grid: kh*kw LONG contiguous adds, then one crop.

    Kernel position (i, j) adds its whole (Ho, Wp) block to ONE flat slice
    of each padded (Hp + 1, Wp) plane, starting at i*d*Wp + j*d; the junk
    columns carry exact zeros. The planes are summed channels-first, as the
    columns come, and cropped into a contiguous (N, C, H, W) image: the
    layer below (pooling, ReLU) reads that twice as fast as a transposed view.
    """
    n, c, h, w_in = x_shape
    (kh, kw), (ph, pw), (dh, dw) = kernel, padding, dilation
    ho = out_hw[0]
    hp, wp = h + 2 * ph, w_in + 2 * pw
    blocks = columns.reshape(c, kh, kw, n, ho * wp)
    planes = np.zeros_like(columns, shape=(c, n, (hp + 1) * wp))
    for i in range(kh):
        for j in range(kw):
            start = i * dh * wp + j * dw
            planes[:, :, start : start + ho * wp] += blocks[:, i, j]
    image = planes[:, :, : hp * wp].reshape(c, n, hp, wp)[:, :, ph : ph + h, pw : pw + w_in]
    return np.ascontiguousarray(image.transpose(1, 0, 2, 3))


def conv2d_forward(x, weight, bias, stride, padding, dilation, groups):
    """reference.conv2d_forward; at stride 1 through the widened grid, the bias added on the way."""
    if stride != (1, 1):
        return reference.conv2d_forward(x, weight, bias, stride, padding, dilation, groups)
    columns, (ho, wo), width = widened_im2col(x, weight.shape[2:], padding, dilation, groups)
    w = weight.reshape(groups, weight.shape[0] // groups, -1)
    n = x.shape[0]
    grid = reference.grouped_matmul(w, columns).reshape(-1, n, ho, width)
    out = np.empty_like(grid, shape=(n, grid.shape[0], ho, wo))
    # drop the junk columns, transpose to (N, O, Ho, Wo) and add the bias: one pass
    np.add(grid[..., :wo].transpose(1, 0, 2, 3), 0 if bias is None else bias.reshape(-1, 1, 1),
           out=out)  # fmt: skip
    return out, (columns, x.shape, (ho, wo))


def conv2d_backward(saved, weight, grad, stride, padding, dilation, groups, need_x, need_w):
    """reference.conv2d_backward; at stride 1 the gradient is widened to the columns' grid."""
    if stride != (1, 1):
        return reference.conv2d_backward(saved, weight, grad, stride, padding, dilation, groups,
                                         need_x, need_w)  # fmt: skip
    columns, x_shape, out_hw = saved
    flat_grad = _widened_grad(grad, groups, x_shape[3] + 2 * padding[1])
    w = weight.reshape(groups, weight.shape[0] // groups, -1)
    grad_x = grad_w = None
    if need_x:
        grad_columns = reference.grouped_matmul(w, flat_grad, transpose_a=True)
        grad_x = _widened_col2im(grad_columns, x_shape, weight.shape[2:], padding, dilation,
                                 out_hw)  # fmt: skip
    if need_w:
        grad_w = reference.grouped_matmul(flat_grad, columns, transpose_b=True)
        grad_w = grad_w.reshape(weight.shape)
    return grad_x, grad_w


# -- max pooling -------------------------------------------------------------------------------
def max_pool2d_forward(x, kernel, stride, padding, dilation, ceil_mode):
    """reference.max_pool2d_forward, keeping no argmax: a chain of np.maximum.

    NOTE: a NaN in a window makes its maximum NaN, as the reference does, but
    its gradient is dropped here (the backward matches values with ==).
    """
    out_hw = pool_geometry(x, kernel, stride, padding, dilation, ceil_mode)
    padded = pad_for_windows(x, padding, out_hw, kernel, stride, dilation, -np.inf)
    positions = list(window_slices(kernel, stride, dilation, out_hw))
    if len(positions) == 1:
        out = padded[positions[0]].copy()
    else:
        out = np.maximum(padded[positions[0]], padded[positions[1]])
    for index in positions[2:]:
        np.maximum(out, padded[index], out=out)
    best = out.copy()  # the backward's own: the caller may change `out` in place
    return out, (padded, best, (x.shape, padded.shape, padding, kernel, stride, dilation, out_hw))


def max_pool2d_backward(saved, grad):
    """The first position equal to the maximum takes the gradient, kernel position by position."""
    padded, best, geometry = saved
    taken = None  # windows whose maximum an earlier kernel position already took

    def first_winner(index):
        nonlocal taken
        winner = padded[index] == best
        if taken is None:
            taken = winner  # NOTE: aliased; the caller uses each mask before the next call
            return winner
        first = np.greater(winner, taken)  # winner and not taken: one pass on bools
        taken |= winner
        return first

    return scatter_windows(geometry, grad, first_winner)


# -- ReLU --------------------------------------------------------------------------------------
def relu_forward(a):
    """reference.relu_forward with a typed zero (a Python 0 missed NumPy's SIMD loop, 3x slower)."""
    return np.maximum(a, np.zeros((), dtype=a.dtype))


def relu_backward(grad, out):
    """reference.relu_backward: the mask is one pass on bytes, the product one on floats."""
    return np.multiply(grad, ~np.less_equal(out, 0))  # not (out <= 0): a NaN passes


# -- batch norm --------------------------------------------------------------------------------
def batch_norm_forward(x, weight, bias, eps):
    """reference.batch_norm_forward with the centred values reused and one temporary."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    mean = x.mean(axis=axes, keepdims=True)
    xhat = np.subtract(x, mean)
    var = np.square(xhat).mean(axis=axes, keepdims=True)
    invstd = np.reciprocal(np.sqrt(var + eps))
    xhat *= invstd
    out = xhat.copy() if weight is None else np.multiply(xhat, weight.reshape(shape))
    if bias is not None:
        out += bias.reshape(shape)
    return out, xhat, invstd, mean, var


def batch_norm_backward(grad, xhat, invstd, weight, need_x):
    """reference.batch_norm_backward, written into one array."""
    axes = (0,) + tuple(range(2, grad.ndim))
    count = grad.size // grad.shape[1]
    sum_grad = grad.sum(axis=axes, keepdims=True)
    sum_grad_xhat = np.multiply(grad, xhat).sum(axis=axes, keepdims=True)
    grad_x = None
    if need_x:
        scale = invstd if weight is None else invstd * weight.reshape(invstd.shape)
        grad_x = np.multiply(xhat, sum_grad_xhat / -count)
        grad_x += grad
        grad_x -= sum_grad / count
        grad_x *= scale
    return grad_x, sum_grad_xhat.reshape(-1), sum_grad.reshape(-1)


# -- Adam --------------------------------------------------------------------------------------
def adam_step(param, grad, m, v, v_max, lr, beta1, beta2, eps, step, work=None):
    """reference.adam_step through one scratch array `work` (shaped like param): no temporaries."""
    work = np.empty_like(param) if work is None else work
    np.subtract(grad, m, out=work)
    work *= 1 - beta1
    m += work  # m = beta1 m + (1 - beta1) g, as torch's lerp: m += (1 - beta1)(g - m)
    v *= beta2
    np.multiply(grad, 1 - beta2, out=work)
    work *= grad
    v += work  # v = beta2 v + (1 - beta2) g^2
    if v_max is not None:
        v = np.maximum(v_max, v, out=v_max)
    denominator = np.sqrt(v, out=work)
    denominator /= (1 - beta2**step) ** 0.5  # bias correction of v
    denominator += eps
    update = np.divide(m, denominator, out=work)
    update *= lr / (1 - beta1**step)  # bias correction of m
    param -= update
