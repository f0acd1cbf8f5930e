"""Positional embeddings for sequence models: learned (GPT) and sinusoidal (Vaswani et al.).

Attention is blind to order: permuting the tokens permutes its output. Adding
a vector that depends on the position to each token's embedding is what lets
a Transformer tell "dog bites man" from "man bites dog". Both layers here take
a batch of embedded sequences and return it with the positions added.
"""

from __future__ import annotations

import math

import numpy as np

from gradwork import creation, random
from gradwork.nn._errors import LayerInputError
from gradwork.nn.module import Module
from gradwork.nn.parameter import Parameter
from gradwork.tensor import Tensor

__all__ = ["LearnedPositionalEmbedding", "SinusoidalPositionalEncoding", "sinusoidal_table"]


class _Positional(Module):
    """Shared checks: (batch, seq, d) or (seq, batch, d) input, seq <= max_len."""

    max_len: int
    embedding_dim: int
    batch_first: bool

    def _table_rows(self, input: Tensor) -> tuple[int, tuple[int, ...]]:  # noqa: A002
        """The sequence length and how a (seq, d) table broadcasts against the input."""
        name = type(self).__name__
        layout = "(batch, seq, d)" if self.batch_first else "(seq, batch, d)"
        if input.ndim != 3 or input.shape[-1] != self.embedding_dim:
            raise LayerInputError(
                name, f"a 3-D input {layout} with d = embedding_dim = {self.embedding_dim}",
                f"shape {tuple(input.shape)}",
                "embed the token ids first (nn.Embedding), and check batch_first",
                received=input,
            )  # fmt: skip
        length = input.shape[1] if self.batch_first else input.shape[0]
        if length > self.max_len:
            raise LayerInputError(
                name, f"sequences of at most max_len={self.max_len} positions",
                f"a sequence of {length} positions (input shape {tuple(input.shape)})",
                f"build it with max_len >= {length}, or cut the input into windows of "
                f"{self.max_len} (the model's block size)",
                received=input,
            )  # fmt: skip
        return length, ((1, length, -1) if self.batch_first else (length, 1, -1))

    def extra_repr(self) -> str:
        return f"{self.max_len}, {self.embedding_dim}, batch_first={self.batch_first}"


class LearnedPositionalEmbedding(_Positional):
    """Add a learned vector per position: `input + weight[:seq]` (GPT-2's `wpe`).

    The table is an embedding over positions 0 .. max_len - 1; only the first
    `seq` rows take part (and get gradients) for a sequence of `seq` tokens.

    Args:
        max_len: the longest sequence (the model's context or block size).
        embedding_dim: the size d of each token vector.
        batch_first: input (batch, seq, d) if True (the default), else (seq, batch, d).
        std: the standard deviation of the N(0, std) initialisation (GPT-2: 0.02).

    Shape:
        input (batch, seq, d) with seq <= max_len; output the same.

    Example:
        >>> import gradwork as gw
        >>> pos = gw.nn.LearnedPositionalEmbedding(16, 8)
        >>> pos(gw.zeros(2, 5, 8)).shape
        (2, 5, 8)
        >>> pos.weight.shape
        (16, 8)
    """

    def __init__(self, max_len: int, embedding_dim: int, batch_first: bool = True,
                 std: float = 0.02) -> None:  # fmt: skip
        super().__init__()
        self.max_len, self.embedding_dim, self.batch_first = max_len, embedding_dim, batch_first
        self.std = std
        self.weight = Parameter(np.empty((max_len, embedding_dim), np.float32))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        draw = random.generator().normal(0.0, self.std, self.weight.shape)
        self.weight.array[...] = draw.astype(self.weight.dtype)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        length, layout = self._table_rows(input)
        return input + self.weight[:length].reshape(layout)


def sinusoidal_table(max_len: int, d_model: int) -> np.ndarray:
    """The (max_len, d_model) float32 table of "Attention Is All You Need" (section 3.5).

    PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d)).
    An odd d_model has one more sine column than cosine columns.

    Example:
        >>> [round(float(v), 3) for v in sinusoidal_table(3, 4)[1]]
        [0.841, 0.54, 0.01, 1.0]
    """
    position = np.arange(max_len, dtype=np.float64)[:, None]
    # NOTE: one frequency per sine/cosine pair; the pair index i runs over ceil(d/2) values.
    frequency = np.exp(np.arange(0, d_model, 2, dtype=np.float64) * (-math.log(10000.0) / d_model))
    angles = position * frequency
    table = np.empty((max_len, d_model), np.float64)
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles[:, : d_model // 2])
    return table.astype(np.float32)


class SinusoidalPositionalEncoding(_Positional):
    """Add the fixed sine/cosine table of Vaswani et al. (2017): `input + pe[:seq]`.

    No parameters: the table is a non-persistent buffer (it is not in
    `state_dict()`, as it is recomputed from the sizes). Each pair of
    dimensions is a sinusoid of a different wavelength (2*pi to 10000*2*pi),
    so PE[pos + k] is a linear function of PE[pos]: relative offsets are easy to
    attend to, and any length up to `max_len` works without training.

    Args:
        embedding_dim: the size d of each token vector (odd sizes are fine).
        max_len: the longest sequence (5000, as in PyTorch's tutorial).
        batch_first: input (batch, seq, d) if True (the default), else (seq, batch, d).

    Shape:
        input (batch, seq, d) with seq <= max_len; output the same.

    Example:
        >>> import gradwork as gw
        >>> pe = gw.nn.SinusoidalPositionalEncoding(6, max_len=10)
        >>> pe(gw.zeros(1, 2, 6))[0, 0].tolist()  # position 0: sin 0 = 0, cos 0 = 1
        [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
        >>> list(pe.parameters()), list(pe.state_dict())
        ([], [])
    """

    def __init__(self, embedding_dim: int, max_len: int = 5000, batch_first: bool = True) -> None:
        super().__init__()
        self.max_len, self.embedding_dim, self.batch_first = max_len, embedding_dim, batch_first
        self.register_buffer("pe", creation.tensor(sinusoidal_table(max_len, embedding_dim)), False)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        length, layout = self._table_rows(input)
        return input + self.pe[:length].reshape(layout)

    def extra_repr(self) -> str:
        return f"{self.embedding_dim}, max_len={self.max_len}, batch_first={self.batch_first}"
