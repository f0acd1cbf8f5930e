"""Fast 2-D convolution for the CPU, equal to `reference.conv2d_forward`/`conv2d_backward`.

Three layouts, picked per layer by its shape (`_layout`):

- "samples" (few input values per output, K = C*kh*kw <= SMALL_K, e.g. a first
  layer on 1-channel images): columns are (N, K [+ 1], Ho*Wo), sample after
  sample, and the forward is one stacked matmul whose output already is
  (N, O, Ho*Wo): no transpose, no crop. With a bias the columns carry a row
  of ones and the weight a bias column, so the bias is added inside the GEMM
  instead of in a pass over the output. Such layers are memory-bound (K is
  tiny): measured 1-thread, 64x1x28x28 -> 16 channels, forward 0.68-0.80 ms
  against 1.47-1.91 ms for the widened grid below, weight gradient 0.72 ms
  against 1.29 ms; a 1x1 stride-2 shortcut (64x16x14x14 -> 32) 0.14 against
  0.19 ms forward.
- "shifted" (stride 1, larger K, one group, when NumPy's OpenBLAS exposes
  cblas): no im2col, no col2im: kh*kw accumulating GEMMs on shifted views of
  the input laid out once with shared zero gaps (`cpu_conv_shifted.py`).
  Measured 1 thread (CPU time, interleaved, load 1.8-2.0), forward +
  backward of the suite's layers: 16->16 at 14x14 7.37 -> 4.78 ms, 16->32 at
  14x14 10.59 -> 9.29, 32->32 at 7x7 6.34 -> 4.27; more runs in
  benchmarks/README.md. Backward keeps the input once (C*L floats) where
  im2col kept kh*kw copies.
- "widened" (stride 1, larger K, when "shifted" cannot run: groups, no
  cblas): im2col on a WIDENED output grid, so every copy and every col2im
  add is one long contiguous run instead of many 14- or
  28-float rows (NumPy's per-row cost dominated those), and each product is
  ONE large GEMM (per-sample GEMMs measured 0.9-1.3x its time there: slower
  for the input gradient and for 16 or 32 channels at 7x7, so not adopted).

Other geometries (stride > 1 and a larger K, or groups at stride > 1) run the
reference, except the input gradient of a strided layer with one group, which
takes cpu_conv_shifted's phase planes when cblas is there (`_strided_input_gradient`).
"""

from __future__ import annotations

import numpy as np

from gradwork.ops.kernels import cpu_conv_shifted, reference
from gradwork.ops.windows import output_size

SMALL_K = 32  # at most this many values per output: the "samples" layout
SMALL_PLANE = 32  # ... and at least this many outputs per sample (else per-sample GEMMs are tiny)


def _layout(x, weight, stride, groups):
    """Which layout suits this layer: "samples", "shifted", "widened" or "reference"."""
    k = weight[0].size
    h, w = x.shape[2:]
    if groups == 1 and k <= SMALL_K and (h // stride[0]) * (w // stride[1]) >= SMALL_PLANE:
        return "samples"
    if stride == (1, 1) and cpu_conv_shifted.usable(x, weight, groups):
        return "shifted"
    return "widened" if stride == (1, 1) else "reference"


def stacked_matmul(a, b):
    """a @ b over a stack (one 2-D GEMM per sample): its own name so benchmarks can time it."""
    return np.matmul(a, b)


# -- "samples": one sample's columns after another ---------------------------------------------
def sample_im2col(x, kernel, stride, padding, dilation, ones_row):
    """Columns (N, C*kh*kw [+ 1], Ho*Wo) and (Ho, Wo); the extra row is ones (for a bias).

    Row (c, ki, kj) of sample n holds x_padded[n, c, i*s + ki*d, j*s + kj*d]
    over the output grid (i, j), the reference's columns regrouped by sample.
    """
    n, c, h, w = x.shape
    out_hw = tuple(
        output_size(s, k, st, p, d)
        for s, k, st, p, d in zip((h, w), kernel, stride, padding, dilation, strict=True)
    )
    padded = reference._zero_pad(x, padding)
    sn, sc, sh, sw = padded.strides
    shape = (n, c, kernel[0], kernel[1], *out_hw)
    strides = (sn, sc, sh * dilation[0], sw * dilation[1], sh * stride[0], sw * stride[1])
    view = np.lib.stride_tricks.as_strided(padded, shape, strides, writeable=False)
    k = c * kernel[0] * kernel[1]
    columns = np.empty_like(x, shape=(n, k + ones_row, out_hw[0] * out_hw[1]))
    columns[:, :k].reshape(shape)[...] = view  # the one copy
    if ones_row:
        columns[:, k] = 1
    return columns, out_hw


def _sample_col2im(grad_columns, x_shape, kernel, stride, padding, dilation, out_hw):
    """Add (N, C*kh*kw, Ho*Wo) columns into an (N, C, H, W) image: sample_im2col's adjoint.

    Each kernel position adds its block to one strided slice of the image,
    clipped to the outputs whose input lies inside (no padded buffer, no crop).
    """
    n, c, h, w = x_shape
    blocks = grad_columns.reshape(n, c, kernel[0], kernel[1], *out_hw)
    image = np.zeros_like(grad_columns, shape=x_shape)
    for i in range(kernel[0]):
        rows, row_range = _inside(i * dilation[0] - padding[0], stride[0], out_hw[0], h)
        for j in range(kernel[1]):
            cols, col_range = _inside(j * dilation[1] - padding[1], stride[1], out_hw[1], w)
            if rows is not None and cols is not None:
                image[:, :, rows, cols] += blocks[:, :, i, j, row_range, col_range]
    return image


def _inside(offset, stride, out_size, size):
    """(input slice, output slice) of the outputs o with 0 <= o*stride + offset < size."""
    first = max(0, -(offset // stride)) if offset < 0 else 0
    last = min(out_size, (size - 1 - offset) // stride + 1)  # exclusive
    if first >= last:
        return None, None
    start = offset + first * stride
    return slice(start, start + (last - first - 1) * stride + 1, stride), slice(first, last)


def _sample_forward(x, weight, bias, stride, padding, dilation):
    ones_row = bias is not None
    columns, out_hw = sample_im2col(x, weight.shape[2:], stride, padding, dilation, ones_row)
    w = weight.reshape(weight.shape[0], -1)
    if ones_row:  # the bias as one more weight column, multiplying the row of ones
        w = np.concatenate([w, bias.reshape(-1, 1)], axis=1)
    out = stacked_matmul(w, columns)
    return out.reshape(x.shape[0], -1, *out_hw), ("samples", columns, x.shape, out_hw)


def _sample_backward(saved, weight, grad, stride, padding, dilation, need_x, need_w):
    _, columns, x_shape, out_hw = saved
    n, o = grad.shape[:2]
    k = weight[0].size
    flat_grad = grad.reshape(n, o, -1)
    w = weight.reshape(o, k)
    grad_x = grad_w = None
    if need_w:  # per sample, then summed: (N, O, K) is small
        grad_w = stacked_matmul(flat_grad, columns[:, :k].transpose(0, 2, 1)).sum(axis=0)
        grad_w = grad_w.reshape(weight.shape)
    if need_x:
        grad_columns = stacked_matmul(np.ascontiguousarray(w.T), flat_grad)
        grad_x = _sample_col2im(grad_columns, x_shape, weight.shape[2:], stride, padding,
                                dilation, out_hw)  # fmt: skip
    return grad_x, grad_w


# -- "widened": stride 1, one GEMM over the batch ---------------------------------------------
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


def _widened_forward(x, weight, bias, padding, dilation, groups):
    columns, (ho, wo), width = widened_im2col(x, weight.shape[2:], padding, dilation, groups)
    w = weight.reshape(groups, weight.shape[0] // groups, -1)
    n = x.shape[0]
    grid = reference.grouped_matmul(w, columns).reshape(-1, n, ho, width)
    if bias is not None:
        grid += bias.reshape(-1, 1, 1, 1)
    # Drop the junk columns and transpose to (N, O, Ho, Wo): a plain copy. Adding the
    # bias on the way measured slower (1 thread, 64x32x14x14: 0.41 ms against 0.32 ms
    # for this add on the contiguous grid and the copy; 2.9 against 1.9 ms at 256).
    out = np.empty_like(grid, shape=(n, grid.shape[0], ho, wo))
    out[...] = grid[..., :wo].transpose(1, 0, 2, 3)
    return out, ("widened", columns, x.shape, (ho, wo))


def _widened_backward(saved, weight, grad, padding, dilation, groups, need_x, need_w):
    _, columns, x_shape, out_hw = saved
    flat_grad = _widened_grad(grad, groups, x_shape[3] + 2 * padding[1])
    w = weight.reshape(groups, weight.shape[0] // groups, -1)
    grad_x = grad_w = None
    if need_x:
        grad_columns = reference.grouped_matmul(w, flat_grad, transpose_a=True)
        grad_x = _widened_col2im(grad_columns, x_shape, weight.shape[2:], padding, dilation,
                                 out_hw)  # fmt: skip
    if need_w:
        # (columns @ grad^T)^T: the same product, 6-11% faster in this orientation for
        # 32 x 144 x 14336 (the CNN's second conv, 1 thread); within noise for 16 x 144
        # x 14336 and 32 x 288 x 4032
        grad_w = reference.grouped_matmul(columns, flat_grad, transpose_b=True)
        grad_w = grad_w.transpose(0, 2, 1).reshape(weight.shape)
    return grad_x, grad_w


# -- the kernels -------------------------------------------------------------------------------
def conv2d_forward(x, weight, bias, stride, padding, dilation, groups):
    """reference.conv2d_forward in the layout `_layout` picks for this layer."""
    layout = _layout(x, weight, stride, groups)
    if layout == "samples":
        return _sample_forward(x, weight, bias, stride, padding, dilation)
    if layout == "shifted":
        return cpu_conv_shifted.conv2d_forward(x, weight, bias, stride, padding, dilation)
    if layout == "widened":
        return _widened_forward(x, weight, bias, padding, dilation, groups)
    out, saved = reference.conv2d_forward(x, weight, bias, stride, padding, dilation, groups)
    return out, ("reference", saved)


def conv2d_backward(saved, weight, grad, stride, padding, dilation, groups, need_x, need_w):
    """reference.conv2d_backward for columns saved by `conv2d_forward` above."""
    if saved[0] == "samples":
        return _sample_backward(saved, weight, grad, stride, padding, dilation, need_x, need_w)
    if saved[0] == "shifted":
        return cpu_conv_shifted.conv2d_backward(saved, weight, grad, need_x, need_w)
    if saved[0] == "widened":
        return _widened_backward(saved, weight, grad, padding, dilation, groups, need_x, need_w)
    if need_x and cpu_conv_shifted.usable(grad, weight, groups):  # no col2im
        grad_x = _strided_input_gradient(saved[1], weight, grad, stride, padding, dilation)
        _, grad_w = reference.conv2d_backward(saved[1], weight, grad, stride, padding, dilation,
                                              groups, False, need_w)  # fmt: skip
        return grad_x, grad_w
    return reference.conv2d_backward(saved[1], weight, grad, stride, padding, dilation, groups,
                                     need_x, need_w)  # fmt: skip


def _strided_input_gradient(saved, weight, grad, stride, padding, dilation):
    """A strided layer's input gradient by cpu_conv_shifted's phase planes: kh*kw GEMMs
    adding into shifted windows instead of a GEMM and col2im's strided adds. The forward
    and weight gradient stay on the reference's columns: one GEMM each beat nine small
    ones there (1 thread, 64x16x14x14 -> 32 at stride 2: forward 1.09 against 1.32 ms,
    weight gradient 0.50 against 0.95; input gradient 1.29 against 1.99)."""
    x_shape = saved[1]
    grid = cpu_conv_shifted.make_grid(x_shape, weight.shape[2:], stride, padding, dilation)
    return cpu_conv_shifted.input_gradient(grid, weight, grid.spread(grad))
