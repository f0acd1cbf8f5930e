"""Normalisation layers: batch, instance, layer, RMS and group norm (torch's semantics)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradwork import creation, dtypes
from gradwork.nn import functional as F
from gradwork.nn import init
from gradwork.nn._errors import LayerInputError
from gradwork.nn.linear import empty_parameter
from gradwork.nn.module import Module
from gradwork.tensor import Tensor


class _NormBase(Module):
    """Parameters (weight, bias) and buffers (running_mean, running_var, num_batches_tracked)."""

    _dims: tuple[int, ...] = (4,)
    _layout = "(N, C, H, W)"
    _unbatched_rank: int | None = None  # rank of an unbatched input (channels on axis 0)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device: Any = None,
                 dtype: Any = None, *, bias: bool = True) -> None:  # fmt: skip
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = empty_parameter(num_features, dtype=dtype)
            self.register_parameter(
                "bias", empty_parameter(num_features, dtype=dtype) if bias else None
            )
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            float_type = dtypes.as_dtype(dtype or dtypes.float32)
            # creation.tensor: buffers go where factories put tensors (the default device)
            zeros, ones = np.zeros(num_features, float_type), np.ones(num_features, float_type)
            self.register_buffer("running_mean", creation.tensor(zeros))
            self.register_buffer("running_var", creation.tensor(ones))
            self.register_buffer("num_batches_tracked", creation.tensor(np.array(0, np.int64)))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def _check_input(self, input: Tensor) -> None:
        name = type(self).__name__
        if input.ndim not in self._dims:
            raise LayerInputError(
                name, f"a {' or '.join(f'{d}-D' for d in self._dims)} input {self._layout}",
                f"a {input.ndim}-D input of shape {tuple(input.shape)}",
                "reshape the input, or pick the BatchNorm/InstanceNorm variant for its rank",
                received=input,
            )  # fmt: skip
        channels = input.shape[0] if input.ndim == self._unbatched_rank else input.shape[1]
        if channels != self.num_features:
            raise LayerInputError(
                name, f"num_features={self.num_features} channels (axis 1)",
                f"{channels} (input shape {tuple(input.shape)})",
                f"set num_features={channels}", received=input,
            )  # fmt: skip

    def _momentum(self) -> float:
        """Advance num_batches_tracked; momentum=None means a cumulative average."""
        if not (self.training and self.track_running_stats):
            return 0.0 if self.momentum is None else self.momentum
        self.num_batches_tracked.array[...] += 1
        if self.momentum is None:
            return 1.0 / float(self.num_batches_tracked.array)
        return self.momentum

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class _BatchNorm(_NormBase):
    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        self._check_input(input)
        use_batch = self.training or self.running_mean is None
        if use_batch and input.numel() // input.shape[1] <= 1:
            raise LayerInputError(
                type(self).__name__, "more than 1 value per channel when training",
                f"input of shape {tuple(input.shape)}",
                "use drop_last=True in the DataLoader so no batch holds a single sample, "
                "or call model.eval() to use the running statistics",
                received=input,
            )  # fmt: skip
        momentum = self._momentum()
        track = not self.training or self.track_running_stats
        return F.batch_norm(
            input, self.running_mean if track else None, self.running_var if track else None,
            self.weight, self.bias, use_batch, momentum, self.eps,
        )  # fmt: skip


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) input, per channel.

    Running statistics use torch's momentum (new = (1 - m) old + m batch) and the
    UNBIASED batch variance; eval mode normalises with them.

    Example:
        >>> import gradwork as gw
        >>> gw.nn.BatchNorm1d(4)(gw.randn(8, 4)).shape
        (8, 4)
    """

    _dims = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) input, per channel (see BatchNorm1d).

    Example:
        >>> import gradwork as gw
        >>> bn = gw.nn.BatchNorm2d(3)
        >>> _ = bn(gw.randn(4, 3, 5, 5))
        >>> int(bn.num_batches_tracked.item())
        1
    """


class InstanceNorm2d(_NormBase):
    """Normalise each channel of each sample over H, W (affine and tracking off by default).

    Example:
        >>> import gradwork as gw
        >>> gw.nn.InstanceNorm2d(3)(gw.randn(2, 3, 4, 4)).shape
        (2, 3, 4, 4)
    """

    _dims = (3, 4)
    _layout = "(N, C, H, W) or (C, H, W)"
    _unbatched_rank = 3

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device: Any = None,
                 dtype: Any = None, *, bias: bool = True) -> None:  # fmt: skip
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype,
                         bias=bias)  # fmt: skip

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        self._check_input(input)
        if input.ndim == 3:
            return self.forward(input.unsqueeze(0))[0]
        use_input_stats = self.training or not self.track_running_stats
        # torch's instance norm does not count batches; momentum=None means 0 here.
        momentum = 0.0 if self.momentum is None else self.momentum
        track = self.track_running_stats
        return F.instance_norm(
            input, self.running_mean if track else None, self.running_var if track else None,
            self.weight, self.bias, use_input_stats, momentum, self.eps,
        )  # fmt: skip


class LayerNorm(Module):
    """Normalise over the trailing `normalized_shape` dimensions of each sample.

    Example:
        >>> import gradwork as gw
        >>> gw.nn.LayerNorm(10)(gw.randn(4, 10)).shape
        (4, 10)
    """

    def __init__(self, normalized_shape: Any, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device: Any = None, dtype: Any = None) -> None:  # fmt: skip
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
        self.normalized_shape = tuple(int(n) for n in shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        self.register_parameter("weight", None)
        self.register_parameter("bias", None)
        if elementwise_affine:
            self.weight = empty_parameter(*self.normalized_shape, dtype=dtype)
            if bias:
                self.bias = empty_parameter(*self.normalized_shape, dtype=dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        n = len(self.normalized_shape)
        if tuple(input.shape[-n:]) != self.normalized_shape or input.ndim < n:
            raise LayerInputError(
                "LayerNorm", f"an input ending in normalized_shape={self.normalized_shape}",
                f"shape {tuple(input.shape)}", f"set normalized_shape={tuple(input.shape[-n:])}",
                received=input,
            )  # fmt: skip
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )


class RMSNorm(Module):
    """Root-mean-square norm: x / sqrt(mean(x**2) + eps) * weight over the trailing dimensions.

    LayerNorm without the centring and the bias (Zhang & Sennrich, 2019), as
    used by most recent language models. `eps=None` means the machine epsilon
    of the input's dtype, as torch.

    Args:
        normalized_shape: the trailing shape to normalise over (an int is one dimension).
        eps: added to the mean square; None for the dtype's epsilon.
        elementwise_affine: learn a per-element `weight` (initialised to ones).

    Shape:
        input (*, *normalized_shape); output the same.

    Example:
        >>> import gradwork as gw
        >>> norm = gw.nn.RMSNorm(4)
        >>> y = norm(gw.randn(2, 3, 4))
        >>> bool(abs((y * y).mean(-1) - 1).max() < 1e-4)
        True
    """

    def __init__(self, normalized_shape: Any, eps: float | None = None,
                 elementwise_affine: bool = True, device: Any = None,
                 dtype: Any = None) -> None:  # fmt: skip
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
        self.normalized_shape = tuple(int(n) for n in shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        self.register_parameter("weight", None)
        if elementwise_affine:
            self.weight = empty_parameter(*self.normalized_shape, dtype=dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        n = len(self.normalized_shape)
        if input.ndim < n or tuple(input.shape[-n:]) != self.normalized_shape:
            raise LayerInputError(
                "RMSNorm", f"an input ending in normalized_shape={self.normalized_shape}",
                f"shape {tuple(input.shape)}", f"set normalized_shape={tuple(input.shape[-n:])}",
                received=input,
            )  # fmt: skip
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        affine = self.elementwise_affine
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={affine}"


class GroupNorm(Module):
    """Normalise groups of channels of each sample; per-channel affine.

    Example:
        >>> import gradwork as gw
        >>> gw.nn.GroupNorm(2, 4)(gw.randn(3, 4, 5, 5)).shape
        (3, 4, 5, 5)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device: Any = None, dtype: Any = None, *, bias: bool = True) -> None:  # fmt: skip
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(
                f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                f"({num_groups})"
            )
        self.num_groups, self.num_channels, self.eps, self.affine = (
            num_groups,
            num_channels,
            eps,
            affine,
        )
        if affine:
            self.weight = init.ones_(empty_parameter(num_channels, dtype=dtype))
            bias_parameter = (
                init.zeros_(empty_parameter(num_channels, dtype=dtype)) if bias else None
            )
            self.register_parameter("bias", bias_parameter)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        if input.ndim < 2 or input.shape[1] != self.num_channels:
            raise LayerInputError(
                "GroupNorm", f"num_channels={self.num_channels} on axis 1",
                f"shape {tuple(input.shape)}", "set num_channels to the input's channel count",
                received=input,
            )  # fmt: skip
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )
