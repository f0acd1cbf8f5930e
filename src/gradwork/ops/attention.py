"""Scaled dot-product attention as one graph node.

Fused for speed and stability: composed from matmul, scale, mask, softmax,
dropout and matmul it is six or more graph nodes, each a pass over the
(..., L, S) score tensor; fused, forward is two batched matmuls and a
max-subtracted softmax written in place, and backward is four batched matmuls
and the softmax's closed form

    dscores = weights * (dweights - sum(dweights * weights, -1))

All batch (and head) dimensions ride along in np.matmul's broadcasting, so
there is no Python loop over heads or batch.
"""

from __future__ import annotations

import numpy as np

from gradwork import random
from gradwork._arrays import xp_of
from gradwork.autograd import Function


class ScaledDotProductAttention(Function):
    """softmax(q @ k^T * scale + mask) @ v, with dropout on the weights.

    Args (forward): query (..., L, E), key (..., S, E), value (..., S, Ev),
    mask: None, a bool array (True = takes part) or a float array added to
    the scores, broadcastable to (..., L, S); scale; dropout_p; is_causal
    (torch's top-left aligned lower triangle, also when L != S); gqa_repeats:
    (key, value) head repeats for grouped-query attention, or None.

    Packed self-attention: with key and value None, query is (3, ..., L, E),
    q, k and v stacked (MultiheadAttention's one in-projection); its gradient
    comes back stacked too, so no split node has to scatter three gradients
    into zero-filled copies of the stack.

    NOTE: a row whose every score is masked gives zeros (and zero gradients),
    as torch's CPU kernel does, not the NaN of a plain softmax.
    """

    name = "scaled_dot_product_attention"

    @staticmethod
    def forward(ctx, query, key, value, mask=None, scale=1.0, dropout_p=0.0, is_causal=False,
                gqa_repeats=None):  # fmt: skip
        ctx.packed = key is None
        if ctx.packed:
            query, key, value = query  # views of the stack, no copies
        if gqa_repeats is not None:  # each kv head serves a group of query heads
            key, value = _repeat_heads(key, gqa_repeats[0]), _repeat_heads(value, gqa_repeats[1])
        scores = query @ np.swapaxes(key, -1, -2)
        scores *= scale
        # Masks are added as -inf, as torch does (not written over the score): a NaN
        # score stays NaN even where it is masked out.
        if mask is not None and mask.dtype == np.bool_:
            np.add(scores, -np.inf, out=scores, where=~mask)
        elif mask is not None:
            scores += mask
        if is_causal:
            length, source = scores.shape[-2:]
            causal = xp_of(scores).tri(length, source, dtype=bool)
            np.add(scores, -np.inf, out=scores, where=~causal)
        weights = _masked_softmax(scores)
        keep = _dropout_mask(weights, dropout_p) if dropout_p > 0.0 else None
        ctx.save_for_backward(query, key, value, weights, keep)
        ctx.scale, ctx.gqa_repeats = scale, gqa_repeats
        return (weights if keep is None else weights * keep) @ value

    @staticmethod
    def backward(ctx, grad):
        query, key, value, weights, keep = ctx.saved
        need_q, need_k, need_v, need_mask = (list(ctx.needs_input_grad) + [False] * 4)[:4]
        stacked = None
        if ctx.packed:  # the three gradients are written straight into one stack
            need_k = need_v = need_q
            dtype = np.result_type(query, grad)
            stacked = np.empty_like(query, shape=(3, *query.shape), dtype=dtype)
        out_q, out_k, out_v = (None, None, None) if stacked is None else stacked
        dropped = weights if keep is None else weights * keep
        grad_v = np.matmul(np.swapaxes(dropped, -1, -2), grad, out=out_v) if need_v else None
        grad_q = grad_k = grad_mask = None
        if need_q or need_k or need_mask:
            grad_weights = grad @ np.swapaxes(value, -1, -2)
            if keep is not None:
                grad_weights *= keep
            # softmax backward, in place: weights * (dW - sum(dW * W))
            row_dot = np.einsum("...ij,...ij->...i", grad_weights, weights)[..., None]
            grad_weights -= row_dot
            grad_weights *= weights
            grad_mask = grad_weights.copy() if need_mask else None
            grad_weights *= ctx.scale
            grad_q = np.matmul(grad_weights, key, out=out_q) if need_q else None
            grad_k = (
                np.matmul(np.swapaxes(grad_weights, -1, -2), query, out=out_k) if need_k else None
            )
        if stacked is not None:
            return stacked, None, None, grad_mask
        if ctx.gqa_repeats is not None:
            grad_k = _sum_groups(grad_k, ctx.gqa_repeats[0])
            grad_v = _sum_groups(grad_v, ctx.gqa_repeats[1])
        # Batch dimensions that broadcasting added are summed by the engine.
        return grad_q, grad_k, grad_v, grad_mask


def _dropout_mask(weights, p):
    """keep / (1 - p) as an array like `weights`, drawn from gradwork's stream."""
    # float32 draws: half the random bits of the default float64, same test
    # Drawn on the host, so a seed gives the same mask on every device; then copied over.
    keep = xp_of(weights).asarray(random.generator().random(weights.shape, dtype=np.float32) >= p)
    rescale = 1.0 / (1.0 - p) if p < 1.0 else 0.0  # p = 1 drops everything
    return keep * weights.dtype.type(rescale)


def _masked_softmax(scores):
    """Softmax over the last axis, in place on `scores`; all -inf rows give zeros."""
    if scores.shape[-1] == 0:  # no keys at all: nothing to weigh, the output is zeros
        return scores
    row_max = scores.max(axis=-1, keepdims=True)
    # NOTE: a fully masked row has max -inf; shifting by 0 instead keeps
    # exp(-inf) = 0 there rather than exp(nan).
    row_max[~np.isfinite(row_max)] = 0.0
    scores -= row_max
    np.exp(scores, out=scores)
    total = scores.sum(axis=-1, keepdims=True)
    total[total == 0] = 1.0  # a fully masked row: 0 / 1 = 0, as torch's CPU kernel
    scores /= total
    return scores


def _repeat_heads(x, repeats):
    """torch's repeat_interleave(repeats, dim=-3): head h of the result is x's head h // repeats."""
    return x if repeats == 1 else np.repeat(x, repeats, axis=-3)


def _sum_groups(grad, repeats):
    """Undo np.repeat(x, repeats, axis=-3): sum each group of repeated heads."""
    if grad is None or repeats == 1:
        return grad
    heads = grad.shape[-3] // repeats
    return grad.reshape(*grad.shape[:-3], heads, repeats, *grad.shape[-2:]).sum(axis=-3)
