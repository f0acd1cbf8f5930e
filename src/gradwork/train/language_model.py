"""A decoder-only (GPT-style) Transformer language model, its loss and its perplexity.

The model reads token ids (batch, seq) and returns next-token logits
(batch, seq, vocab): token embedding + positions, a stack of pre-norm
`nn.TransformerEncoderLayer`s under a causal mask (position t attends to
0..t only, which is what makes an encoder stack a decoder-only model), a
final LayerNorm and a linear head that shares its weight with the embedding.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradwork import autograd, nn
from gradwork.nn import functional as F
from gradwork.tensor import Tensor
from gradwork.train.devices import model_device, to_device

__all__ = ["TransformerLM", "TokenCrossEntropyLoss", "causal_mask", "evaluate_perplexity"]


def causal_mask(length: int) -> Tensor:
    """(length, length) additive mask: 0 on and below the diagonal, -inf above.

    The same as torch's `nn.Transformer.generate_square_subsequent_mask(length)`.

    Example:
        >>> causal_mask(3).tolist()
        [[0.0, -inf, -inf], [0.0, 0.0, -inf], [0.0, 0.0, 0.0]]
    """
    return Tensor(np.triu(np.full((length, length), -np.inf, np.float32), k=1))


class TransformerLM(nn.Module):
    """A character (or token) language model: embed, attend causally, predict the next id.

    Args:
        vocab_size: the number of distinct ids (characters).
        d_model: the width of every token vector.
        nhead: attention heads per layer (d_model must be divisible by it).
        num_layers: the number of Transformer blocks.
        block_size: the longest context (the positional table's length).
        dim_feedforward: the hidden width of each block's MLP (4 * d_model if None).
        dropout: dropout after the embeddings and inside each block.
        positional: "learned" (GPT-2) or "sinusoidal" (Vaswani et al.).

    Shape:
        input (batch, seq) integer ids with seq <= block_size; output (batch, seq, vocab_size).

    Example:
        >>> import gradwork as gw
        >>> model = TransformerLM(vocab_size=10, d_model=16, nhead=2, num_layers=1, block_size=8)
        >>> model(gw.tensor([[1, 2, 3]])).shape
        (1, 3, 10)
        >>> model.head.weight is model.token.weight  # tied
        True
    """

    def __init__(self, vocab_size: int, d_model: int = 64, nhead: int = 4, num_layers: int = 2,
                 block_size: int = 64, dim_feedforward: int | None = None, dropout: float = 0.1,
                 positional: str = "learned") -> None:  # fmt: skip
        super().__init__()
        if d_model % nhead:
            raise ValueError(f"TransformerLM: d_model={d_model} must be divisible by nhead={nhead}")
        if positional not in ("learned", "sinusoidal"):
            raise ValueError(
                f"TransformerLM: positional must be 'learned' or 'sinusoidal', got {positional!r}"
            )
        self.vocab_size, self.d_model, self.block_size = vocab_size, d_model, block_size
        self.token = nn.Embedding(vocab_size, d_model)
        # NOTE: N(0, 0.02) as GPT-2, not Embedding's N(0, 1): the head shares this table,
        # and unit-variance rows would give logits of std sqrt(d_model) before training.
        nn.init.normal_(self.token.weight, 0.0, 0.02)
        if positional == "learned":
            self.position = nn.LearnedPositionalEmbedding(block_size, d_model)
        else:
            self.position = nn.SinusoidalPositionalEncoding(d_model, max_len=block_size)
        self.dropout = nn.Dropout(dropout)
        width = dim_feedforward or 4 * d_model
        # NOTE: GPT-2's tanh-approximate GELU: on NumPy the exact one (erf) costs ~10x more.
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(
                d_model,
                nhead,
                width,
                dropout,
                activation=nn.GELU(approximate="tanh"),
                batch_first=True,
                norm_first=True,
            )
            for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size, bias=False)
        self.head.weight = self.token.weight  # weight tying (Press & Wolf, 2017)

    def forward(self, ids: Any) -> Tensor:
        hidden = self.dropout(self.position(self.token(ids)))
        mask = causal_mask(hidden.shape[1]).to(hidden.device)  # on the model's device
        for layer in self.layers:  # is_causal: a hint that lets attention skip the mask's sum
            hidden = layer(hidden, src_mask=mask, is_causal=True)
        return self.head(self.norm(hidden))

    def extra_repr(self) -> str:
        return f"vocab_size={self.vocab_size}, d_model={self.d_model}, block_size={self.block_size}"


class TokenCrossEntropyLoss(nn.Module):
    """Mean cross-entropy over every position: logits (N, T, V) against ids (N, T).

    `nn.CrossEntropyLoss` wants the classes on axis 1 ((N, V, T)); a language
    model's logits have them last, so this flattens both to (N*T, V) and (N*T,).
    Any other shape is passed to cross-entropy unchanged.

    Example:
        >>> import gradwork as gw
        >>> loss = TokenCrossEntropyLoss()(gw.zeros(2, 3, 4), gw.zeros(2, 3, dtype=gw.int64))
        >>> round(loss.item(), 4) == round(math.log(4), 4)
        True
    """

    class_axis = -1  # for tools that inspect logits (the doctor): classes are last

    def __init__(self, ignore_index: int = -100, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        if input.ndim == 3:
            input = input.reshape(-1, input.shape[-1])
            target = target.reshape(-1)
        return F.cross_entropy(input, target, ignore_index=self.ignore_index,
                               label_smoothing=self.label_smoothing)  # fmt: skip


def evaluate_perplexity(model: Any, data: Any, batch_size: int = 64,
                        max_batches: int | None = None) -> tuple[float, float]:  # fmt: skip
    """(mean cross-entropy in nats per token, perplexity = exp of it) over (x, y) windows.

    Runs in eval mode without gradients; `data` is a Dataset of (x, y) windows
    or an iterable of batches; `max_batches` caps the work on a large split.

    Example:
        >>> import gradwork as gw
        >>> from gradwork.data import NextCharDataset
        >>> model = TransformerLM(5, d_model=8, nhead=2, num_layers=1, block_size=4)
        >>> loss, ppl = evaluate_perplexity(model, NextCharDataset(np.arange(20) % 5, 4))
        >>> abs(ppl - math.exp(loss)) < 1e-9 and ppl < 6
        True
    """
    from gradwork.data import DataLoader  # data sits beside train; imported when needed

    loader = data if not hasattr(data, "__getitem__") else DataLoader(data, batch_size)
    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    try:
        with autograd.no_grad():
            device = model_device(model)
            for index, batch in enumerate(loader):
                if max_batches is not None and index >= max_batches:
                    break
                x, y = to_device(batch, device)
                logits = model(x)
                loss = TokenCrossEntropyLoss()(logits, y)
                total += float(loss.item()) * y.numel()
                count += y.numel()
    finally:
        model.train(was_training)
    mean = total / max(count, 1)
    return mean, math.exp(mean)
