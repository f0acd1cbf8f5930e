"""`SyncBatchNorm`: batch statistics over the whole batch of every rank, as torch's."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradwork import distributed as dist
from gradwork.autograd import Function, no_grad
from gradwork.nn.module import Module
from gradwork.nn.normalization import BatchNorm1d, BatchNorm2d, _BatchNorm
from gradwork.tensor import Tensor


class _AllReduceSum(Function):
    """y = the sum of x over ranks; so dL/dx = the sum over ranks of dL/dy."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray) -> np.ndarray:
        total = np.array(x, copy=True)
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx: Function, grad: np.ndarray) -> np.ndarray:
        total = np.array(grad, copy=True)
        dist.all_reduce(total)  # NOTE: every rank's loss depends on every rank's x
        return total


class SyncBatchNorm(_BatchNorm):
    """Batch norm whose training statistics cover the batches of all ranks.

    Mean and variance are all-reduced in the forward pass (two small
    collectives per layer, the variance from the global mean for accuracy)
    and their gradients in the backward pass, so N ranks with batch B compute
    exactly what one process computes with batch N x B. Eval mode, or a group
    of one, is plain BatchNorm. Convert a model with `convert_sync_batchnorm`.

    Args:
        num_features, eps, momentum, affine, track_running_stats: as BatchNorm's.
        process_group: accepted for torch's signature (the default group is used).

    Example:
        >>> import gradwork as gw
        >>> model = gw.nn.Sequential(gw.nn.Conv2d(1, 4, 3), gw.nn.BatchNorm2d(4))
        >>> type(SyncBatchNorm.convert_sync_batchnorm(model)[1]).__name__
        'SyncBatchNorm'
    """

    _dims = (2, 3, 4, 5)
    _layout = "(N, C, ...)"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 process_group: Any = None, device: Any = None,
                 dtype: Any = None) -> None:  # fmt: skip
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        use_batch = self.training or self.running_mean is None
        if not use_batch or not dist.is_initialized() or dist.get_world_size() == 1:
            return super().forward(input)
        self._check_input(input)
        axes = (0, *range(2, input.ndim))
        shape = (1, input.shape[1]) + (1,) * (input.ndim - 2)
        count = np.array([input.numel() // input.shape[1]], np.int64)
        dist.all_reduce(count)
        n = int(count[0])
        mean = _AllReduceSum.apply(input.sum(axes)) / n
        centred = input - mean.reshape(shape)
        variance = _AllReduceSum.apply((centred * centred).sum(axes)) / n
        output = centred / (variance.reshape(shape) + self.eps).sqrt()
        if self.weight is not None:
            output = output * self.weight.reshape(shape) + self.bias.reshape(shape)
        if self.track_running_stats:
            self._update_running_stats(mean, variance, n)
        return output

    def _update_running_stats(self, mean: Tensor, variance: Tensor, n: int) -> None:
        momentum = self._momentum()
        with no_grad():
            unbiased = variance.array * (n / max(n - 1, 1))  # torch keeps the unbiased one
            for running, batch in ((self.running_mean, mean.array), (self.running_var, unbiased)):
                running.array[...] = (1 - momentum) * running.array + momentum * batch

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """`module` with every BatchNorm1d/2d replaced by a SyncBatchNorm (same state)."""
        if isinstance(module, BatchNorm1d | BatchNorm2d) and not isinstance(module, cls):
            converted = cls(module.num_features, module.eps, module.momentum, module.affine,
                            module.track_running_stats)  # fmt: skip
            converted._parameters.update(module._parameters)
            converted._buffers.update(module._buffers)
            converted.train(module.training)
            return converted
        for name, child in list(module.named_children()):
            new = cls.convert_sync_batchnorm(child, process_group)
            if new is not child:
                setattr(module, name, new)
        return module
