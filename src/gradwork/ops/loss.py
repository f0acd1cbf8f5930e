"""Fused loss primitives: cross-entropy, NLL, binary cross-entropy (on probabilities and logits).

Fused for stability and speed. Cross-entropy as log_softmax + gather + mean is
three graph nodes; here it is ONE, and its backward is the closed form
softmax - target. Each primitive applies its own `reduction`
('mean' | 'sum' | 'none'), so a loss call adds a single node to the graph.

Class axis is 1, as in torch: input (N, C) or (N, C, d1, d2, ...), or (C,)
unbatched; class-index targets have the input's shape without axis 1.

On a device the class-index range is checked ON the device (no host sync):
an out-of-range index is clipped so the step runs on, and the ValueError is
raised at the next host read (`gradwork._device_checks`), as torch reports a
device-side assert. On the CPU it is raised at once.
"""

from __future__ import annotations

import numpy as np

from gradwork import _device_checks
from gradwork._arrays import asarray_like, is_device_array, xp_of
from gradwork.autograd import Function
from gradwork.ops import kernels


def _log_softmax(logits):
    # NOTE: subtracting the row max keeps exp() finite for logits of +-1e4.
    shifted = logits - logits.max(axis=1, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return shifted


def _reduce(per_element, reduction, denominator):
    if reduction == "none":
        return per_element
    total = per_element.sum()
    return total / denominator if reduction == "mean" else total


def _upstream(grad, shape, reduction, denominator):
    """d(loss)/d(per-element loss), broadcastable to `shape`."""
    if reduction == "none":
        return grad
    scale = grad / denominator if reduction == "mean" else grad
    return np.broadcast_to(scale, shape)


def _on_device_of(like, *values):
    """Host constant arrays (class weights, pos_weight, targets handed to the primitive as
    NumPy arrays) copied to the device array `like` is on: an explicit copy, as CuPy makes
    of a host index. A CPU *tensor* with a device input never gets here: nn.functional
    refuses it first with torch's message (`_same_device`)."""
    return tuple(asarray_like(v, like) if isinstance(v, np.ndarray) and v.ndim else v
                 for v in values)  # fmt: skip


def _range_message(name, classes, ignore_index):
    def message(bad):
        return (
            f"{name}: target holds class index {int(bad)} but the input has {classes} classes "
            f"(valid indices are 0..{classes - 1}, or ignore_index={ignore_index})"
        )

    return message


def _class_weights(target, weight, ignore_index, classes, name, dtype, unit_as_none=False):
    """Per-element weight w[target] (0 where ignored), and the safe target indices.

    With `unit_as_none`, the weights come back as None when every one is 1
    (no class weights, no target equal to ignore_index): the common case,
    where the caller can leave out its multiplications by 1. On a device
    that needs a host read, so the weights always come back there.
    """
    if type(target) is not np.ndarray and is_device_array(target):
        return _class_weights_on_device(target, weight, ignore_index, classes, name, dtype)
    if unit_as_none and weight is None and target.size:
        low, high = target.min(), target.max()
        if 0 <= low and high < classes and not low <= ignore_index <= high:
            return target, None
    valid = target != ignore_index
    safe = np.where(valid, target, 0)
    if safe.size and (safe.min() < 0 or safe.max() >= classes):
        bad = safe[(safe < 0) | (safe >= classes)].flat[0]
        raise ValueError(_range_message(name, classes, ignore_index)(bad))
    per = valid.astype(dtype) if weight is None else weight[safe] * valid
    return safe, per


def _class_weights_on_device(target, weight, ignore_index, classes, name, dtype):
    """_class_weights without reading the device: an out-of-range index is flagged
    (raised at the next host read) and its element computed as class 0 meanwhile."""
    valid = target != ignore_index
    out_of_range = valid & ((target < 0) | (target >= classes))
    _device_checks.defer((name, classes, ignore_index), out_of_range, target,
                         _range_message(name, classes, ignore_index))  # fmt: skip
    safe = np.where(valid & ~out_of_range, target, 0)
    per = valid.astype(dtype) if weight is None else weight[safe] * valid
    return safe, per


def _expand(values):
    return np.expand_dims(values, 1)


def _pick(values, index):
    """values[i, index[i], ...]: each element's entry at its target class (class axis 1)."""
    if values.ndim == 2:  # NOTE: fancy indexing costs far less than take_along_axis here
        return values[xp_of(values).arange(len(index)), index]
    return np.take_along_axis(values, _expand(index), axis=1)[:, 0]


def _weight_on_classes(weight, ndim):
    return weight.reshape((1, -1) + (1,) * (ndim - 2))


class CrossEntropy(Function):
    """Cross-entropy of logits against class indices or class probabilities.

    Options (torch's): weight (C,), ignore_index, label_smoothing, reduction.
    With class-index targets and reduction='mean' the sum is divided by the
    total weight of the non-ignored targets; with probability targets by the
    number of elements (torch's rule).
    """

    name = "cross_entropy"

    @staticmethod
    def forward(ctx, logits, target, weight=None, ignore_index=-100, label_smoothing=0.0,
                reduction="mean"):  # fmt: skip
        if type(logits) is not np.ndarray:  # (the CPU path skips the call: hot for small batches)
            target, weight = _on_device_of(logits, target, weight)
        unbatched = logits.ndim == 1
        if unbatched:
            logits, target = logits[None], target[None]
        log_p = _log_softmax(logits)
        classes = logits.shape[1]
        soft = target.dtype.kind == "f"
        if soft:
            per, denominator = _soft_forward(ctx, log_p, target, weight, label_smoothing)
        else:
            per, denominator = _hard_forward(
                ctx, log_p, target, weight, ignore_index, label_smoothing, classes
            )
        ctx.save_for_backward(log_p, target, weight)
        ctx.options = (soft, label_smoothing, reduction, denominator, unbatched)
        out = _reduce(per.astype(logits.dtype, copy=False), reduction, denominator)
        return out[0] if unbatched and reduction == "none" else out

    @staticmethod
    def backward(ctx, grad):
        log_p, target, weight = ctx.saved
        soft, smoothing, reduction, denominator, unbatched = ctx.options
        if unbatched and reduction == "none":
            grad = grad[None]
        scale = _expand(_upstream(grad, ctx.per_shape, reduction, denominator))
        classes = log_p.shape[1]
        if soft:
            grad_x, grad_t = _soft_backward(ctx, log_p, np.exp(log_p), target, weight, scale,
                                            smoothing)  # fmt: skip
        else:
            grad_x, grad_t = _hard_backward(ctx, log_p, weight, scale, smoothing, classes)
        grad_x = grad_x.astype(log_p.dtype, copy=False)
        if unbatched:
            grad_x = grad_x[0]
            grad_t = None if grad_t is None else grad_t[0]
        return grad_x, grad_t


def _hard_forward(ctx, log_p, target, weight, ignore_index, smoothing, classes):
    safe, per_weight = _class_weights(target, weight, ignore_index, classes, "cross_entropy",
                                      log_p.dtype, unit_as_none=not smoothing)  # fmt: skip
    picked = _pick(log_p, safe)
    if per_weight is None:  # every weight 1, no smoothing: per = -log p[target]
        ctx.safe, ctx.per_weight, ctx.per_shape = safe, None, picked.shape
        return -picked, safe.size
    per = -(1 - smoothing) * per_weight * picked
    valid = target != ignore_index
    if smoothing:
        spread = log_p if weight is None else log_p * _weight_on_classes(weight, log_p.ndim)
        per -= (smoothing / classes) * spread.sum(axis=1) * valid
    ctx.safe, ctx.per_weight, ctx.valid, ctx.per_shape = safe, per_weight, valid, per.shape
    return per, per_weight.sum()


def _hard_backward(ctx, log_p, weight, scale, smoothing, classes):
    # d(per_i)/d(logits_i) = sum(q_i) * softmax_i - q_i, where q_i is the
    # weighted (smoothed) one-hot target: (1 - s) w[t] onehot + (s / C) w.
    if ctx.per_weight is None:  # every weight 1, no smoothing: softmax - onehot
        return kernels.softmax_minus_target(log_p, ctx.safe, scale), None
    target_part = (1 - smoothing) * _expand(ctx.per_weight)
    if not smoothing:  # (softmax - onehot) * w[t]: one fused kernel on a device
        return kernels.softmax_minus_target(log_p, ctx.safe, scale * target_part), None
    probabilities = np.exp(log_p)
    total_weight = classes if weight is None else weight.sum()
    spread_part = (smoothing / classes) * _expand(ctx.valid)
    grad = probabilities * (scale * (target_part + spread_part * total_weight))
    per_class = 1 if weight is None else _weight_on_classes(weight, probabilities.ndim)
    grad -= scale * spread_part * per_class
    kernels.reference.subtract_at_target(grad, ctx.safe, scale * target_part)
    return grad, None


def _soft_forward(ctx, log_p, target, weight, smoothing):
    if target.shape != log_p.shape:
        raise ValueError(
            f"cross_entropy: probability targets must have the input's shape {log_p.shape}, "
            f"got {target.shape}; for class indices pass an integer (int64) tensor"
        )
    classes = log_p.shape[1]
    smoothed = target * (1 - smoothing) + smoothing / classes if smoothing else target
    weighted = log_p if weight is None else log_p * _weight_on_classes(weight, log_p.ndim)
    per = -(smoothed * weighted).sum(axis=1)
    ctx.per_shape = per.shape
    return per, per.size


def _soft_backward(ctx, log_p, probabilities, target, weight, scale, smoothing):
    classes = log_p.shape[1]
    smoothed = target * (1 - smoothing) + smoothing / classes if smoothing else target
    w = 1 if weight is None else _weight_on_classes(weight, log_p.ndim)
    q = smoothed * w
    grad_x = scale * (probabilities * q.sum(axis=1, keepdims=True) - q)
    grad_t = None
    if ctx.needs_input_grad[1]:
        grad_t = -(1 - smoothing) * scale * (log_p * w)
    return grad_x, grad_t


class NLLLoss(Function):
    """Negative log-likelihood of log-probabilities (N, C, ...) at class indices."""

    name = "nll_loss"

    @staticmethod
    def forward(ctx, log_p, target, weight=None, ignore_index=-100, reduction="mean"):
        if type(log_p) is not np.ndarray:
            target, weight = _on_device_of(log_p, target, weight)
        unbatched = log_p.ndim == 1
        if unbatched:
            log_p, target = log_p[None], target[None]
        classes = log_p.shape[1]
        safe, per_weight = _class_weights(
            target, weight, ignore_index, classes, "nll_loss", log_p.dtype
        )
        picked = np.take_along_axis(log_p, _expand(safe), axis=1)[:, 0]
        per = (-per_weight * picked).astype(log_p.dtype, copy=False)
        denominator = per_weight.sum()
        ctx.saved_state = (log_p.shape, safe, per_weight, reduction, denominator, unbatched)
        out = _reduce(per, reduction, denominator)
        return out[0] if unbatched and reduction == "none" else out

    @staticmethod
    def backward(ctx, grad):
        shape, safe, per_weight, reduction, denominator, unbatched = ctx.saved_state
        if unbatched and reduction == "none":
            grad = grad[None]
        scale = _upstream(grad, safe.shape, reduction, denominator)
        out = np.zeros_like(grad, shape=shape)
        np.put_along_axis(out, _expand(safe), _expand(-scale * per_weight), axis=1)
        return out[0] if unbatched else out


def _bce_message(got):
    return (
        f"binary_cross_entropy: input must hold probabilities in [0, 1], got {got}; "
        "apply sigmoid first, or use BCEWithLogitsLoss on the raw scores (more stable)"
    )


class BinaryCrossEntropy(Function):
    """-w (t log p + (1 - t) log(1 - p)) of probabilities p.

    NOTE: each log is clamped to >= -100 (torch's rule), so p = 0 or 1 gives a
    finite loss; the gradient divides by max(p (1 - p), 1e-12) for the same reason.
    """

    name = "binary_cross_entropy"

    @staticmethod
    def forward(ctx, p, target, weight=None, reduction="mean"):
        if type(p) is not np.ndarray:
            target, weight = _on_device_of(p, target, weight)
        if is_device_array(p):  # checked on the device, reported at the next host read
            _device_checks.defer("binary_cross_entropy", (p < 0) | (p > 1), p,
                                 lambda bad: _bce_message(f"the value {bad:.4g}"))  # fmt: skip
        elif p.size and (p.min() < 0 or p.max() > 1):
            raise ValueError(_bce_message(f"values in [{p.min():.4g}, {p.max():.4g}]"))
        # invalid: a device input outside [0, 1] gives NaN here until its check is read
        with np.errstate(divide="ignore", invalid="ignore"):
            log_p = np.maximum(np.log(p), -100)
            log_q = np.maximum(np.log1p(-p), -100)
        per = -(target * log_p + (1 - target) * log_q)
        if weight is not None:
            per = per * weight
        ctx.save_for_backward(p, target, weight, log_p, log_q)
        ctx.reduction, ctx.per_shape = reduction, per.shape
        return _reduce(per, reduction, per.size)

    @staticmethod
    def backward(ctx, grad):
        p, target, weight, log_p, log_q = ctx.saved
        scale = _upstream(grad, ctx.per_shape, ctx.reduction, int(np.prod(ctx.per_shape)))
        if weight is not None:
            scale = scale * weight
        grad_p = scale * (p - target) / np.maximum(p * (1 - p), 1e-12)
        grad_t = scale * (log_q - log_p) if ctx.needs_input_grad[1] else None
        return grad_p, grad_t


class BinaryCrossEntropyWithLogits(Function):
    """Binary cross-entropy of logits x: -w (pw t log s(x) + (1 - t) log(1 - s(x))).

    NOTE: written through softplus(-x) = max(-x, 0) + log1p(exp(-|x|)), which
    never overflows, so logits of +-1e4 give finite losses and gradients.
    """

    @staticmethod
    def forward(ctx, x, target, weight=None, pos_weight=None, reduction="mean"):
        if type(x) is not np.ndarray:
            target, weight, pos_weight = _on_device_of(x, target, weight, pos_weight)
        softplus_neg = np.maximum(-x, 0) + np.log1p(np.exp(-np.abs(x)))  # -log s(x)
        softplus_pos = softplus_neg + x  # -log(1 - s(x))
        positive = target if pos_weight is None else pos_weight * target
        per = positive * softplus_neg + (1 - target) * softplus_pos
        if weight is not None:
            per = per * weight
        ctx.save_for_backward(x, target, weight, pos_weight, softplus_neg)
        ctx.reduction, ctx.per_shape = reduction, per.shape
        return _reduce(per.astype(x.dtype, copy=False), reduction, per.size)

    @staticmethod
    def backward(ctx, grad):
        x, target, weight, pos_weight, softplus_neg = ctx.saved
        scale = _upstream(grad, ctx.per_shape, ctx.reduction, int(np.prod(ctx.per_shape)))
        if weight is not None:
            scale = scale * weight
        sigmoid = np.exp(-softplus_neg)
        if pos_weight is None:
            grad_x = scale * (sigmoid - target)
        else:
            positive = pos_weight * target
            grad_x = scale * (sigmoid * (positive + 1 - target) - positive)
        grad_t = None
        if ctx.needs_input_grad[1]:
            pw = 1 if pos_weight is None else pos_weight
            grad_t = scale * (pw * softplus_neg - (softplus_neg + x))
        return grad_x, grad_t
