"""Functional normalisation, dropout and one-hot (torch's signatures)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from gradwork import ops, random
from gradwork.nn._placement import to_device_of, to_host
from gradwork.tensor import Tensor, replace_in_place


def _raw(value: Any) -> Any:
    return None if value is None else getattr(value, "array", value)


def batch_norm(input: Tensor, running_mean: Any, running_var: Any, weight: Tensor | None = None,  # noqa: A002
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:  # fmt: skip
    """Normalise each channel (axis 1); in training, update running_mean/var IN PLACE.

    Example:
        >>> import gradwork as gw
        >>> x = gw.randn(8, 3)
        >>> y = batch_norm(x, None, None, training=True)
        >>> bool(abs(y.mean(0)).max() < 1e-5)
        True
    """
    return ops.BatchNorm.apply(input, weight, bias, _raw(running_mean), _raw(running_var),
                               training=training, momentum=momentum, eps=eps)  # fmt: skip


def layer_norm(input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None,  # noqa: A002
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:  # fmt: skip
    """Normalise over the trailing `normalized_shape` dimensions."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[-len(shape) :]) != shape:  # RuntimeError, as torch's
        raise RuntimeError(
            f"layer_norm: input of shape {tuple(input.shape)} does not end with "
            f"normalized_shape {shape}; pass normalized_shape={tuple(input.shape[-len(shape) :])}"
        )
    axes = tuple(range(-len(shape), 0))
    return ops.Normalize.apply(input, weight, bias, axes=axes, eps=eps)


def rms_norm(input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None,  # noqa: A002
             eps: float | None = None) -> Tensor:  # fmt: skip
    """x / sqrt(mean(x**2) + eps) over the trailing `normalized_shape` dimensions, times weight.

    Composed from primitives (square, mean, rsqrt, mul): unlike layer norm there
    is no mean to subtract, so the graph is short and needs no fused kernel.
    `eps=None` is torch's default: the machine epsilon of the input's dtype
    (float32's for float16).

    Example:
        >>> import gradwork as gw
        >>> y = rms_norm(gw.tensor([[3.0, 4.0]]), (2,), eps=0.0)
        >>> [round(v, 4) for v in y[0].tolist()]
        [0.8485, 1.1314]
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if input.ndim < len(shape):  # torch's classes: ValueError here, RuntimeError below
        raise ValueError(
            f"rms_norm: input of shape {tuple(input.shape)} has fewer dimensions than "
            f"normalized_shape {shape}; normalize over at most its last {input.ndim}"
        )
    if tuple(input.shape[-len(shape) :]) != shape:
        raise RuntimeError(
            f"rms_norm: input of shape {tuple(input.shape)} does not end with "
            f"normalized_shape {shape}; pass normalized_shape={tuple(input.shape[-len(shape) :])}"
        )
    if eps is None:
        # NOTE: torch computes half precision in float32 and uses float32's epsilon.
        eps = float(np.finfo(np.float64 if input.dtype == np.float64 else np.float32).eps)
    axes = tuple(range(-len(shape), 0))
    out = input * (input * input).mean(dim=axes, keepdim=True).add(eps).rsqrt()
    return out if weight is None else out * weight


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,  # noqa: A002
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:  # fmt: skip
    """Normalise each group of channels of each sample; per-channel affine."""
    n, channels = input.shape[:2]
    if channels % num_groups:
        raise ValueError(
            f"group_norm: {channels} channels cannot be split into {num_groups} groups"
        )
    grouped = input.reshape(n, num_groups, -1)
    normalised = ops.Normalize.apply(grouped, axes=(-1,), eps=eps).reshape(input.shape)
    affine = (channels,) + (1,) * (input.ndim - 2)
    if weight is not None:
        normalised = normalised * weight.reshape(affine)
    if bias is not None:
        normalised = normalised + bias.reshape(affine)
    return normalised


def instance_norm(input: Tensor, running_mean: Any = None, running_var: Any = None,  # noqa: A002
                  weight: Tensor | None = None, bias: Tensor | None = None,
                  use_input_stats: bool = True, momentum: float = 0.1,
                  eps: float = 1e-5) -> Tensor:  # fmt: skip
    """Normalise each channel of each sample over its spatial axes."""
    affine = (input.shape[1],) + (1,) * (input.ndim - 2)
    if not use_input_stats:  # eval mode with tracked statistics: a batch norm in eval
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    if running_mean is not None:
        _update_instance_stats(input.array, _raw(running_mean), _raw(running_var), momentum)
    axes = tuple(range(2, input.ndim))
    return ops.Normalize.apply(input, weight, bias, axes=axes, eps=eps, affine_shape=affine)


def _update_instance_stats(x, running_mean, running_var, momentum):
    # torch averages the per-instance statistics over the batch; unbiased variance.
    axes = tuple(range(2, x.ndim))
    count = int(np.prod(x.shape[2:]))
    mean = x.mean(axis=axes).mean(axis=0)
    var = x.var(axis=axes, ddof=1 if count > 1 else 0).mean(axis=0)
    running_mean *= 1 - momentum
    running_mean += momentum * mean
    running_var *= 1 - momentum
    running_var += momentum * var


def _check_probability(p: float, name: str) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: dropout probability has to be between 0 and 1, but got {p}")


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:  # noqa: A002
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (inverted dropout).

    The identity when not training. Draws from gradwork's seeded stream.
    """
    _check_probability(p, "dropout")
    if not training or p == 0.0:
        return input
    mask = _keep_mask(input, input.shape, p)
    return replace_in_place(input, lambda x: x * mask) if inplace else input * mask


def dropout2d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> Tensor:  # noqa: A002
    """Zero whole channels: for (N, C, H, W) a mask of shape (N, C, 1, 1).

    As torch does (with a warning): a 3-D input is taken as (N, C, L), masking
    (N, C, 1); a 2-D input (N, C) drops single elements.
    """
    _check_probability(p, "dropout2d")
    if input.ndim not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is deprecated "
            "(torch will make it an error). Use dropout for element-wise dropout; dropout2d "
            "drops whole channels of 3-D or 4-D inputs.",
            UserWarning,
            stacklevel=2,
        )
    if input.ndim < 2:
        raise RuntimeError(
            f"Feature dropout requires at least 2 dimensions in the input, got shape "
            f"{tuple(input.shape)}"
        )
    if input.ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L), where C "
            "is the channel dim (as torch does). Use dropout1d to say so.",
            UserWarning,
            stacklevel=2,
        )
    if not training or p == 0.0:
        return input
    mask = _keep_mask(input, input.shape[:2] + (1,) * (input.ndim - 2), p)
    return replace_in_place(input, lambda x: x * mask) if inplace else input * mask


def _keep_mask(input, shape, p):
    """The scaled keep-mask, on the input's device.

    Drawn on the host from gradwork's one stream and copied to the device, so a
    seed gives the same mask on the CPU and the GPU (runs agree step for step).
    """
    if p == 1.0:
        return np.zeros_like(input.array, shape=shape)
    keep = to_device_of(random.generator().random(shape) >= p, input.array)
    return keep.astype(input.dtype) * input.dtype.type(1.0 / (1.0 - p))


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """Class indices (int64) -> one-hot int64 vectors along a new last axis.

    Example:
        >>> import gradwork as gw
        >>> one_hot(gw.tensor([0, 2]), 3)
        tensor([[1, 0, 0],
                [0, 0, 1]])
    """
    like = _raw(tensor)
    indices = to_host(like)  # the range checks read the values: on the host
    if indices.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected integer class indices, got {indices.dtype}")
    if num_classes == -1:
        num_classes = int(indices.max()) + 1 if indices.size else 0
    if indices.size and (indices.min() < 0 or indices.max() >= num_classes):
        raise ValueError(
            f"one_hot: class values must be in [0, {num_classes}), got "
            f"[{indices.min()}, {indices.max()}]"
        )
    encoded = (indices[..., None] == np.arange(num_classes)).astype(np.int64)
    return Tensor(to_device_of(encoded, like))
