"""Positional embeddings: shapes, the sinusoid against its formula, gradients, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradwork as gw
from gradwork import nn
from gradwork.diagnose import gradcheck
from tests.helpers import to_numpy


@pytest.mark.parametrize("cls", [nn.LearnedPositionalEmbedding, nn.SinusoidalPositionalEncoding])
def test_shapes_batch_first_and_sequence_first(cls):
    first = cls(16, 6) if cls is nn.LearnedPositionalEmbedding else cls(6, 16)
    x = gw.randn(3, 5, 6)
    assert first(x).shape == (3, 5, 6)
    seq_first = (
        cls(16, 6, batch_first=False)
        if cls is nn.LearnedPositionalEmbedding
        else cls(6, 16, batch_first=False)
    )
    seq_first.load_state_dict(first.state_dict())
    # The same positions are added whichever axis holds the batch.
    np.testing.assert_allclose(
        to_numpy(seq_first(x.transpose(0, 1)).transpose(0, 1)),
        to_numpy(first(x)),
        rtol=1e-6,
    )


@pytest.mark.parametrize("d_model", [8, 7, 1])
def test_sinusoid_matches_the_formula(d_model):
    pe = nn.SinusoidalPositionalEncoding(d_model, max_len=50)
    table = to_numpy(pe(gw.zeros(2, 50, d_model))[1])
    for pos in (0, 1, 17, 49):
        for j in range(d_model):
            i = j // 2  # the pair index: columns 2i and 2i + 1 share a frequency
            angle = pos / 10000 ** (2 * i / d_model)
            expected = math.sin(angle) if j % 2 == 0 else math.cos(angle)
            assert table[pos, j] == pytest.approx(expected, abs=1e-6), (pos, j)


def test_sinusoid_has_no_parameters_and_is_not_saved():
    pe = nn.SinusoidalPositionalEncoding(4, max_len=8)
    assert list(pe.parameters()) == [] and pe.state_dict() == {}
    assert [name for name, _ in pe.named_buffers()] == ["pe"]  # but moves with .to()/.double()
    assert pe.double().pe.dtype == np.float64


def test_learned_adds_one_trainable_row_per_position():
    gw.manual_seed(0)
    layer = nn.LearnedPositionalEmbedding(10, 3)
    x = gw.randn(2, 4, 3, requires_grad=True)
    out = layer(x)
    expected = to_numpy(x) + to_numpy(layer.weight)[None, :4]
    np.testing.assert_allclose(to_numpy(out), expected, rtol=1e-6)
    out.sum().backward()
    # Each used row gets the sum over the batch (2); rows past the sequence get nothing.
    np.testing.assert_allclose(to_numpy(layer.weight.grad)[:4], np.full((4, 3), 2.0))
    np.testing.assert_allclose(to_numpy(layer.weight.grad)[4:], 0.0)
    np.testing.assert_allclose(to_numpy(x.grad), 1.0)
    assert list(layer.state_dict()) == ["weight"]
    assert abs(float(to_numpy(layer.weight).std()) - 0.02) < 0.01  # GPT-2's N(0, 0.02)


def test_numeric_gradients():
    gw.manual_seed(1)
    x = gw.randn(2, 3, 4, dtype=gw.float64, requires_grad=True)
    assert gradcheck(nn.LearnedPositionalEmbedding(5, 4), [x]).passed
    assert gradcheck(nn.SinusoidalPositionalEncoding(4, max_len=5).double(), [x]).passed


@pytest.mark.parametrize("cls", [nn.LearnedPositionalEmbedding, nn.SinusoidalPositionalEncoding])
def test_a_sequence_longer_than_max_len_says_how_to_fix_it(cls):
    layer = cls(4, 4) if cls is nn.LearnedPositionalEmbedding else cls(4, max_len=4)
    with pytest.raises(nn.LayerInputError, match=r"at most max_len=4.*6 positions.*max_len >= 6"):
        layer(gw.zeros(1, 6, 4))


def test_wrong_rank_or_width_is_explained():
    layer = nn.LearnedPositionalEmbedding(8, 4)
    with pytest.raises(nn.LayerInputError, match=r"3-D input \(batch, seq, d\).*nn.Embedding"):
        layer(gw.zeros(8, 4))
    with pytest.raises(nn.LayerInputError, match="embedding_dim = 4"):
        layer(gw.zeros(1, 8, 5))
