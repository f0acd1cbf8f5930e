"""Functional attention: `scaled_dot_product_attention` (torch's signature and checks)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradwork import ops
from gradwork.nn._placement import as_array
from gradwork.tensor import Tensor


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Any = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, *, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:  # fmt: skip
    """softmax(query @ key^T * scale + mask) @ value, as one graph node.

    Args:
        query: (..., L, E). key: (..., S, E). value: (..., S, Ev). Leading
            dimensions broadcast against each other.
        attn_mask: a bool mask (True = the position TAKES PART, the opposite of
            MultiheadAttention's masks) or a float mask added to the scores,
            broadcastable to (..., L, S).
        dropout_p: dropout on the attention weights (always applied, as in
            torch: pass 0.0 in evaluation).
        is_causal: mask with the lower triangle of an (L, S) matrix of ones
            (top-left aligned); not together with attn_mask.
        scale: defaults to 1 / sqrt(E).
        enable_gqa: grouped-query attention: key and value may have fewer heads
            (dim -3) than query, each dividing query's.

    Returns:
        (..., L, Ev). A row with every position masked gives zeros, as torch's
        CPU kernel does.

    Example:
        >>> import gradwork as gw
        >>> import gradwork.nn.functional as F
        >>> q, k, v = gw.randn(2, 4, 5, 8), gw.randn(2, 4, 6, 8), gw.randn(2, 4, 6, 3)
        >>> F.scaled_dot_product_attention(q, k, v, is_causal=True).shape
        (2, 4, 5, 3)
    """
    _check_inputs(query, key, value, dropout_p)
    mask = _check_mask(attn_mask, query, key, is_causal)
    repeats = _gqa_repeats(query, key, value) if enable_gqa else None
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
    return ops.ScaledDotProductAttention.apply(query, key, value, mask, scale=scale,
                                               dropout_p=dropout_p, is_causal=is_causal,
                                               gqa_repeats=repeats)  # fmt: skip


def packed_attention(qkv: Tensor, mask: Any, dropout_p: float, is_causal: bool) -> Tensor:
    """Self-attention on q, k, v stacked as (3, ..., L, E): one node, gradients stacked too.

    For MultiheadAttention, which has checked shapes and made `mask` an
    additive float mask already.
    """
    scale = 1.0 / math.sqrt(qkv.shape[-1])
    options = {"scale": scale, "dropout_p": dropout_p, "is_causal": is_causal}
    return ops.ScaledDotProductAttention.apply(qkv, None, None, mask, **options)


def _check_inputs(query: Tensor, key: Tensor, value: Tensor, dropout_p: float) -> None:
    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise RuntimeError(
            "scaled_dot_product_attention: Expected query, key, and value to all be at least 2 "
            f"dimensional, but got query.dim: {query.ndim} key.dim: {key.ndim} and value.dim: "
            f"{value.ndim} instead: pass (..., L, E) tensors (unsqueeze a 1-D vector)"
        )
    if not query.dtype == key.dtype == value.dtype:
        raise RuntimeError(
            "scaled_dot_product_attention: Expected query, key, and value to have the same "
            f"dtype, but got query.dtype: {query.dtype} key.dtype: {key.dtype} and value.dtype: "
            f"{value.dtype} instead: convert them with .to(query.dtype)"
        )
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(
            f"scaled_dot_product_attention: query's last dimension ({query.shape[-1]}) must equal "
            f"key's ({key.shape[-1]}): got query {tuple(query.shape)}, key {tuple(key.shape)}"
        )
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(
            f"scaled_dot_product_attention: key and value need the same sequence length "
            f"(dim -2): got key {tuple(key.shape)}, value {tuple(value.shape)}"
        )
    if not 0.0 <= dropout_p <= 1.0:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {dropout_p}")


def _check_mask(attn_mask: Any, query: Tensor, key: Tensor, is_causal: bool) -> Any:
    """The mask as the op takes it: None, a bool array, or a float tensor (it may need grad)."""
    if attn_mask is None:
        return None
    if is_causal:
        raise RuntimeError(
            "_scaled_dot_product_attention: Explicit attn_mask should not be set when "
            "is_causal=True: pass one or the other"
        )
    dtype = np.dtype(attn_mask.dtype)
    if dtype != np.bool_ and dtype.kind != "f":
        raise RuntimeError(
            "Expected attn_mask dtype to be bool or float or to match query dtype, but got "
            f"attn_mask.dtype: {dtype} and query.dtype: {query.dtype} instead"
        )
    batch = np.broadcast_shapes(query.shape[:-2], key.shape[:-2])
    scores = (*batch, query.shape[-2], key.shape[-2])
    try:
        fits = np.broadcast_shapes(scores, tuple(attn_mask.shape)) == scores
    except ValueError:
        fits = False
    if not fits:
        raise RuntimeError(
            f"scaled_dot_product_attention: attn_mask of shape {tuple(attn_mask.shape)} does not "
            f"broadcast to the attention scores' shape {scores} (..., L, S)"
        )
    if dtype == np.bool_:
        return as_array(attn_mask)  # a GPU mask stays on the GPU
    return attn_mask if isinstance(attn_mask, Tensor) else Tensor(as_array(attn_mask))


def _gqa_repeats(query: Tensor, key: Tensor, value: Tensor) -> tuple[int, int] | None:
    """How often each key and value head repeats to match query's heads (dim -3)."""
    if min(query.ndim, key.ndim, value.ndim) < 3:
        raise IndexError(
            "Dimension out of range (expected to be in range of [-2, 1], but got -3): "
            "enable_gqa needs (..., heads, L, E) inputs"
        )
    heads, key_heads, value_heads = query.shape[-3], key.shape[-3], value.shape[-3]
    if heads % key_heads or heads % value_heads:
        raise RuntimeError(
            "Number of heads in key and value must divide the number of heads in query: got "
            f"{heads} query heads, {key_heads} key heads and {value_heads} value heads"
        )
    return heads // key_heads, heads // value_heads
