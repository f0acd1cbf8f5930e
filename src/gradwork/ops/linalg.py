"""Matrix products: matmul with NumPy's 1-D and batch rules, and the fused linear layer."""

from __future__ import annotations

import numpy as np

from gradwork.autograd import Function, ShapeError


def _check_inner(name, a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(
            f"{name}: both operands need at least 1 dimension, got {a.shape} and {b.shape}"
        )
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if a.shape[-1] != inner_b:
        raise ShapeError(
            f"{name}: {a.shape} @ {b.shape}: inner sizes {a.shape[-1]} and {inner_b} differ"
        )


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        _check_inner("matmul", a, b)
        # NOTE: each gradient needs only the OTHER operand, so only that one is
        # saved (as torch does): an in-place change to the other stays legal.
        need_a, need_b = ctx.needs_input_grad
        ctx.save_for_backward(a if need_b else None, b if need_a else None)
        ctx.ndims = (a.ndim, b.ndim)
        return a @ b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        a_ndim, b_ndim = ctx.ndims
        need_a, need_b = ctx.needs_input_grad
        if a_ndim == 1 and b_ndim == 1:  # a dot product: grad is a scalar
            return (grad * b if need_a else None), (grad * a if need_b else None)
        # Treat vectors as matrices (a row for a, a column for b), as matmul does.
        g2 = grad
        if a_ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if b_ndim == 1:
            g2 = np.expand_dims(g2, -1)
        grad_a = grad_b = None
        if need_a:
            b2 = b[:, None] if b_ndim == 1 else b
            grad_a = g2 @ np.swapaxes(b2, -1, -2)
            grad_a = grad_a[..., 0, :] if a_ndim == 1 else grad_a
        if need_b:
            a2 = a[None, :] if a_ndim == 1 else a
            grad_b = np.swapaxes(a2, -1, -2) @ g2
            grad_b = grad_b[..., :, 0] if b_ndim == 1 else grad_b
        # Batch dimensions that broadcasting added are summed by the engine.
        return grad_a, grad_b


class Linear(Function):
    """y = x @ weight.T + bias in one node: fused for speed (one GEMM each way).

    `x` has any number of leading dimensions; `weight` is (out, in) as in torch.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        if x.shape[-1] != weight.shape[1]:
            raise ShapeError(
                f"linear: input has {x.shape[-1]} features (shape {x.shape}) but the "
                f"weight expects {weight.shape[1]} (weight shape {weight.shape})"
            )
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        out = x @ weight.T
        if bias is not None:
            out += bias  # in place: `out` is new, so no copy and no extra pass
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved
        need_x, need_w = ctx.needs_input_grad[:2]
        flat_grad = grad.reshape(-1, grad.shape[-1])
        grad_x = grad @ weight if need_x else None
        grad_w = flat_grad.T @ x.reshape(-1, x.shape[-1]) if need_w else None
        grad_b = None
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = flat_grad.sum(axis=0)
        return grad_x, grad_w, grad_b
