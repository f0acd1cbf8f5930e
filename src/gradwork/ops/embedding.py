"""The embedding lookup: rows of a table picked by integer indices, in one node.

A dedicated primitive (rather than `IndexSelect`) because its backward follows
`nn.Embedding`'s options: no gradient for the `padding_idx` row, and optionally
each row's gradient divided by how often it was looked up in the batch.
"""

from __future__ import annotations

import numpy as np

from gradwork._arrays import xp_of
from gradwork.autograd import Function
from gradwork.ops._scatter import add_rows_at


class EmbeddingLookup(Function):
    """out[..., :] = weight[indices[...], :] for an integer array `indices` of any shape."""

    @staticmethod
    def forward(ctx, weight, indices, padding_idx=None, scale_grad_by_freq=False):
        indices = xp_of(weight).asarray(indices)  # host indices go to the table's device
        ctx.rows, ctx.indices = weight.shape[0], indices
        ctx.options = (padding_idx, scale_grad_by_freq)
        return np.take(weight, indices, axis=0)

    @staticmethod
    def backward(ctx, grad):
        padding_idx, scale_grad_by_freq = ctx.options
        flat_indices = ctx.indices.reshape(-1)
        rows = grad.reshape(flat_indices.size, -1)
        if scale_grad_by_freq:
            counts = np.bincount(flat_indices, minlength=ctx.rows)
            rows = rows / counts[flat_indices, None].astype(grad.dtype)
        out = np.zeros_like(grad, shape=(ctx.rows, rows.shape[1]))
        # NOTE: an index repeats whenever a token occurs twice; add.at accumulates
        # where fancy assignment would keep only the last row.
        add_rows_at(out, flat_indices, rows)
        if padding_idx is not None:
            out[padding_idx] = 0  # the padding row is a constant, as in torch
        return out
