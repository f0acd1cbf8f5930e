"""Functional losses (torch's signatures); `reduction` is 'mean', 'sum' or 'none'.

Regression losses are composed from primitives; the classification losses
call fused primitives (ops/loss.py) for stability and speed.
`size_average` and `reduce` are torch's deprecated arguments: accepted
positionally for compatibility, and rejected unless None.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from gradwork import _arrays, ops
from gradwork.nn._placement import as_array, to_device_of
from gradwork.tensor import Tensor, operand, promote

REDUCTIONS = ("mean", "sum", "none")


def _check(name: str, reduction: str, size_average: Any = None, reduce: Any = None) -> None:
    if size_average is not None or reduce is not None:
        raise ValueError(f"{name}: size_average and reduce are deprecated; use reduction=")
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _constant(value: Any) -> Any:
    """A weight or target that takes no gradient, as a raw array (or None)."""
    if value is None:
        return None
    return as_array(value)  # a GPU weight or target stays on the GPU


def _target(value: Any) -> Any:
    """A target: a Tensor that may need a gradient stays a Tensor; anything else an array."""
    if isinstance(value, Tensor):
        return value if value.requires_grad else value.array
    return as_array(value)


def _same_device(input: Tensor, *values: Any) -> None:  # noqa: A002
    """torch's RuntimeError for a target or weight TENSOR on another device than the input
    (the fused losses copy raw host constants over, so a tensor must be checked here)."""
    tensors = [value.array for value in values if isinstance(value, Tensor)]
    if tensors and _arrays._NAMESPACES:
        _arrays.check_same_device([input.array, *tensors])


def _difference(input: Tensor, target: Any) -> Tensor:  # noqa: A002
    """input - target, warning as torch does when the shapes differ (they broadcast)."""
    target = operand(target)
    target_shape = tuple(getattr(target, "shape", ()))
    if target_shape != tuple(input.shape):
        warnings.warn(
            f"Using a target size ({list(target_shape)}) that is different to the input size "
            f"({list(input.shape)}). This will likely lead to incorrect results due to "
            "broadcasting. Please ensure they have the same size.",
            UserWarning,
            stacklevel=3,
        )
    return input - target


def mse_loss(input: Tensor, target: Any, size_average: Any = None, reduce: Any = None,  # noqa: A002
             reduction: str = "mean") -> Tensor:  # fmt: skip
    """Mean squared error.

    Example:
        >>> import gradwork as gw
        >>> mse_loss(gw.tensor([1.0, 3.0]), gw.tensor([1.0, 1.0]))
        tensor(2.)
    """
    _check("mse_loss", reduction, size_average, reduce)
    difference = _difference(input, target)
    return _reduce(difference * difference, reduction)


def l1_loss(input: Tensor, target: Any, size_average: Any = None, reduce: Any = None,  # noqa: A002
            reduction: str = "mean") -> Tensor:  # fmt: skip
    _check("l1_loss", reduction, size_average, reduce)
    return _reduce(_difference(input, target).abs(), reduction)


def huber_loss(input: Tensor, target: Any, reduction: str = "mean", delta: float = 1.0) -> Tensor:  # noqa: A002
    """0.5 d^2 where |d| < delta, else delta (|d| - delta / 2)."""
    _check("huber_loss", reduction)
    difference = _difference(input, target)
    size = difference.abs()
    quadratic = difference * difference * 0.5
    linear = (size - 0.5 * delta) * delta
    return _reduce(ops.Where.apply(size.array < delta, quadratic, linear), reduction)


def smooth_l1_loss(input: Tensor, target: Any, size_average: Any = None, reduce: Any = None,  # noqa: A002
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:  # fmt: skip
    """0.5 d^2 / beta where |d| < beta, else |d| - beta / 2 (L1 when beta = 0)."""
    _check("smooth_l1_loss", reduction, size_average, reduce)
    difference = _difference(input, target)
    size = difference.abs()
    if beta == 0:
        return _reduce(size, reduction)
    quadratic = difference * difference * (0.5 / beta)
    return _reduce(ops.Where.apply(size.array < beta, quadratic, size - 0.5 * beta), reduction)


def binary_cross_entropy(input: Tensor, target: Any, weight: Any = None,  # noqa: A002
                         size_average: Any = None, reduce: Any = None,
                         reduction: str = "mean") -> Tensor:  # fmt: skip
    """BCE of probabilities; each log clamped to >= -100 like torch."""
    _check("binary_cross_entropy", reduction, size_average, reduce)
    _same_device(input, target, weight)
    target = _target(target)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"binary_cross_entropy: target shape {tuple(target.shape)} must equal the input "
            f"shape {tuple(input.shape)}"
        )
    return ops.BinaryCrossEntropy.apply(input, target, _constant(weight), reduction=reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Any, weight: Any = None,  # noqa: A002
                                     size_average: Any = None, reduce: Any = None,
                                     reduction: str = "mean",
                                     pos_weight: Any = None) -> Tensor:  # fmt: skip
    """BCE of logits, fused with the sigmoid: stable for logits of +-1e4."""
    _check("binary_cross_entropy_with_logits", reduction, size_average, reduce)
    _same_device(input, target, weight, pos_weight)
    target = _target(target)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"binary_cross_entropy_with_logits: target shape {tuple(target.shape)} must "
            f"equal the input shape {tuple(input.shape)}"
        )
    return ops.BinaryCrossEntropyWithLogits.apply(
        input, target, _constant(weight), _constant(pos_weight), reduction=reduction
    )


def cross_entropy(input: Tensor, target: Any, weight: Any = None, size_average: Any = None,  # noqa: A002
                  ignore_index: int = -100, reduce: Any = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:  # fmt: skip
    """Cross-entropy of logits (N, C, ...) against class indices or class probabilities.

    One fused graph node (log-softmax + NLL), stable for logits of +-1e4.

    Example:
        >>> import gradwork as gw
        >>> logits = gw.tensor([[2.0, 0.0, 0.0]])
        >>> round(cross_entropy(logits, gw.tensor([0])).item(), 4)
        0.2395
    """
    _check("cross_entropy", reduction, size_average, reduce)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    _same_device(input, target, weight)
    target = _target(target)
    _check_class_target("cross_entropy", input, target)
    return ops.CrossEntropy.apply(input, target, _constant(weight), ignore_index=ignore_index,
                                  label_smoothing=label_smoothing, reduction=reduction)  # fmt: skip


def nll_loss(
    input: Tensor,
    target: Any,
    weight: Any = None,
    size_average: Any = None,  # noqa: A002
    ignore_index: int = -100,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of log-probabilities (N, C, ...) at class indices."""
    _check("nll_loss", reduction, size_average, reduce)
    _same_device(input, target, weight)
    target = _constant(target)
    _check_class_target("nll_loss", input, target)
    return ops.NLLLoss.apply(input, target, _constant(weight), ignore_index=ignore_index,
                             reduction=reduction)  # fmt: skip


def _check_class_target(name: str, input: Tensor, target: Any) -> None:
    if target.dtype.kind == "f":
        return  # probability targets are checked by the primitive
    expected = input.shape[:1] + input.shape[2:] if input.ndim > 1 else ()
    if target.dtype.kind not in "iu":
        raise TypeError(f"{name}: class-index targets must be integers, got {target.dtype}")
    if tuple(target.shape) != tuple(expected):
        raise ValueError(
            f"{name}: input of shape {tuple(input.shape)} (classes on axis 1) needs class-index "
            f"targets of shape {tuple(expected)}, got {tuple(target.shape)}"
        )


def multi_margin_loss(input: Tensor, target: Any, p: int = 1, margin: float = 1.0,  # noqa: A002
                      weight: Any = None, size_average: Any = None, reduce: Any = None,
                      reduction: str = "mean") -> Tensor:  # fmt: skip
    """Multi-class hinge: sum over j != y of max(0, margin - x[y] + x[j])^p / C."""
    _check("multi_margin_loss", reduction, size_average, reduce)
    if p not in (1, 2):
        raise ValueError(f"multi_margin_loss: only p == 1 and p == 2 are supported, got {p}")
    unbatched = input.ndim == 1
    if unbatched:
        input = input.unsqueeze(0)
    target = _constant(target).reshape(-1)
    classes = input.shape[1]
    picked = input.gather(1, target[:, None].astype(np.int64))
    hinge = (input - picked + margin).clamp(min=0.0)
    if p == 2:
        hinge = hinge * hinge
    columns = to_device_of(np.arange(classes), target)  # where the targets are
    others = (columns[None, :] != target[:, None]).astype(input.dtype)
    if weight is not None:
        others = others * _constant(weight)[target][:, None]
    per_sample = (hinge * others).sum(dim=1) / classes
    if unbatched and reduction == "none":
        per_sample = per_sample[0]
    return _reduce(per_sample, reduction)


def kl_div(input: Tensor, target: Any, size_average: Any = None, reduce: Any = None,  # noqa: A002
           reduction: str = "mean", log_target: bool = False) -> Tensor:  # fmt: skip
    """KL(target || exp(input)) pointwise: input holds log-probabilities.

    The pointwise loss is target * (log(target) - input), 0 where target is 0
    (torch's xlogy), or exp(target) * (target - input) when `log_target`.
    reduction='batchmean' divides the sum by the batch size (the true KL
    divergence); 'mean' divides by the number of elements and warns, as torch.

    Example:
        >>> import gradwork as gw
        >>> logp = gw.tensor([[0.5, 0.5]]).log()
        >>> kl_div(logp, gw.tensor([[1.0, 0.0]]), reduction="batchmean")
        tensor(0.6931)
    """
    if reduction not in (*REDUCTIONS, "batchmean"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    _check("kl_div", "sum", size_average, reduce)
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support "
            "size.'batchmean' divides only by the batch size, and aligns with the KL div math "
            "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
            "major release.",
            UserWarning,
            stacklevel=2,
        )
    input, target = promote(input, target)
    if log_target:
        pointwise = target.exp() * (target - input)
    else:
        pointwise = _xlogx(target) - target * input
    if reduction == "batchmean":
        total = pointwise.sum()
        return total / input.shape[0] if input.ndim else total
    return _reduce(pointwise, reduction)


def _xlogx(x: Tensor) -> Tensor:
    """x * log(x), 0 where x == 0 (torch's xlogy(x, x)); the log sees 1 there, so no nan."""
    nonzero = x.array != 0
    return ops.Where.apply(nonzero, x * ops.Where.apply(nonzero, x, 1.0).log(), 0.0)
