"""Loss modules: thin wrappers over `gradwork.nn.functional` with torch's constructors."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradwork import _arrays
from gradwork.nn import functional as F
from gradwork.nn.module import Module
from gradwork.tensor import Tensor


class _Loss(Module):
    def __init__(self, size_average: Any = None, reduce: Any = None, reduction: str = "mean"):
        super().__init__()
        F._loss._check(type(self).__name__, reduction, size_average, reduce)
        self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight: Any = None, size_average: Any = None, reduce: Any = None,
                 reduction: str = "mean") -> None:  # fmt: skip
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", None if weight is None else _tensor(weight))


def _tensor(value: Any) -> Tensor:
    if isinstance(value, Tensor):
        return value
    # an array-like goes where factories put tensors (the default device)
    return Tensor(_arrays.on_default_device(np.asarray(value)))


class MSELoss(_Loss):
    """Mean squared error.

    Example:
        >>> import gradwork as gw
        >>> gw.nn.MSELoss()(gw.tensor([1.0, 3.0]), gw.tensor([1.0, 1.0]))
        tensor(2.)
    """

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.l1_loss(input, target, reduction=self.reduction)


class HuberLoss(_Loss):
    """Quadratic within `delta` of the target, linear beyond."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.huber_loss(input, target, self.reduction, self.delta)


class SmoothL1Loss(_Loss):
    """Huber loss divided by beta (torch's definition)."""

    def __init__(self, size_average: Any = None, reduce: Any = None, reduction: str = "mean",
                 beta: float = 1.0) -> None:  # fmt: skip
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities (logs clamped at -100, like torch)."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy in one stable primitive; `pos_weight` scales positives."""

    def __init__(self, weight: Any = None, size_average: Any = None, reduce: Any = None,
                 reduction: str = "mean", pos_weight: Any = None) -> None:  # fmt: skip
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", None if weight is None else _tensor(weight))
        self.register_buffer("pos_weight", None if pos_weight is None else _tensor(pos_weight))

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


class CrossEntropyLoss(_WeightedLoss):
    """Log-softmax + negative log-likelihood, fused (one graph node, stable for +-1e4).

    Args:
        weight: per-class weights (C,).
        ignore_index: targets equal to it contribute nothing (and don't count in the mean).
        reduction: 'mean' | 'sum' | 'none'.
        label_smoothing: mix the target with the uniform distribution by this amount.

    Shape:
        input (N, C) or (N, C, d1, ...) or (C,); target class indices (N,) / (N, d1, ...)
        or class probabilities of the input's shape.

    Example:
        >>> import gradwork as gw
        >>> loss = gw.nn.CrossEntropyLoss()(gw.randn(4, 3), gw.tensor([0, 2, 1, 0]))
        >>> loss.shape
        ()
    """

    def __init__(self, weight: Any = None, size_average: Any = None, ignore_index: int = -100,
                 reduce: Any = None, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:  # fmt: skip
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.cross_entropy(
            input,
            target,
            self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities (use after LogSoftmax)."""

    def __init__(self, weight: Any = None, size_average: Any = None, ignore_index: int = -100,
                 reduce: Any = None, reduction: str = "mean") -> None:  # fmt: skip
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)  # fmt: skip


class MultiMarginLoss(_WeightedLoss):
    """Multi-class hinge loss (the SVM loss): p = 1 or 2, margin, per-class weight."""

    def __init__(
        self,
        p: int = 1,
        margin: float = 1.0,
        weight: Any = None,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: only p == 1 and p == 2 are supported, got {p}")
        self.p, self.margin = p, margin

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.multi_margin_loss(input, target, self.p, self.margin, self.weight,
                                   reduction=self.reduction)  # fmt: skip


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence of the target from exp(input); input holds log-probabilities.

    Args:
        reduction: 'batchmean' (sum / batch size: the true KL divergence),
            'sum', 'none' or 'mean' (sum / number of elements; warns, as torch).
        log_target: the target holds log-probabilities too.

    Example:
        >>> import gradwork as gw
        >>> loss = gw.nn.KLDivLoss(reduction="batchmean")
        >>> loss(gw.tensor([[0.5, 0.5]]).log(), gw.tensor([[0.5, 0.5]]))
        tensor(0.)
    """

    def __init__(self, size_average: Any = None, reduce: Any = None, reduction: str = "mean",
                 log_target: bool = False) -> None:  # fmt: skip
        super().__init__(size_average, reduce, "sum" if reduction == "batchmean" else reduction)
        self.reduction, self.log_target = reduction, log_target

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
