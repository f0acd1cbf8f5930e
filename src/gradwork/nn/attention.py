"""`MultiheadAttention`: torch's layer, parameter names, initialisation and checks.

Self-attention (query is key is value, the Transformer's case) projects q, k
and v with ONE matmul against the packed `in_proj_weight`; the heads then run
through one `scaled_dot_product_attention` node. With `need_weights=True` the
weights are computed explicitly (as torch does), so they carry gradients too.
Both layouts, (L, N, E) and batch_first (N, L, E), are read in place: the
head split is a permute of the projection, never a transposed copy of the input.
"""

from __future__ import annotations

import math
from typing import Any

from gradwork._arrays import xp_of
from gradwork.functions import cat
from gradwork.nn import functional as F
from gradwork.nn import init
from gradwork.nn._attention_masks import canonical_mask, check_shapes, merge_masks
from gradwork.nn.functional._attention import packed_attention
from gradwork.nn.linear import Linear, empty_parameter
from gradwork.nn.module import Module
from gradwork.tensor import Tensor


class NonDynamicallyQuantizableLinear(Linear):
    """The `out_proj` of MultiheadAttention: a Linear under torch's class name (for repr)."""


class MultiheadAttention(Module):
    """Attention over `num_heads` subspaces: Concat(head_1, ..., head_h) W_out.

    Args:
        embed_dim: model width E (query features and output features).
        num_heads: parallel heads; embed_dim must be divisible by it.
        dropout: dropout on the attention weights (training only).
        bias: biases on the input and output projections.
        add_bias_kv: learn one extra key and value appended to the sequence.
        add_zero_attn: append a zero key and value.
        kdim, vdim: key and value features (default embed_dim); when they
            differ, q/k/v get separate `q_proj_weight`, `k_proj_weight`,
            `v_proj_weight` instead of the packed `in_proj_weight`.
        batch_first: inputs are (N, L, E) instead of (L, N, E).

    Shape:
        query (L, N, E) or (N, L, E) or unbatched (L, E); key (S, N, kdim),
        value (S, N, vdim). Returns (output like query, weights (N, L, S) -
        or (N, H, L, S) with average_attn_weights=False - or None).

    Example:
        >>> import gradwork as gw
        >>> attention = gw.nn.MultiheadAttention(16, 4, batch_first=True)
        >>> x = gw.randn(2, 5, 16)
        >>> output, weights = attention(x, x, x)
        >>> output.shape, weights.shape
        ((2, 5, 16), (2, 5, 5))
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device: Any = None,
                 dtype: Any = None) -> None:  # fmt: skip
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(
                f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} and "
                f"num_heads={num_heads} instead"
            )
        super().__init__()
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout, self.batch_first = dropout, batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise AssertionError(
                f"embed_dim must be divisible by num_heads: got embed_dim={embed_dim}, "
                f"num_heads={num_heads}; pick num_heads among the divisors of {embed_dim}"
            )
        self._make_projections(bias, add_bias_kv, dtype)
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _make_projections(self, bias: bool, add_bias_kv: bool, dtype: Any) -> None:
        width = self.embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = empty_parameter(3 * width, width, dtype=dtype)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = empty_parameter(width, width, dtype=dtype)
            self.k_proj_weight = empty_parameter(width, self.kdim, dtype=dtype)
            self.v_proj_weight = empty_parameter(width, self.vdim, dtype=dtype)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = empty_parameter(3 * width, dtype=dtype)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(width, width, bias=bias, dtype=dtype)
        if add_bias_kv:
            self.bias_k = empty_parameter(1, 1, width, dtype=dtype)
            self.bias_v = empty_parameter(1, 1, width, dtype=dtype)
        else:
            self.bias_k = self.bias_v = None  # plain attributes, as torch's (not in state_dict)

    def _reset_parameters(self) -> None:
        """torch's scheme: xavier_uniform_ projections, zero biases, xavier_normal_ bias_k/v."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for weight in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        for extra in (self.bias_k, self.bias_v):
            if extra is not None:
                init.xavier_normal_(extra)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Any = None,
                need_weights: bool = True, attn_mask: Any = None,
                average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:  # fmt: skip
        is_batched = check_shapes(self, query, key, value, key_padding_mask, attn_mask)
        key_padding_mask = canonical_mask(key_padding_mask, "key_padding_mask", query.dtype,
                                          attn_mask, "attn_mask")  # fmt: skip
        attn_mask = canonical_mask(attn_mask, "attn_mask", query.dtype)
        if is_causal and attn_mask is None:
            raise RuntimeError(
                "Need attn_mask if specifying the is_causal hint. You may use the Transformer "
                "module method `generate_square_subsequent_mask` to create this mask."
            )
        # The causal hint replaces the mask only where torch's does: no padding
        # mask to merge and no weights to return.
        use_causal = is_causal and key_padding_mask is None and not need_weights
        if not is_batched:  # one sequence: a batch of one, (L, 1, E)
            query, key, value = _unsqueeze_same(query, key, value)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        batch_axis = 0 if self.batch_first and is_batched else 1
        heads, weights = self._attend(query, key, value, batch_axis, attn_mask, key_padding_mask,
                                      need_weights, use_causal)  # fmt: skip
        output = self._merge_heads(heads, batch_axis)
        if weights is not None and average_attn_weights:
            weights = weights.mean(dim=1)
        if not is_batched:
            output = output.squeeze(1)
            weights = weights.squeeze(0) if weights is not None else None
        return output, weights

    def _attend(self, query: Tensor, key: Tensor, value: Tensor, batch_axis: int, attn_mask: Any,
                key_padding_mask: Any, need_weights: bool, use_causal: bool) -> tuple:  # fmt: skip
        """(heads (N, H, L, D), weights (N, H, L, S) or None)."""
        dropout_p = self.dropout if self.training else 0.0
        projected = self._project(query, key, value, batch_axis)
        plain = not need_weights and self.bias_k is None and not self.add_zero_attn
        if isinstance(projected, Tensor) and plain:  # packed self-attention: q, k, v stacked
            _, batch, _, length, _ = projected.shape
            mask = None if use_causal else merge_masks(self, (batch, length, length), attn_mask,
                                                       key_padding_mask)  # fmt: skip
            return packed_attention(projected, mask, dropout_p, use_causal), None
        q, k, v = projected if not isinstance(projected, Tensor) else tuple(projected.unbind(0))
        k, v, attn_mask, key_padding_mask = self._extend_keys(k, v, attn_mask, key_padding_mask)
        sizes = (k.shape[0], q.shape[2], k.shape[2])
        mask = None if use_causal else merge_masks(self, sizes, attn_mask, key_padding_mask)
        if need_weights:
            return _attention_with_weights(q, k, v, mask, dropout_p)
        return F.scaled_dot_product_attention(q, k, v, mask, dropout_p, use_causal), None

    def _project(self, query: Tensor, key: Tensor, value: Tensor, batch_axis: int) -> tuple:
        """q, k, v split into heads, each (N, H, length, head_dim); stacked for self-attention."""
        width, bias = self.embed_dim, self.in_proj_bias
        if self._qkv_same_embed_dim and query is key and key is value:
            packed = F.linear(query, self.in_proj_weight, bias)  # one GEMM for q, k and v
            return self._split_heads(packed, batch_axis, 3)
        if self._qkv_same_embed_dim:
            weights = (self.in_proj_weight[:width], self.in_proj_weight[width : 2 * width],
                       self.in_proj_weight[2 * width :])  # fmt: skip
        else:
            weights = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        biases = (None,) * 3 if bias is None else (bias[:width], bias[width : 2 * width],
                                                   bias[2 * width :])  # fmt: skip
        return tuple(
            self._split_heads(F.linear(x, w, b), batch_axis)
            for x, w, b in zip((query, key, value), weights, biases, strict=True)
        )

    def _split_heads(self, projected: Tensor, batch_axis: int, parts: int = 1) -> Tensor:
        """(L, N, parts*E) or (N, L, parts*E) -> (parts, N, H, L, D); no parts axis if 1."""
        heads = (self.num_heads, self.head_dim)
        if parts == 1:
            split = projected.reshape(*projected.shape[:2], *heads)
            return split.permute(batch_axis, 2, 1 - batch_axis, 3)
        split = projected.reshape(*projected.shape[:2], parts, *heads)
        return split.permute(2, batch_axis, 3, 1 - batch_axis, 4)

    def _merge_heads(self, heads: Tensor, batch_axis: int) -> Tensor:
        """(N, H, L, D) -> the input's layout (L, N, E) or (N, L, E), then out_proj."""
        order = (0, 2, 1, 3) if batch_axis == 0 else (2, 0, 1, 3)
        merged = heads.permute(*order)
        merged = merged.reshape(*merged.shape[:2], self.embed_dim)
        return F.linear(merged, self.out_proj.weight, self.out_proj.bias)

    def _extend_keys(self, k: Tensor, v: Tensor, attn_mask: Any, padding: Any) -> tuple:
        """Append bias_k/bias_v and/or a zero key/value; the masks get a 0 column for each."""
        batch = k.shape[0]
        extras = []
        if self.bias_k is not None:
            shape = (1, self.num_heads, 1, self.head_dim)
            extras.append((self.bias_k.reshape(*shape), self.bias_v.reshape(*shape)))
        if self.add_zero_attn:
            xp = xp_of(k.array)  # on the keys' device
            zeros = Tensor(xp.zeros((1, self.num_heads, 1, self.head_dim), dtype=k.dtype))
            extras.append((zeros, zeros))
        for extra_k, extra_v in extras:
            k = cat([k, extra_k.expand(batch, -1, -1, -1)], dim=2)
            v = cat([v, extra_v.expand(batch, -1, -1, -1)], dim=2)
            attn_mask = None if attn_mask is None else F.pad(attn_mask, (0, 1))
            padding = None if padding is None else F.pad(padding, (0, 1))
        return k, v, attn_mask, padding

    def extra_repr(self) -> str:
        return ""  # torch prints only the out_proj child


def _unsqueeze_same(query: Tensor, key: Tensor, value: Tensor) -> tuple:
    """Unsqueeze(1) each input once, keeping `query is key is value` true where it was."""
    done: dict[int, Tensor] = {}
    return tuple(done.setdefault(id(x), x.unsqueeze(1)) for x in (query, key, value))


def _attention_with_weights(q: Tensor, k: Tensor, v: Tensor, mask: Any, dropout_p: float):
    """torch's explicit path: (heads, weights (N, H, L, S)); a fully masked row gives NaN there."""
    scores = (q * math.sqrt(1.0 / q.shape[-1])) @ k.transpose(-2, -1)  # torch's rounding
    if mask is not None:
        scores = scores + mask
    weights = F.softmax(scores, dim=-1)
    if dropout_p > 0.0:
        weights = F.dropout(weights, dropout_p)
    return weights @ v, weights


__all__ = ["MultiheadAttention", "NonDynamicallyQuantizableLinear"]
