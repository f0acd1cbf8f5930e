"""MultiheadAttention, the Transformer layers and the language model export, with dynamic
batch and sequence length, padding masks as graph inputs and causal masks that follow
the sequence length."""

import numpy as np
import pytest

import gradwork as gw
import gradwork.nn.functional as F
from gradwork import nn

from .onnx_check import check

if not hasattr(nn, "MultiheadAttention") or not hasattr(nn, "Transformer"):
    pytest.skip("attention modules not in this tree", allow_module_level=True)


class SelfAttention(nn.Module):
    def __init__(self, batch_first=True):
        super().__init__()
        self.attention = nn.MultiheadAttention(8, 2, batch_first=batch_first)

    def forward(self, x, padding=None):
        return self.attention(x, x, x, key_padding_mask=padding)  # (output, averaged weights)


class CrossAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.attention = nn.MultiheadAttention(8, 2, batch_first=True, kdim=6, vdim=6)

    def forward(self, x, memory):
        return self.attention(x, memory, memory, need_weights=False)[0]


class Encoder(nn.Module):
    def __init__(self, causal=False, norm_first=False):
        super().__init__()
        self.causal = causal
        layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, batch_first=True,
                                           norm_first=norm_first, activation="gelu")  # fmt: skip
        self.encoder = nn.TransformerEncoder(layer, 2)

    def forward(self, x, padding=None):
        steps = x.shape[1]
        mask = nn.Transformer.generate_square_subsequent_mask(steps) if self.causal else None
        return self.encoder(x, mask=mask, src_key_padding_mask=padding)


class Seq2SeqTransformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.transformer = nn.Transformer(8, 2, 1, 1, 16, dropout=0.1, batch_first=True)

    def forward(self, source, target):
        mask = nn.Transformer.generate_square_subsequent_mask(target.shape[1])
        return self.transformer(source, target, tgt_mask=mask)


class CausalAttention(nn.Module):
    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)


def padding(batch, steps):
    mask = np.zeros((batch, steps), bool)
    mask[0, -2:] = True
    return gw.tensor(mask)


CASES = {
    "MultiheadAttention": (SelfAttention, lambda n, t: (gw.randn(n, t, 8),), {0: [0, 1]}),
    "MultiheadAttention-seq-first": (lambda: SelfAttention(False),
                                     lambda n, t: (gw.randn(t, n, 8),), {0: [0, 1]}),
    "MultiheadAttention-padding": (SelfAttention, lambda n, t: (gw.randn(n, t, 8), padding(n, t)),
                                   {0: [0, 1], 1: [0, 1]}),
    "MultiheadAttention-cross": (CrossAttention,
                                 lambda n, t: (gw.randn(n, t, 8), gw.randn(n, t + 2, 6)),
                                 {0: [0, 1], 1: [0, 1]}),
    "TransformerEncoder": (Encoder, lambda n, t: (gw.randn(n, t, 8),), {0: [0, 1]}),
    "TransformerEncoder-causal-norm-first": (lambda: Encoder(True, True),
                                             lambda n, t: (gw.randn(n, t, 8),), {0: [0, 1]}),
    "TransformerEncoder-padding": (Encoder, lambda n, t: (gw.randn(n, t, 8), padding(n, t)),
                                   {0: [0, 1], 1: [0, 1]}),
    "Transformer": (Seq2SeqTransformer, lambda n, t: (gw.randn(n, t, 8), gw.randn(n, t - 1, 8)),
                    {0: [0, 1], 1: [0, 1]}),
    "scaled_dot_product_attention": (
        CausalAttention,
        lambda n, t: (gw.randn(n, 2, t, 4), gw.randn(n, 2, t + 1, 4), gw.randn(n, 2, t + 1, 3)),
        {0: [0, 2], 1: [0, 2], 2: [0, 2]},
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
def test_attention_matches_onnx_runtime(name):
    build, make, axes = CASES[name]
    check(build(), make(2, 5), axes, others=[make(3, 7)])


@pytest.mark.parametrize("positional", ["learned", "sinusoidal"])
def test_language_model_exports_with_dynamic_length(positional):
    language_model = pytest.importorskip("gradwork.train.language_model")
    model = language_model.TransformerLM(20, d_model=16, nhead=2, num_layers=2, block_size=12,
                                         positional=positional)  # fmt: skip

    def ids(batch, steps):
        return gw.tensor(np.random.randint(0, 20, (batch, steps)))

    check(model, ids(2, 6), {0: [0, 1]}, others=[ids(3, 9), ids(1, 12)])
