"""Reference kernels: the plain NumPy form of each hot loop, the definition the fast ones equal.

Each function here is written to be read: one algorithm, no layout tricks.
They are xp-generic: arrays are made with `xp = xp_of(x)` or NumPy's `*_like`
functions, so the same code runs on NumPy, CuPy and the CPU stand-in
(kernels/__init__.py sends device arrays here).
The fast kernels (`cpu.py`) must give the same values, which
tests/ops/test_kernels.py checks on random geometries; the ops call
whichever `gradwork.ops.kernels` selects.

Convolution layouts (G = groups, K = channels-per-group * kh * kw, L = N * Ho * Wo):
    columns: (G, K, L), ordered (channel, ki, kj) x (n, i, j)
    weight:  (G, out-per-group, K)
"""

from __future__ import annotations

import numpy as np

from gradwork._arrays import xp_of
from gradwork.ops.windows import output_size, pad_for_windows, pool_geometry, window_slices


# -- convolution: im2col, one GEMM per group, col2im --------------------------------------------
def _zero_pad(x, padding):
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    padded = np.zeros_like(x, shape=(*x.shape[:2], x.shape[2] + 2 * ph, x.shape[3] + 2 * pw))
    padded[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]] = x
    return padded


def im2col(x, kernel, stride, padding, dilation, groups):
    """Columns (G, C/G*kh*kw, N*Ho*Wo) of x (N, C, H, W), and (Ho, Wo).

    A (C, kh, kw, N, Ho, Wo) strided VIEW of the padded input names every
    receptive field; one copy makes it the column matrix.
    """
    n, c, h, w = x.shape
    out_hw = tuple(
        output_size(s, k, st, p, d)
        for s, k, st, p, d in zip((h, w), kernel, stride, padding, dilation, strict=False)
    )
    padded = _zero_pad(x, padding)
    sn, sc, sh, sw = padded.strides
    shape = (c, kernel[0], kernel[1], n, *out_hw)
    strides = (sc, sh * dilation[0], sw * dilation[1], sn, sh * stride[0], sw * stride[1])
    xp = xp_of(padded)
    if xp is np:
        view = np.lib.stride_tricks.as_strided(padded, shape, strides, writeable=False)
    else:  # CuPy's as_strided has no `writeable`
        view = xp.lib.stride_tricks.as_strided(padded, shape, strides)
    columns = xp.ascontiguousarray(view)  # the one copy
    return columns.reshape(groups, -1, n * out_hw[0] * out_hw[1]), out_hw


def col2im(columns, x_shape, kernel, stride, padding, dilation, out_hw):
    """Add columns (G, C/G*kh*kw, N*Ho*Wo) back into an image of shape x_shape: im2col's adjoint.

    One strided add per kernel position. The sum is built channels-first,
    (C, N, H, W), so each add reads its block contiguously; the result is an
    (N, C, H, W) view of it (no final copy).
    """
    n, c, h, w = x_shape
    ph, pw = padding
    image = np.zeros_like(columns, shape=(c, n, h + 2 * ph, w + 2 * pw))
    blocks = columns.reshape(c, kernel[0], kernel[1], n, *out_hw)
    for k, index in enumerate(window_slices(kernel, stride, dilation, out_hw)):
        image[index] += blocks[:, k // kernel[1], k % kernel[1]]
    return image[:, :, ph : ph + h, pw : pw + w].transpose(1, 0, 2, 3)


def grouped_matmul(a, b, transpose_a=False, transpose_b=False):
    """a[g] @ b[g] for each group, with optional transposes, as 2-D GEMMs.

    NOTE: np.matmul on 3-D stacks falls back to a slow non-BLAS loop when an
    operand is a transposed view (measured 20x slower); 2-D `@` hands the
    transpose to BLAS instead.
    """
    if transpose_a:
        a = a.transpose(0, 2, 1)
    if transpose_b:
        b = b.transpose(0, 2, 1)
    if a.shape[0] == 1:
        return (a[0] @ b[0])[None]
    return np.stack([x @ y for x, y in zip(a, b, strict=False)])


def to_nchw(flat, n, out_hw):
    """(G, O/G, N*Ho*Wo) GEMM output -> (N, O, Ho, Wo), contiguous."""
    out = flat.reshape(-1, n, *out_hw).transpose(1, 0, 2, 3)
    return xp_of(out).ascontiguousarray(out)


def from_nchw(grad, groups):
    """(N, O, Ho, Wo) -> (G, O/G, N*Ho*Wo), the layout of the GEMM output."""
    n, o = grad.shape[:2]
    flat = grad.reshape(n, o, -1).transpose(1, 0, 2)
    return xp_of(flat).ascontiguousarray(flat).reshape(groups, o // groups, -1)


def conv2d_forward(x, weight, bias, stride, padding, dilation, groups):
    """(out, saved): the cross-correlation (N, O, Ho, Wo) plus bias; saved feeds the backward.

    out[n, o, i, j] = bias[o] + sum over c, ki, kj of
        weight[o, c, ki, kj] * x_padded[n, c, i*s + ki*d, j*s + kj*d],
    which is one GEMM of the grouped weight with im2col's columns.
    """
    columns, out_hw = im2col(x, weight.shape[2:], stride, padding, dilation, groups)
    w = weight.reshape(groups, weight.shape[0] // groups, -1)
    out = to_nchw(grouped_matmul(w, columns), x.shape[0], out_hw)
    if bias is not None:
        out += bias.reshape(-1, 1, 1)
    return out, (columns, x.shape, out_hw)


def conv2d_backward(saved, weight, grad, stride, padding, dilation, groups, need_x, need_w):
    """(grad_x, grad_w), None where not needed: the two GEMMs of the forward's transpose."""
    columns, x_shape, out_hw = saved
    flat_grad = from_nchw(grad, groups)
    w = weight.reshape(groups, weight.shape[0] // groups, -1)
    grad_x = grad_w = None
    if need_x:
        grad_columns = grouped_matmul(w, flat_grad, transpose_a=True)
        grad_x = col2im(grad_columns, x_shape, weight.shape[2:], stride, padding, dilation, out_hw)
    if need_w:
        grad_w = grouped_matmul(flat_grad, columns, transpose_b=True).reshape(weight.shape)
    return grad_x, grad_w


# -- max pooling: the first maximum of each window takes the gradient --------------------------
def max_pool2d_forward(x, kernel, stride, padding, dilation, ceil_mode):
    """(out, saved): each window's maximum (padding is -inf), and which kernel position won.

    The winner is the FIRST maximum in row-major window order, torch's rule on
    ties (common after a ReLU: all-zero windows).
    """
    out_hw = pool_geometry(x, kernel, stride, padding, dilation, ceil_mode)
    padded = pad_for_windows(x, padding, out_hw, kernel, stride, dilation, -np.inf)
    out = np.full_like(x, -np.inf, shape=(*x.shape[:2], *out_hw))
    winner = np.zeros_like(x, dtype=np.int16, shape=out.shape)
    for k, index in enumerate(window_slices(kernel, stride, dilation, out_hw)):
        seen = padded[index]
        better = seen > out
        np.copyto(out, seen, where=better)
        winner[better] = k
    return out, (winner, x.shape, padded.shape, padding, kernel, stride, dilation, out_hw)


def max_pool2d_backward(saved, grad):
    """Each window's gradient, sent to the input its maximum came from."""
    winner, x_shape, padded_shape, padding, kernel, stride, dilation, out_hw = saved
    image = np.zeros_like(grad, shape=(*x_shape[:2], *padded_shape[2:]))
    for k, index in enumerate(window_slices(kernel, stride, dilation, out_hw)):
        image[index] += np.where(winner == k, grad, 0)
    ph, pw = padding
    return image[:, :, ph : ph + x_shape[2], pw : pw + x_shape[3]]


# -- ReLU --------------------------------------------------------------------------------------
def relu_forward(a):
    """max(a, 0); a NaN stays NaN."""
    return np.maximum(a, a.dtype.type(0))


def relu_backward(grad, out):
    """The gradient where the output is positive, 0 where it is 0 (torch takes 0 at exactly 0).

    A NaN output passes its gradient on (NaN <= 0 is false), as torch's threshold backward.
    """
    return grad * ~(out <= 0)


# -- batch norm with the batch's own statistics -----------------------------------------------
def subtract_at_target(grad, target, amount):
    """grad[i, target[i], ...] -= amount[i, 0, ...] in place (class axis 1): the one-hot
    part of a cross-entropy gradient. `amount` broadcasts to (N, 1, ...)."""
    if grad.ndim == 2:  # NOTE: fancy indexing costs far less than put_along_axis here
        rows = xp_of(grad).arange(grad.shape[0])
        grad[rows, target] -= np.broadcast_to(amount, (grad.shape[0], 1))[:, 0]
        return
    index = np.expand_dims(target, 1)
    np.put_along_axis(grad, index, np.take_along_axis(grad, index, axis=1) - amount, axis=1)


def _channel_axes(x):
    return (0,) + tuple(range(2, x.ndim))


def channel_sums(a):
    """The sums over every axis but 1, shape (C,): a convolution's bias gradient."""
    return a.sum(axis=_channel_axes(a))


def batch_norm_forward(x, weight, bias, eps):
    """(out, xhat, invstd, mean, var): x (N, C, ...) normalised per channel over the batch.

        mean, var = the mean and (biased) variance of x over every axis but 1
        xhat = (x - mean) / sqrt(var + eps),  out = xhat * weight + bias

    invstd, mean and var keep x's dims, (1, C, 1, ...).
    """
    axes = _channel_axes(x)
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    invstd = 1 / np.sqrt(var + eps)
    xhat = (x - mean) * invstd
    out = xhat.copy() if weight is None else xhat * weight.reshape(shape)
    if bias is not None:
        out += bias.reshape(shape)
    return out, xhat, invstd, mean, var


def batch_norm_backward(grad, xhat, invstd, weight, need_x):
    """(grad_x or None, sum of grad * xhat, sum of grad), the sums per channel, shape (C,).

    The closed form of the input gradient, with m the count per channel:
        grad_x = weight * invstd * (grad - sum(grad) / m - xhat * sum(grad * xhat) / m)
    """
    axes = _channel_axes(grad)
    sum_grad = grad.sum(axis=axes, keepdims=True)
    sum_grad_xhat = (grad * xhat).sum(axis=axes, keepdims=True)
    grad_x = None
    if need_x:
        count = grad.size // grad.shape[1]
        scale = invstd if weight is None else invstd * weight.reshape(invstd.shape)
        grad_x = scale * (grad - sum_grad / count - xhat * (sum_grad_xhat / count))
    return grad_x, sum_grad_xhat.reshape(-1), sum_grad.reshape(-1)


# -- Adam's update of one parameter, in place --------------------------------------------------
def adam_step(param, grad, m, v, v_max, lr, beta1, beta2, eps, step, work=None):
    """torch.optim.Adam's update, in place on param, m, v (and v_max when amsgrad).

    `work` (a scratch array the fast kernel writes through) is not needed here.

        m = beta1 m + (1 - beta1) g
        v = beta2 v + (1 - beta2) g^2
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    NOTE: m moves as torch's lerp does, m + (1 - beta1)(g - m): the same
    value in exact arithmetic, the same rounding as torch in float32.
    """
    m += (1 - beta1) * (grad - m)
    v *= beta2
    v += (1 - beta2) * grad * grad
    if v_max is not None:
        np.maximum(v_max, v, out=v_max)
        v = v_max
    denominator = np.sqrt(v) / (1 - beta2**step) ** 0.5 + eps
    param -= lr / (1 - beta1**step) * (m / denominator)
