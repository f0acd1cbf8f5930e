"""Convolution primitives: 2-D convolution and its transpose, by im2col and one GEMM.

Fused for speed: a convolution composed from slicing and matmul would cost
kh*kw graph nodes. Here the forward gathers every receptive field into a
column matrix through a strided *view* of the padded input (one copy, no
Python loop over samples or pixels) and multiplies it by the weight in one
GEMM (batched over groups). The backward is two GEMMs plus a col2im that
adds the columns back with one strided add per kernel position (kh*kw adds,
no `np.add.at`).

Layouts (G = groups, K = channels-per-group * kh * kw, L = N * Ho * Wo):
    columns: (G, K, L), ordered (channel, ki, kj) x (n, i, j)
    weight:  (G, out-per-group, K)
"""

from __future__ import annotations

import numpy as np

from gradwork.autograd import Function


def output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Length of a convolution's output along one axis (torch's formula)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _pad(x, padding):
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    padded = np.zeros_like(x, shape=(*x.shape[:2], x.shape[2] + 2 * ph, x.shape[3] + 2 * pw))
    padded[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]] = x
    return padded


def _window_view(padded, kernel, stride, dilation, out_hw):
    """A (C, kh, kw, N, Ho, Wo) view of the padded input: no copy."""
    sn, sc, sh, sw = padded.strides
    n, c = padded.shape[:2]
    shape = (c, kernel[0], kernel[1], n, out_hw[0], out_hw[1])
    strides = (sc, sh * dilation[0], sw * dilation[1], sn, sh * stride[0], sw * stride[1])
    return np.lib.stride_tricks.as_strided(padded, shape, strides, writeable=False)


def im2col(x, kernel, stride, padding, dilation, groups):
    """Columns (G, C/G*kh*kw, N*Ho*Wo) of x (N, C, H, W), and (Ho, Wo)."""
    n, c, h, w = x.shape
    out_hw = tuple(
        output_size(s, k, st, p, d)
        for s, k, st, p, d in zip((h, w), kernel, stride, padding, dilation, strict=False)
    )
    view = _window_view(_pad(x, padding), kernel, stride, dilation, out_hw)
    columns = np.ascontiguousarray(view)  # the one copy
    return columns.reshape(groups, -1, n * out_hw[0] * out_hw[1]), out_hw


def col2im(columns, x_shape, kernel, stride, padding, dilation, out_hw):
    """Add columns (G, C/G*kh*kw, N*Ho*Wo) back into an image of shape x_shape.

    The sum is built channels-first, (C, N, H, W), so each of the kh*kw adds
    reads its block contiguously; the result is returned as an (N, C, H, W)
    view of it (no final copy).
    """
    n, c, h, w = x_shape
    ph, pw = padding
    image = np.zeros_like(columns, shape=(c, n, h + 2 * ph, w + 2 * pw))
    blocks = columns.reshape(c, kernel[0], kernel[1], n, *out_hw)
    ho, wo = out_hw
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            top, left = i * dilation[0], j * dilation[1]
            target = image[
                :,
                :,
                top : top + stride[0] * (ho - 1) + 1 : stride[0],
                left : left + stride[1] * (wo - 1) + 1 : stride[1],
            ]
            target += blocks[:, i, j]
    return image[:, :, ph : ph + h, pw : pw + w].transpose(1, 0, 2, 3)


def widened_im2col(x, kernel, padding, dilation, groups):
    """Stride-1 columns on the WIDENED output grid: (G, C/G*kh*kw, N*Ho*Wp), (Ho, Wo), Wp.

    WHY: im2col's copy runs along output rows (14 or 7 floats per inner loop
    at MNIST sizes, where NumPy's per-loop cost dominates). Letting each
    output row run the full padded width Wp (the last Wp - Wo positions are
    junk that `_to_nchw` drops) makes the window of kernel position (i, j)
    one contiguous run of Ho*Wp floats per (channel, sample) plane, starting
    at i*d*Wp + j*d. An extra zero row at the bottom keeps the last runs
    inside their plane. The GEMMs grow by Wp / Wo.

    NOTE: the weight gradient multiplies the junk columns by exact zeros
    (see _widened_grad), so finite inputs give the same values as the plain
    layout; an inf in the input can add 0 * inf = nan where torch has inf.
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
    widened = np.zeros_like(grad, shape=(o, n, ho, width))
    widened[..., :wo] = grad.transpose(1, 0, 2, 3)
    return widened.reshape(groups, o // groups, -1)


def _input_grad_stride1(widened, w, x_shape, kernel, padding, dilation, out_hw):
    """Conv2d's input gradient at stride 1, with col2im as kh*kw LONG contiguous adds.

    `widened` is the output gradient on the widened grid (see widened_im2col),
    zero in the junk columns. Kernel position (i, j) then adds its whole
    (Ho, Wp) block to ONE flat slice of each padded (Hp + 1, Wp) plane,
    starting at i*d*Wp + j*d; the junk columns add exact zeros.
    """
    n, c, h, w_in = x_shape
    (kh, kw), (ph, pw), (dh, dw) = kernel, padding, dilation
    ho, wo = out_hw
    hp, wp = h + 2 * ph, w_in + 2 * pw
    columns = grouped_matmul(w, widened, transpose_a=True)
    blocks = columns.reshape(c, kh, kw, n, ho * wp)
    planes = np.zeros_like(columns, shape=(c, n, (hp + 1) * wp))
    for i in range(kh):
        for j in range(kw):
            start = i * dh * wp + j * dw
            planes[:, :, start : start + ho * wp] += blocks[:, i, j]
    image = planes[:, :, : hp * wp].reshape(c, n, hp, wp)
    return image[:, :, ph : ph + h, pw : pw + w_in].transpose(1, 0, 2, 3)


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


def _to_nchw(flat, n, out_hw, width=None):
    """(G, O/G, N*Ho*W) GEMM output -> (N, O, Ho, Wo), contiguous; W = width or Wo.

    A widened grid (width > Wo, see widened_im2col) loses its junk columns here.
    """
    ho, wo = out_hw
    out = flat.reshape(-1, n, ho, width or wo)[..., :wo].transpose(1, 0, 2, 3)
    return np.ascontiguousarray(out)


def _from_nchw(grad, groups):
    """(N, O, Ho, Wo) -> (G, O/G, N*Ho*Wo), the layout of the GEMM output."""
    n, o = grad.shape[:2]
    flat = grad.reshape(n, o, -1).transpose(1, 0, 2)
    return np.ascontiguousarray(flat).reshape(groups, o // groups, -1)


class Conv2d(Function):
    """Cross-correlation of x (N, C, H, W) with weight (O, C/groups, kh, kw), plus bias.

    `stride`, `padding` and `dilation` are pairs of ints (zero padding).
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1),
                groups=1):  # fmt: skip
        kernel = weight.shape[2:]
        w = weight.reshape(groups, weight.shape[0] // groups, -1)
        if stride == (1, 1):
            columns, out_hw, width = widened_im2col(x, kernel, padding, dilation, groups)
            out = _to_nchw(grouped_matmul(w, columns), x.shape[0], out_hw, width)
        else:
            columns, out_hw = im2col(x, kernel, stride, padding, dilation, groups)
            out = _to_nchw(grouped_matmul(w, columns), x.shape[0], out_hw)
        if bias is not None:
            out += bias.reshape(-1, 1, 1)
        ctx.save_for_backward(columns, weight)
        ctx.geometry = (x.shape, kernel, stride, padding, dilation, groups, out_hw)
        ctx.has_bias = bias is not None
        return out

    @staticmethod
    def backward(ctx, grad):
        columns, weight = ctx.saved
        x_shape, kernel, stride, padding, dilation, groups, out_hw = ctx.geometry
        need_x, need_w = ctx.needs_input_grad[:2]
        grad_x = grad_w = grad_b = None
        w = weight.reshape(groups, weight.shape[0] // groups, -1)
        if stride == (1, 1):  # the columns are on the widened grid: widen the gradient too
            flat_grad = _widened_grad(grad, groups, x_shape[3] + 2 * padding[1])
            if need_x:
                grad_x = _input_grad_stride1(flat_grad, w, x_shape, kernel, padding, dilation,
                                             out_hw)  # fmt: skip
        else:
            flat_grad = _from_nchw(grad, groups)
            if need_x:
                grad_columns = grouped_matmul(w, flat_grad, transpose_a=True)
                grad_x = col2im(grad_columns, x_shape, kernel, stride, padding, dilation, out_hw)
        if need_w:
            grad_w = grouped_matmul(flat_grad, columns, transpose_b=True).reshape(weight.shape)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = grad.sum(axis=(0, 2, 3))
        return grad_x, grad_w, grad_b


def _check_transposed_size(in_hw, kernel, stride, padding, dilation, out_hw):
    for size, k, s, p, d, out in zip(
        in_hw, kernel, stride, padding, dilation, out_hw, strict=False
    ):
        smallest = (size - 1) * s - 2 * p + d * (k - 1) + 1
        if not 0 <= out - smallest < max(s, d) or out <= 0:
            raise ValueError(
                f"conv_transpose2d: output size {tuple(out_hw)} is impossible for input "
                f"{tuple(in_hw)}: each side must be in [{smallest}, {smallest + max(s, d) - 1}]"
            )


class ConvTranspose2d(Function):
    """The transpose (gradient) of Conv2d: x (N, C, H, W), weight (C, O/groups, kh, kw).

    Its forward is Conv2d's input gradient (col2im) and its input gradient is
    Conv2d's forward (im2col), so both reuse the helpers above.
    `out_hw` is the output's spatial size, which output_padding makes ambiguous.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1),
                groups=1, out_hw=None):  # fmt: skip
        n, c, h, w = x.shape
        kernel = weight.shape[2:]
        _check_transposed_size((h, w), kernel, stride, padding, dilation, out_hw)
        out_channels = weight.shape[1] * groups
        out_shape = (n, out_channels, *out_hw)
        flat_x = _from_nchw(x, groups)  # (G, C/G, N*H*W)
        grouped = weight.reshape(groups, c // groups, -1)  # (G, C/G, O/G*kh*kw)
        columns = grouped_matmul(grouped, flat_x, transpose_a=True)
        out = col2im(columns, out_shape, kernel, stride, padding, dilation, (h, w))
        out = np.ascontiguousarray(out)
        if bias is not None:
            out += bias.reshape(-1, 1, 1)
        ctx.save_for_backward(flat_x, weight)
        ctx.geometry = (x.shape, kernel, stride, padding, dilation, groups)
        ctx.has_bias = bias is not None
        return out

    @staticmethod
    def backward(ctx, grad):
        flat_x, weight = ctx.saved
        x_shape, kernel, stride, padding, dilation, groups = ctx.geometry
        need_x, need_w = ctx.needs_input_grad[:2]
        columns, _ = im2col(grad, kernel, stride, padding, dilation, groups)
        grad_x = grad_w = grad_b = None
        if need_x:
            w = weight.reshape(groups, x_shape[1] // groups, -1)
            grad_x = _to_nchw(grouped_matmul(w, columns), x_shape[0], x_shape[2:])
        if need_w:
            grad_w = grouped_matmul(flat_x, columns, transpose_b=True).reshape(weight.shape)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = grad.sum(axis=(0, 2, 3))
        return grad_x, grad_w, grad_b
