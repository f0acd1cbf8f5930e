"""Convolution primitives: 2-D convolution and its transpose, by im2col and one GEMM.

Fused for speed: a convolution composed from slicing and matmul would cost
kh*kw graph nodes. The forward gathers every receptive field into a column
matrix (im2col) and multiplies it by the weight; the backward is the two
GEMMs of the transpose and col2im. How those loops run fast is the kernels
layer's business (`gradwork.ops.kernels`: the reference and the fast CPU
forms, tested equal); the ops below say what is computed.
"""

from __future__ import annotations

from gradwork._arrays import contiguous
from gradwork.autograd import Function
from gradwork.ops import kernels
from gradwork.ops.kernels.reference import col2im, from_nchw, grouped_matmul, im2col, to_nchw


class Conv2d(Function):
    """Cross-correlation of x (N, C, H, W) with weight (O, C/groups, kh, kw), plus bias.

    `stride`, `padding` and `dilation` are pairs of ints (zero padding).
    out[n, o, i, j] = bias[o] + sum over c, ki, kj of
        weight[o, c, ki, kj] * x_padded[n, c, i*s + ki*d, j*s + kj*d]
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1),
                groups=1):  # fmt: skip
        ctx.geometry = (stride, padding, dilation, groups)
        out, columns = kernels.conv2d_forward(x, weight, bias, *ctx.geometry)
        # saved, so the engine frees the columns as soon as this backward has run
        ctx.save_for_backward(weight, columns)
        ctx.has_bias = bias is not None
        return out

    @staticmethod
    def backward(ctx, grad):
        weight, columns = ctx.saved
        need_x, need_w = ctx.needs_input_grad[:2]
        grad_x, grad_w = kernels.conv2d_backward(columns, weight, grad, *ctx.geometry,
                                                 need_x, need_w)  # fmt: skip
        grad_b = None
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = kernels.channel_sums(grad)
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
        flat_x = from_nchw(x, groups)  # (G, C/G, N*H*W)
        grouped = weight.reshape(groups, c // groups, -1)  # (G, C/G, O/G*kh*kw)
        columns = grouped_matmul(grouped, flat_x, transpose_a=True)
        out = col2im(columns, out_shape, kernel, stride, padding, dilation, (h, w))
        out = contiguous(out)
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
            grad_x = to_nchw(grouped_matmul(w, columns), x_shape[0], x_shape[2:])
        if need_w:
            grad_w = grouped_matmul(flat_x, columns, transpose_b=True).reshape(weight.shape)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = kernels.channel_sums(grad)
        return grad_x, grad_w, grad_b
