"""Gradient clipping, parameter vectors and explicit weight penalties.

Clipping and the vector helpers work in place on raw arrays, outside the
graph, as torch.nn.utils does; the penalties are ordinary differentiable
expressions to add to a loss.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

import numpy as np

from gradwork.autograd import no_grad
from gradwork.functions import cat
from gradwork.tensor import Tensor

__all__ = [
    "clip_grad_norm_",
    "clip_grad_value_",
    "parameters_to_vector",
    "vector_to_parameters",
    "l1_penalty",
    "l2_penalty",
]


def _as_list(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Scale all gradients together so that their joint norm is at most `max_norm`.

    The total norm is the `norm_type` norm of the per-parameter gradient
    norms, i.e. the norm of all gradients concatenated (`inf`: the largest
    absolute entry). Gradients are multiplied by `max_norm / (total + 1e-6)`
    clamped to at most 1, exactly as torch does (so they are rescaled, by
    almost exactly 1, even when under the limit).

    Args:
        parameters: a tensor or tensors whose `.grad` to clip; None grads are skipped.
        max_norm: the largest allowed total norm.
        norm_type: the order of the norm (2.0, 1.0, `float("inf")`, ...).
        error_if_nonfinite: raise instead of scaling by a NaN or infinite norm.
        foreach: accepted for torch compatibility; ignored.

    Returns:
        The total norm before clipping, a 0-d tensor.

    Example:
        >>> import gradwork as gw
        >>> from gradwork.nn.utils import clip_grad_norm_
        >>> w = gw.zeros(2, requires_grad=True)
        >>> w.grad = gw.tensor([3.0, 4.0])
        >>> clip_grad_norm_([w], max_norm=1.0)
        tensor(5.)
        >>> w.grad
        tensor([0.6, 0.8])
    """
    grads = [p.grad.array for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return Tensor(np.asarray(0.0, dtype=np.float32))
    norm_type = float(norm_type)
    norms = [np.linalg.norm(g.reshape(-1), ord=norm_type) for g in grads]
    total = np.linalg.norm(np.stack(norms), ord=norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the "
            "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    coefficient = np.minimum(max_norm / (total + 1e-6), 1.0)
    # NOTE: an infinite norm gives coefficient 0 and inf * 0 = NaN gradients, as in
    # torch; that is what error_if_nonfinite=True exists to prevent, so no warning.
    with np.errstate(invalid="ignore"):
        for g in grads:
            g *= coefficient.astype(g.dtype)
    return Tensor(total if hasattr(total, "shape") else np.asarray(total))  # on the grads' device


def clip_grad_value_(
    parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: bool | None = None
) -> None:
    """Clamp every gradient entry into `[-clip_value, clip_value]`, in place.

    Example:
        >>> import gradwork as gw
        >>> from gradwork.nn.utils import clip_grad_value_
        >>> w = gw.zeros(3, requires_grad=True)
        >>> w.grad = gw.tensor([-5.0, 0.5, 2.0])
        >>> clip_grad_value_(w, 1.0)
        >>> w.grad
        tensor([-1. ,  0.5,  1. ])
    """
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            np.clip(p.grad.array, -clip_value, clip_value, out=p.grad.array)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and joined into one vector (differentiable).

    Example:
        >>> import gradwork as gw
        >>> from gradwork.nn.utils import parameters_to_vector
        >>> parameters_to_vector([gw.ones(2, 2), gw.zeros(1)])
        tensor([1., 1., 1., 1., 0.])
    """
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of `vec` into the parameters, in place.

    NOTE: torch re-points each `param.array` at a view of `vec`; we copy the
    values instead, so a parameter never silently shares memory with `vec`
    (and an optimizer's flat buffer stays in place).

    Example:
        >>> import gradwork as gw
        >>> from gradwork.nn.utils import vector_to_parameters
        >>> a, b = gw.zeros(2), gw.zeros(1)
        >>> vector_to_parameters(gw.tensor([1.0, 2.0, 3.0]), [a, b])
        >>> a, b
        (tensor([1., 2.]), tensor([3.]))
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected gradwork.Tensor, but got: {type(vec).__name__}")
    parameters = list(parameters)
    total = sum(p.numel() for p in parameters)
    if vec.numel() != total:
        raise ValueError(
            f"vector_to_parameters: the vector has {vec.numel()} elements but the parameters "
            f"hold {total}; build it with parameters_to_vector of the same parameters"
        )
    offset = 0
    with no_grad():
        for p in parameters:
            p.array[...] = vec.array[offset : offset + p.numel()].reshape(p.shape)
            offset += p.numel()


def l1_penalty(params: Iterable[Tensor], weight: float = 1.0) -> Tensor:
    """`weight * sum |w|` over all entries of all `params`: a differentiable scalar for a loss.

    NOTE: the subgradient at w = 0 is 0 (the gradient of |w| is sign(w)).

    Example:
        >>> import gradwork as gw
        >>> from gradwork.nn.utils import l1_penalty
        >>> l1_penalty([gw.tensor([1.0, -2.0]), gw.tensor([3.0])], weight=0.5)
        tensor(3.)
    """
    return _sum_terms([p.abs().sum() for p in params], weight, "l1_penalty")


def l2_penalty(params: Iterable[Tensor], weight: float = 1.0) -> Tensor:
    """`weight * sum w**2` (the plain sum of squares, WITHOUT a factor 1/2).

    Its gradient is `2 * weight * w`, so `l2_penalty(params, weight=wd / 2)`
    added to a loss gives the same gradient as SGD's `weight_decay=wd`.

    Example:
        >>> import gradwork as gw
        >>> from gradwork.nn.utils import l2_penalty
        >>> l2_penalty([gw.tensor([1.0, -2.0]), gw.tensor([3.0])])
        tensor(14.)
    """
    return _sum_terms([(p * p).sum() for p in params], weight, "l2_penalty")


def _sum_terms(terms: list[Any], weight: float, name: str) -> Tensor:
    if not terms:
        raise ValueError(f"{name}: got no parameters; pass model.parameters() or a list of tensors")
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total * weight


# torch spells the packing helpers `torch.nn.utils.rnn`; they live in nn/utils_rnn.py.
# Registering the module under that name makes both `from gradwork.nn.utils.rnn
# import pack_padded_sequence` and `gradwork.nn.utils.rnn.pad_sequence` work.
from gradwork.nn import utils_rnn as rnn  # noqa: E402

sys.modules[__name__ + ".rnn"] = rnn
