"""Fast NumPy kernels for the CPU, each equal to its reference in `reference.py`.

What makes each fast, measured on MNIST-sized layers (2 cores):
- Convolution at stride 1 runs im2col on a WIDENED output grid, so every
  copy and every col2im add is one long contiguous run instead of many
  14- or 28-float rows (NumPy's per-row loop cost dominated those).
- Max pooling's forward is a chain of np.maximum (no argmax bookkeeping);
  the backward finds each window's first maximum one kernel position at a
  time, writing straight into strided slices.
- Adam updates through one reused scratch array: no temporaries.
"""

from __future__ import annotations

import numpy as np

from gradwork.ops.kernels import reference
from gradwork.ops.kernels.parallel import parallel_for
from gradwork.ops.windows import pad_for_windows, pool_geometry, scatter_windows, window_slices


# -- convolution -------------------------------------------------------------------------------
def widened_im2col(x, kernel, padding, dilation, groups):
    """Stride-1 columns on the WIDENED output grid: (G, C/G*kh*kw, N*Ho*Wp), (Ho, Wo), Wp.

    Letting each output row run the full padded width Wp (the last Wp - Wo
    positions are junk that the output drops) makes the window of kernel
    position (i, j) one contiguous run of Ho*Wp floats per (channel, sample)
    plane, starting at i*d*Wp + j*d. An extra zero row at the bottom keeps
    the last runs inside their plane. The GEMMs grow by Wp / Wo. Samples are
    copied in parallel slices.

    NOTE: the weight gradient multiplies the junk columns by exact zeros
    (see _widened_grad), so finite inputs give the reference's values; an
    inf in the input can add 0 * inf = nan where the reference has inf.
    """
    n, c, h, w_in = x.shape
    (kh, kw), (ph, pw), (dh, dw) = kernel, padding, dilation
    hp, wp = h + 2 * ph, w_in + 2 * pw
    ho, wo = hp - dh * (kh - 1), wp - dw * (kw - 1)
    padded = np.zeros_like(x, shape=(n, c, hp + 1, wp))
    sn, sc, sh, sw = padded.strides
    shape = (c, kh, kw, n, ho * wp)
    strides = (sc, sh * dh, sw * dw, sn, sw)
    view = np.lib.stride_tricks.as_strided(padded, shape, strides, writeable=False)
    columns = np.empty_like(x, shape=shape)

    def copy(lo, hi):
        padded[lo:hi, :, ph : ph + h, pw : pw + w_in] = x[lo:hi]
        columns[:, :, :, lo:hi] = view[:, :, :, lo:hi]  # the one copy

    parallel_for(n, copy, work=columns.size)
    return columns.reshape(groups, -1, n * ho * wp), (ho, wo), wp


def _widened_grad(grad, groups, width):
    """(N, O, Ho, Wo) -> (G, O/G, N*Ho*Wp): the GEMM layout, zeros in the junk columns."""
    n, o, ho, wo = grad.shape
    widened = np.empty_like(grad, shape=(o, n, ho, width))

    def copy(lo, hi):
        widened[:, lo:hi, :, :wo] = grad[lo:hi].transpose(1, 0, 2, 3)
        widened[:, lo:hi, :, wo:] = 0

    parallel_for(n, copy, work=widened.size)
    return widened.reshape(groups, o // groups, -1)


def _widened_col2im(columns, x_shape, kernel, padding, dilation, out_hw):
    """col2im at stride 1 on the widened grid: kh*kw LONG contiguous adds, then one crop.

    Kernel position (i, j) adds its whole (Ho, Wp) block to ONE flat slice
    of each padded (Hp + 1, Wp) plane, starting at i*d*Wp + j*d; the junk
    columns carry exact zeros. The planes are summed channels-first, as the
    columns come, and cropped into a contiguous (N, C, H, W) image: the
    layer below (pooling, ReLU) reads it twice as fast as a transposed view.
    Samples are summed in parallel slices.
    """
    n, c, h, w_in = x_shape
    (kh, kw), (ph, pw), (dh, dw) = kernel, padding, dilation
    ho = out_hw[0]
    hp, wp = h + 2 * ph, w_in + 2 * pw
    blocks = columns.reshape(c, kh, kw, n, ho * wp)
    planes = np.zeros_like(columns, shape=(c, n, (hp + 1) * wp))
    image = planes[:, :, : hp * wp].reshape(c, n, hp, wp)[:, :, ph : ph + h, pw : pw + w_in]
    grad_x = np.empty_like(columns, shape=x_shape)

    def add(lo, hi):
        for i in range(kh):
            for j in range(kw):
                start = i * dh * wp + j * dw
                planes[:, lo:hi, start : start + ho * wp] += blocks[:, i, j, lo:hi]
        grad_x[lo:hi] = image[:, lo:hi].transpose(1, 0, 2, 3)

    parallel_for(n, add, work=columns.size)
    return grad_x


def conv2d_forward(x, weight, bias, stride, padding, dilation, groups):
    """reference.conv2d_forward; at stride 1 through the widened grid, the bias added on the way."""
    if stride != (1, 1):
        return reference.conv2d_forward(x, weight, bias, stride, padding, dilation, groups)
    columns, (ho, wo), width = widened_im2col(x, weight.shape[2:], padding, dilation, groups)
    w = weight.reshape(groups, weight.shape[0] // groups, -1)
    n = x.shape[0]
    grid = reference.grouped_matmul(w, columns).reshape(-1, n, ho, width)
    out = np.empty_like(grid, shape=(n, grid.shape[0], ho, wo))
    shift = 0 if bias is None else bias.reshape(-1, 1, 1)

    def to_nchw(lo, hi):  # drop the junk columns, transpose, add the bias: one pass
        np.add(grid[:, lo:hi, :, :wo].transpose(1, 0, 2, 3), shift, out=out[lo:hi])

    parallel_for(n, to_nchw, work=out.size)
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
    """reference.max_pool2d_forward, keeping no argmax: a chain of np.maximum, samples in parallel.

    NOTE: a NaN in a window makes its maximum NaN, as the reference does, but
    its gradient is dropped here (the backward matches values with ==).
    """
    out_hw = pool_geometry(x, kernel, stride, padding, dilation, ceil_mode)
    padded = pad_for_windows(x, padding, out_hw, kernel, stride, dilation, -np.inf)
    positions = list(window_slices(kernel, stride, dilation, out_hw))
    out = np.empty_like(x, shape=(*x.shape[:2], *out_hw))
    best = np.empty_like(out)  # the backward's own copy: the caller may change `out` in place

    def pool(lo, hi):
        block, target = padded[lo:hi], out[lo:hi]
        np.copyto(target, block[positions[0]])
        for index in positions[1:]:
            np.maximum(target, block[index], out=target)
        best[lo:hi] = target

    parallel_for(x.shape[0], pool, work=padded.size)
    return out, (padded, best, (x.shape, padded.shape, padding, kernel, stride, dilation, out_hw))


def max_pool2d_backward(saved, grad):
    """The first position equal to the maximum takes the gradient, kernel position by position."""
    padded, out, (x_shape, padded_shape, *rest) = saved
    n, c, h, w = x_shape
    image = np.empty_like(grad, shape=x_shape)

    def scatter(lo, hi):
        taken = None  # windows whose maximum an earlier kernel position already took
        block, best = padded[lo:hi], out[lo:hi]

        def first_winner(index):
            nonlocal taken
            winner = block[index] == best
            if taken is None:
                taken = winner  # NOTE: aliased; the caller uses each mask before the next call
                return winner
            first = np.greater(winner, taken)  # winner and not taken: one pass on bools
            taken |= winner
            return first

        geometry = ((hi - lo, c, h, w), (hi - lo, *padded_shape[1:]), *rest)
        image[lo:hi] = scatter_windows(geometry, grad[lo:hi], first_winner)

    parallel_for(n, scatter, work=padded.size)
    return image


# -- ReLU --------------------------------------------------------------------------------------
def relu_forward(a):
    """reference.relu_forward in parallel slices."""
    out = np.empty(a.shape, dtype=a.dtype)  # C order, so its flat view writes through
    flat_in, flat_out = a.reshape(-1), out.reshape(-1)
    zero = np.zeros((), dtype=a.dtype)  # a typed 0: NumPy's SIMD loop (a Python 0 missed it)

    def relu(lo, hi):
        np.maximum(flat_in[lo:hi], zero, out=flat_out[lo:hi])

    parallel_for(flat_in.size, relu, work=flat_in.size)
    return out


def relu_backward(grad, out):
    """reference.relu_backward in parallel slices."""
    result = np.empty(grad.shape, dtype=grad.dtype)
    flat_grad, flat_out, flat_result = grad.reshape(-1), out.reshape(-1), result.reshape(-1)

    def mask(lo, hi):
        keep = np.less_equal(flat_out[lo:hi], 0)
        np.logical_not(keep, out=keep)  # not (out <= 0): a NaN passes, as in the reference
        np.multiply(flat_grad[lo:hi], keep, out=flat_result[lo:hi])

    parallel_for(flat_grad.size, mask, work=flat_grad.size)
    return result


# -- batch norm --------------------------------------------------------------------------------
def batch_norm_forward(x, weight, bias, eps):
    """reference.batch_norm_forward, channels in parallel slices, one temporary per slice."""
    axes = (0,) + tuple(range(2, x.ndim))
    stats_shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    xhat, out = np.empty(x.shape, x.dtype), np.empty(x.shape, x.dtype)
    mean, var, invstd = (np.empty(stats_shape, x.dtype) for _ in range(3))
    weight = None if weight is None else weight.reshape(stats_shape)
    bias = None if bias is None else bias.reshape(stats_shape)

    def normalise(lo, hi):
        part, centred = x[:, lo:hi], xhat[:, lo:hi]
        mean[:, lo:hi] = part.mean(axis=axes, keepdims=True)
        np.subtract(part, mean[:, lo:hi], out=centred)
        var[:, lo:hi] = np.square(centred).mean(axis=axes, keepdims=True)
        np.sqrt(var[:, lo:hi] + eps, out=invstd[:, lo:hi])
        np.reciprocal(invstd[:, lo:hi], out=invstd[:, lo:hi])
        centred *= invstd[:, lo:hi]
        if weight is None:
            out[:, lo:hi] = centred
        else:
            np.multiply(centred, weight[:, lo:hi], out=out[:, lo:hi])
        if bias is not None:
            out[:, lo:hi] += bias[:, lo:hi]

    parallel_for(x.shape[1], normalise, work=x.size)
    return out, xhat, invstd, mean, var


def batch_norm_backward(grad, xhat, invstd, weight, need_x):
    """reference.batch_norm_backward, channels in parallel slices."""
    axes = (0,) + tuple(range(2, grad.ndim))
    channels = grad.shape[1]
    count = grad.size // channels
    sum_grad, sum_grad_xhat = np.empty(channels, grad.dtype), np.empty(channels, grad.dtype)
    grad_x = np.empty(grad.shape, grad.dtype) if need_x else None
    scale = invstd if weight is None else invstd * weight.reshape(invstd.shape)

    def backward(lo, hi):
        g, xh = grad[:, lo:hi], xhat[:, lo:hi]
        sum_grad[lo:hi] = g.sum(axis=axes)
        sum_grad_xhat[lo:hi] = (g * xh).sum(axis=axes)
        if need_x:
            shape = (1, hi - lo) + (1,) * (grad.ndim - 2)
            target = grad_x[:, lo:hi]
            np.multiply(xh, (sum_grad_xhat[lo:hi] / -count).reshape(shape), out=target)
            target += g
            target -= (sum_grad[lo:hi] / count).reshape(shape)
            target *= scale[:, lo:hi]

    parallel_for(channels, backward, work=grad.size)
    return grad_x, sum_grad_xhat, sum_grad


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
