"""Normalisation primitives: batch norm (with running statistics) and a general `Normalize`.

Fused for speed: composed from mean, sub, var, sqrt and div, a batch norm is
about ten graph nodes and as many passes over the activations; fused, its
backward is the closed form (batch norm's, with batch statistics, runs as a
kernel: `ops/kernels`)

    dx = invstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))

over the normalised axes, with dxhat = grad * weight.
"""

from __future__ import annotations

import numpy as np

from gradwork.autograd import Function, is_grad_enabled, unbroadcast
from gradwork.ops import kernels


def _normalise(x, mean, var, eps):
    """xhat = (x - mean) / sqrt(var + eps), and 1/sqrt(var + eps); mean/var keep dims."""
    invstd = 1.0 / np.sqrt(var + eps)
    xhat = x - mean
    xhat *= invstd
    return xhat, invstd


def _folded_affine(x, mean, var, weight, bias, eps, shape):
    """(x - mean) / sqrt(var + eps) * weight + bias as x * scale + shift (statistics fixed)."""
    scale = 1.0 / np.sqrt(var + eps)
    if weight is not None:
        scale = scale * weight.reshape(shape)
    shift = -mean * scale
    if bias is not None:
        shift = shift + bias.reshape(shape)
    out = x * scale
    out += shift
    return out


def _standardise(x, axes, eps):
    """Normalise with the batch's own statistics over `axes`: (xhat, invstd, mean, var).

    The same as `_normalise(x, mean, var, eps)`, reusing the centred values
    that the variance needed anyway (one pass fewer).
    """
    mean = x.mean(axis=axes, keepdims=True)
    centred = x - mean
    var = np.mean(centred * centred, axis=axes, keepdims=True)
    invstd = 1.0 / np.sqrt(var + eps)
    centred *= invstd
    return centred, invstd, mean, var


def _input_grad(dxhat, xhat, invstd, axes):
    """The closed-form input gradient of normalisation over `axes` with batch statistics."""
    count = xhat.size // max(invstd.size, 1)  # an empty batch: empty gradients, no division
    sum_dxhat = dxhat.sum(axis=axes, keepdims=True)
    sum_dxhat_xhat = (dxhat * xhat).sum(axis=axes, keepdims=True)
    grad = xhat * (sum_dxhat_xhat / -count)
    grad += dxhat
    grad -= sum_dxhat / count
    grad *= invstd
    return grad


class BatchNorm(Function):
    """Batch norm over every axis but 1 (channels); updates running stats in place.

    Args (forward): x (N, C, ...), weight and bias (C,) or None, running_mean
    and running_var (C,) arrays or None, training, momentum (the weight of
    the new batch), eps.

    NOTE: the running variance is updated with the UNBIASED batch variance
    (n / (n - 1)), while the batch is normalised with the biased one - torch's
    convention.
    """

    name = "batch_norm"

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training=True, momentum=0.1,
                eps=1e-5):  # fmt: skip
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        use_batch = training or running_mean is None
        if use_batch:
            count = x.size // x.shape[1]
            if count <= 1:
                raise ValueError(
                    f"batch_norm: expected more than 1 value per channel when training, got "
                    f"input of shape {x.shape}"
                )
            out, xhat, invstd, mean, var = kernels.batch_norm_forward(x, weight, bias, eps)
            if training and running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean.reshape(-1)
                running_var *= 1 - momentum
                running_var += momentum * count / (count - 1) * var.reshape(-1)
        else:
            mean = running_mean.reshape(shape).astype(x.dtype, copy=False)
            var = running_var.reshape(shape).astype(x.dtype, copy=False)
            if not (is_grad_enabled() and any(ctx.needs_input_grad)):
                # no backward to feed: one affine map, out = x * scale + shift (2 passes, not 4)
                return _folded_affine(x, mean, var, weight, bias, eps, shape)
            xhat, invstd = _normalise(x, mean, var, eps)
            out = xhat.copy() if weight is None else xhat * weight.reshape(shape)
            if bias is not None:
                out += bias.reshape(shape)
        ctx.save_for_backward(xhat, invstd, weight)
        ctx.axes, ctx.use_batch = axes, use_batch
        return out

    @staticmethod
    def backward(ctx, grad):
        xhat, invstd, weight = ctx.saved
        axes = ctx.axes
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        if ctx.use_batch:  # the closed form above, as a kernel
            grad_x, grad_w, grad_b = kernels.batch_norm_backward(grad, xhat, invstd, weight, need_x)
            return grad_x, grad_w if need_w else None, grad_b if need_b else None
        # running statistics: they are constants, so the input gradient is a scaling
        sum_grad = grad.sum(axis=axes, keepdims=True)
        sum_grad_xhat = (grad * xhat).sum(axis=axes, keepdims=True)
        grad_x = None
        if need_x:
            grad_x = grad * (invstd if weight is None else invstd * weight.reshape(invstd.shape))
        grad_w = sum_grad_xhat.reshape(-1) if need_w else None
        grad_b = sum_grad.reshape(-1) if need_b else None
        return grad_x, grad_w, grad_b


class Normalize(Function):
    """(x - mean) / sqrt(var + eps) over `axes`, then `* weight + bias` (optional).

    The general normaliser behind layer, group and instance norm. `affine_shape`
    says how weight and bias broadcast against x (e.g. (C, 1, 1) for a
    per-channel affine on (N, C, H, W)); by default they broadcast as given.
    """

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, axes=(-1,), eps=1e-5, affine_shape=None):
        axes = tuple(a % x.ndim for a in axes)
        xhat, invstd, _, _ = _standardise(x, axes, eps)
        ctx.save_for_backward(xhat, invstd, weight)
        ctx.axes = axes
        ctx.affine_shape = affine_shape
        ctx.bias_shape = None if bias is None else bias.shape
        out = xhat
        if weight is not None:
            out = xhat * _shaped(weight, affine_shape)
        if bias is not None:
            out = out + _shaped(bias, affine_shape)
        return out if out is not xhat else xhat.copy()

    @staticmethod
    def backward(ctx, grad):
        xhat, invstd, weight = ctx.saved
        need_x, need_w, need_b = (list(ctx.needs_input_grad) + [False, False])[:3]
        grad_x = grad_w = grad_b = None
        if need_x:
            dxhat = grad if weight is None else grad * _shaped(weight, ctx.affine_shape)
            grad_x = _input_grad(dxhat, xhat, invstd, ctx.axes)
        if need_w:
            grad_w = _reduce_to(grad * xhat, weight.shape, ctx.affine_shape)
        if need_b:
            grad_b = _reduce_to(grad, ctx.bias_shape, ctx.affine_shape)
        return grad_x, grad_w, grad_b


def _shaped(parameter, affine_shape):
    return parameter if affine_shape is None else parameter.reshape(affine_shape)


def _reduce_to(grad, shape, affine_shape):
    """Sum a full-size gradient down to a parameter of `shape` broadcast as `affine_shape`.

    The engine's `unbroadcast` does the summing; only the reshape from the
    broadcast layout (e.g. (C, 1, 1)) back to the parameter's (C,) is ours.
    """
    layout = tuple(affine_shape) if affine_shape is not None else tuple(shape)
    return unbroadcast(grad, layout).reshape(shape)
