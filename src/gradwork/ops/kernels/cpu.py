"""Fast NumPy kernels for the CPU, each equal to its reference in `reference.py`.

What makes each fast, measured on MNIST-sized layers (2 cores):
- Convolution (`cpu_conv.py`): columns laid out per sample for layers with
  few inputs per output (the bias inside the GEMM), or on a WIDENED output
  grid at stride 1, so copies run long and contiguous.
- Max pooling over disjoint windows (2x2 stride 2): one strided copy
  regroups the windows into "phase" planes; maxima and each window's first
  maximum (an int8 index) are then contiguous passes, and the backward
  writes each plane's gradient once. Overlapping windows: a chain of
  np.maximum over strided slices, the first maximum found again in backward.
  Without a graph (no_grad, inference) nothing is kept for a backward.
- Batch norm sums per channel with einsum (no temporaries, about 3x faster
  than `sum(axis=(0, 2, 3))`), reuses the centred values and writes its
  gradient into one array; ReLU's forward runs NumPy's two-array SIMD loop
  against a row of zeros, its backward is a mask and a product.
- Adam updates through one reused scratch array: no temporaries.
"""

from __future__ import annotations

import numpy as np

from gradwork.autograd.grad_mode import is_grad_enabled
from gradwork.ops.kernels.cpu_conv import conv2d_backward, conv2d_forward  # noqa: F401
from gradwork.ops.windows import pad_for_windows, pool_geometry, scatter_windows, window_slices


# -- max pooling -------------------------------------------------------------------------------
def max_pool2d_forward(x, kernel, stride, padding, dilation, ceil_mode):
    """reference.max_pool2d_forward: by tiles when the windows tile the image, else by windows.

    NOTE: a NaN in a window makes its maximum NaN (np.maximum), as torch does,
    where the reference skips it; its gradient may then go to another element.
    """
    out_hw = pool_geometry(x, kernel, stride, padding, dilation, ceil_mode)
    tiled = kernel == stride and padding == (0, 0) and dilation == (1, 1)
    if tiled and all(o * k <= s for o, k, s in zip(out_hw, kernel, x.shape[2:], strict=True)):
        return _tiled_max_pool(x, kernel, out_hw)
    return _windowed_max_pool(x, kernel, stride, padding, dilation, out_hw)


def max_pool2d_backward(saved, grad):
    """Each window's gradient to its first maximum, from what the forward kept."""
    if saved[0] == "tiles":
        return _tiled_max_pool_backward(saved, grad)
    return _windowed_max_pool_backward(saved, grad)


def _tiled_max_pool(x, kernel, out_hw):
    """Disjoint windows (kernel == stride, e.g. 2x2): one strided copy, then contiguous passes.

    One copy regroups x into kh*kw "phase" planes, plane p holding the p-th
    element (row-major) of every window; the maximum and the index of each
    window's FIRST maximum are then passes over contiguous planes (SIMD),
    where strided slices cost a scalar loop each. The index is kept as int8,
    a quarter of the float copy of the maximum the windowed form keeps.
    Measured 1 thread, 64x16x28x28: forward and backward 2.0 ms against
    3.1 ms by windows; 64x32x14x14: 1.7 against 2.3 ms.
    """
    n, c = x.shape[:2]
    (kh, kw), (ho, wo) = kernel, out_hw
    if x.size and not is_grad_enabled() and kernel == (2, 2) and (2 * ho, 2 * wo) == x.shape[2:]:
        return _pairwise_max_pool(x), None  # no graph, no backward: keep nothing
    tiles = x[:, :, : ho * kh, : wo * kw].reshape(n, c, ho, kh, wo, kw)
    phases = np.ascontiguousarray(tiles.transpose(3, 5, 0, 1, 2, 4)).reshape(kh * kw, n, c, ho, wo)
    out = phases[0].copy() if kh * kw == 1 else np.maximum(phases[0], phases[1])
    for phase in phases[2:]:
        np.maximum(out, phase, out=out)
    if not is_grad_enabled():
        return out, None
    # first maximum = kh*kw - 1 - (how many of the cumulative "seen a maximum" flags are set)
    winner = np.full_like(out, kh * kw - 1, dtype=np.int8)
    seen = None
    for phase in phases[:-1]:
        hit = np.equal(phase, out)
        seen = hit if seen is None else np.logical_or(seen, hit, out=seen)
        winner -= seen
    return out, ("tiles", winner, x.shape, kernel)


def _pairwise_max_pool(x):
    """2x2 windows tiling x, forward only: one contiguous pass, then one over half the data.

    pairs[i] = max(x[i], x[i + 1]) over the flat array is one SIMD pass; at
    every even i it is the maximum of a window's row (W is even), so each
    window's maximum is that of two such entries, rows 2r and 2r + 1.
    Measured 1 thread, 256x16x28x28: 2.96 ms against 4.84 ms by phase planes.
    """
    n, c, h, w = x.shape
    flat = x.reshape(-1)  # a copy only if x is not contiguous
    pairs = np.empty_like(flat)
    np.maximum(flat[:-1], flat[1:], out=pairs[:-1])
    pairs[-1] = 0  # never read: the last element starts no pair
    rows = pairs.reshape(n * c * h // 2, 2, w // 2, 2)  # (window row, top/bottom, column, even/odd)
    return np.maximum(rows[:, 0, :, 0], rows[:, 1, :, 0]).reshape(n, c, h // 2, w // 2)


def _tiled_max_pool_backward(saved, grad):
    _, winner, x_shape, (kh, kw) = saved
    n, c, h, w = x_shape
    ho, wo = grad.shape[2:]
    exact = (ho * kh, wo * kw) == (h, w)  # else the rows/columns no window reads get zeros
    image = (np.empty_like if exact else np.zeros_like)(grad, shape=x_shape)
    # splitting each axis in two: a view even of the cropped image (writes land in `image`)
    tiles = image[:, :, : ho * kh, : wo * kw].reshape(n, c, ho, kh, wo, kw)
    for p in range(kh * kw):
        np.multiply(grad, winner == p, out=tiles[:, :, :, p // kw, :, p % kw])
    return image


def _windowed_max_pool(x, kernel, stride, padding, dilation, out_hw):
    """Any windows: a chain of np.maximum over the strided slice each kernel position sees."""
    padded = pad_for_windows(x, padding, out_hw, kernel, stride, dilation, -np.inf)
    positions = list(window_slices(kernel, stride, dilation, out_hw))
    if len(positions) == 1:
        out = padded[positions[0]].copy()
    else:
        out = np.maximum(padded[positions[0]], padded[positions[1]])
    for index in positions[2:]:
        np.maximum(out, padded[index], out=out)
    if not is_grad_enabled():
        return out, None
    best = out.copy()  # the backward's own: the caller may change `out` in place
    geometry = (x.shape, padded.shape, padding, kernel, stride, dilation, out_hw)
    return out, ("windows", padded, best, geometry)


def _windowed_max_pool_backward(saved, grad):
    """The first position equal to the maximum takes the gradient, kernel position by position."""
    _, padded, best, geometry = saved
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
RELU_ROW = 4096  # the zero row np.maximum is broadcast along (see relu_forward)


def relu_forward(a):
    """reference.relu_forward: np.maximum against a ROW of zeros, not a scalar zero.

    NumPy 2.4's maximum has a SIMD loop for two contiguous operands but not for
    a 0-d one (measured 1 thread, 64x16x28x28 float32: 0.45 ms against a 0-d
    zero, 0.23 ms as (-1, 4096) rows against a 4096-zero row; with a Python 0,
    slower still). A contiguous float array is viewed as such rows, plus a
    short tail.
    """
    zero = np.zeros((), dtype=a.dtype)
    if a.dtype.kind != "f" or not a.flags.c_contiguous or a.size < RELU_ROW:
        return np.maximum(a, zero)
    flat = a.reshape(-1)
    out = np.empty_like(flat)
    whole = flat.size - flat.size % RELU_ROW
    zeros = np.zeros_like(flat, shape=RELU_ROW)
    np.maximum(flat[:whole].reshape(-1, RELU_ROW), zeros, out=out[:whole].reshape(-1, RELU_ROW))
    np.maximum(flat[whole:], zeros[: flat.size - whole], out=out[whole:])
    return out.reshape(a.shape)


def relu_backward(grad, out):
    """reference.relu_backward for `out` = relu_forward(...): a byte mask, then the product.

    `out` is 0, positive or NaN, so "not (out <= 0)" is "out != 0", one pass
    fewer than negating a mask (measured 0.33 against 0.40 ms on 800k floats).
    The product is computed in grad's dtype (`dtype=`: the mask cast on the
    fly): 0.27 against 0.37 ms for float32 * bool on 800k floats, 1 thread.
    A NaN passes its gradient on, as in the reference.
    """
    return np.multiply(grad, np.not_equal(out, 0), dtype=grad.dtype)


# -- batch norm --------------------------------------------------------------------------------
def _channel_sums(a, b=None):
    """Per-channel sums over every axis but 1 of a (or of a * b), shape (C,).

    einsum runs each (sample, channel) row in one SIMD loop without a
    temporary (3x faster than `a.sum(axis=(0, 2, 3))`, whose reduction over
    non-adjacent axes walks short rows); the rows' sums are then added
    pairwise over the batch.
    """
    rows = a.reshape(a.shape[0], a.shape[1], -1)
    if b is None:
        return np.einsum("ncl->nc", rows).sum(axis=0)
    return np.einsum("ncl,ncl->nc", rows, b.reshape(rows.shape)).sum(axis=0)


def channel_sums(a):
    """reference.channel_sums through einsum's rows (measured, 1 thread, a 64x16x28x28
    float32 gradient: 66 against 188 us for `sum(axis=(0, 2, 3))`)."""
    return _channel_sums(a)


def batch_norm_forward(x, weight, bias, eps):
    """reference.batch_norm_forward: einsum channel sums, the centred values reused."""
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    count = x.size // x.shape[1]
    mean = (_channel_sums(x) / count).reshape(shape)
    xhat = np.subtract(x, mean)
    var = (_channel_sums(xhat, xhat) / count).reshape(shape)
    invstd = np.reciprocal(np.sqrt(var + eps))
    xhat *= invstd
    out = xhat.copy() if weight is None else np.multiply(xhat, weight.reshape(shape))
    if bias is not None:
        out += bias.reshape(shape)
    return out, xhat, invstd, mean, var


def batch_norm_backward(grad, xhat, invstd, weight, need_x):
    """reference.batch_norm_backward: einsum channel sums, the gradient written into one array."""
    count = grad.size // grad.shape[1]
    sum_grad = _channel_sums(grad)
    sum_grad_xhat = _channel_sums(grad, xhat)
    grad_x = None
    if need_x:
        shape = invstd.shape
        scale = invstd if weight is None else invstd * weight.reshape(shape)
        grad_x = np.multiply(xhat, sum_grad_xhat.reshape(shape) / -count)
        grad_x += grad
        grad_x -= sum_grad.reshape(shape) / count
        grad_x *= scale
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
