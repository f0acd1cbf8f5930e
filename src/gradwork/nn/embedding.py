"""`Embedding`: a learnable lookup table from token ids to vectors."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradwork import ops, random
from gradwork.nn._placement import as_array
from gradwork.nn.module import Module
from gradwork.nn.parameter import Parameter
from gradwork.tensor import Tensor, index_array

__all__ = ["Embedding", "embedding"]


def _padding_index(padding_idx: int | None, rows: int) -> int | None:
    if padding_idx is None:
        return None
    if not -rows <= padding_idx < rows:
        raise ValueError(
            f"nn.Embedding: padding_idx={padding_idx} must be within num_embeddings={rows} "
            f"(a value in [{-rows}, {rows - 1}])"
        )
    return padding_idx % rows


def _renormalise_(weight: Tensor, indices: np.ndarray, max_norm: float, norm_type: float) -> None:
    """Shrink, in place, every looked-up row whose norm exceeds max_norm (torch's rule)."""
    rows = np.unique(indices)
    norms = np.linalg.norm(weight.array[rows], ord=norm_type, axis=1)
    # NOTE: torch divides by (norm + 1e-7), so a renormalised row ends just below max_norm.
    scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
    weight.array[rows] *= scale[:, None].astype(weight.dtype)


def embedding(
    input: Any,  # noqa: A002 - torch's argument name
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of `weight` picked by the integer tensor `input` (`F.embedding`).

    Example:
        >>> import gradwork as gw
        >>> table = gw.arange(6.0).reshape(3, 2)
        >>> embedding(gw.tensor([[2, 0]]), table).tolist()
        [[[4.0, 5.0], [0.0, 1.0]]]
    """
    if sparse:
        raise ValueError(
            "embedding: sparse=True (sparse gradients) is not supported; use sparse=False, "
            "which gives the same gradient values as a dense array"
        )
    indices = index_array(input, "embedding")
    if indices.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers (long), got {indices.dtype}")
    rows = weight.shape[0]
    if indices.size and (indices.min() < 0 or indices.max() >= rows):
        bad = indices.max() if indices.max() >= rows else indices.min()
        raise IndexError(
            f"embedding: index {int(bad)} is out of range for a table of {rows} rows "
            f"(valid ids are 0..{rows - 1}); check the vocabulary size (num_embeddings)"
        )
    padding_idx = _padding_index(padding_idx, rows)
    if max_norm is not None:
        _renormalise_(weight, indices, max_norm, norm_type)
    return ops.EmbeddingLookup.apply(weight, indices, padding_idx, scale_grad_by_freq)


class Embedding(Module):
    """A table of `num_embeddings` vectors of size `embedding_dim`, looked up by id.

    Args:
        num_embeddings: the vocabulary size.
        embedding_dim: the size of each vector.
        padding_idx: this row gets no gradient and starts as zeros (a padding token).
        max_norm: rows looked up are renormalised in place to this norm if larger.
        norm_type: the p of the p-norm for max_norm.
        scale_grad_by_freq: divide each row's gradient by its count in the batch.
        sparse: must be False (sparse gradients are not supported).
        _weight: an initial table, instead of the default N(0, 1) draw.

    Shape:
        input (*) integer ids; output (*, embedding_dim).

    Example:
        >>> import gradwork as gw
        >>> layer = gw.nn.Embedding(10, 3, padding_idx=0)
        >>> layer(gw.tensor([[1, 0, 4]])).shape
        (1, 3, 3)
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: Any = None,
        _freeze: bool = False,
    ) -> None:
        super().__init__()
        if sparse:
            raise ValueError(
                "nn.Embedding: sparse=True (sparse gradients) is not supported; use "
                "sparse=False, which gives the same gradient values as a dense array"
            )
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = _padding_index(padding_idx, num_embeddings)
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            self.weight = Parameter(np.empty((num_embeddings, embedding_dim), np.float32))
            self.reset_parameters()
        else:
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """torch's default: N(0, 1), with the padding row zeroed."""
        draw = random.generator().standard_normal(self.weight.shape)
        self.weight.array[...] = draw.astype(self.weight.dtype)
        if self.padding_idx is not None:
            self.weight.array[self.padding_idx] = 0

    @classmethod
    def from_pretrained(
        cls,
        embeddings: Any,
        freeze: bool = True,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
    ) -> Embedding:
        """An Embedding holding `embeddings` (rows, dim); frozen unless freeze=False."""
        data = as_array(embeddings).copy()  # a GPU table is copied on the GPU
        rows, dim = data.shape
        return cls(
            rows,
            dim,
            padding_idx,
            max_norm,
            norm_type,
            scale_grad_by_freq,
            sparse,
            _weight=data,
            _freeze=freeze,
        )

    def forward(self, input: Any) -> Tensor:  # noqa: A002
        return embedding(
            input,
            self.weight,
            self.padding_idx,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
            self.sparse,
        )

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.norm_type != 2.0:
            text += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            text += ", scale_grad_by_freq=True"
        return text
