"""The doctor's attention checks: entropy collapse and exploding logits, each raised and not."""

from __future__ import annotations

import numpy as np
import pytest

import gradwork as gw
from gradwork import nn
from gradwork.diagnose import doctor
from gradwork.diagnose._attention_checks import AttentionCapture, check_output_logits
from gradwork.train import TokenCrossEntropyLoss, TransformerLM


def small_lm(seed: int = 0) -> TransformerLM:
    gw.manual_seed(seed)
    return TransformerLM(20, d_model=16, nhead=2, num_layers=2, block_size=16, dim_feedforward=32)


@pytest.fixture
def batch():
    ids = np.random.default_rng(0).integers(0, 20, (8, 17))
    return gw.tensor(ids[:, :-1]), gw.tensor(ids[:, 1:])


def examine(model, batch):
    return doctor(model, TokenCrossEntropyLoss(), batch, steps=2)


def test_a_healthy_small_language_model_raises_neither(batch):
    report = examine(small_lm(), batch)
    entropy, logits = report.finding("attention_entropy"), report.finding("exploding_logits")
    assert entropy.severity == "ok" and logits.severity == "ok"
    assert all(v["one_hot_share"] < 0.2 for v in entropy.evidence.values())
    assert logits.evidence["max_abs_logit"] < 5
    # The doctor reads a language model's (N, T, V) logits with classes last.
    assert report.finding("label_range").passed and report.finding("initial_loss").passed


def test_saturated_attention_is_reported_as_collapse(batch):
    model = small_lm()
    for layer in model.layers:  # attention logits q.k/sqrt(d) about 1000x too large
        layer.self_attn.in_proj_weight.data.mul_(30)
    finding = examine(model, batch).finding("attention_entropy")
    assert finding.severity == "warning"
    assert finding.layers == ["layers.0.self_attn", "layers.1.self_attn"]
    assert finding.evidence["layers.0.self_attn"]["one_hot_share"] > 0.9
    assert "collapsed in 2 of 2 layers" in finding.message and "norm_first" in finding.fix


def test_an_unscaled_tied_embedding_gives_exploding_logits(batch):
    model = small_lm()
    model.token.weight.data.mul_(300)  # std 6 instead of 0.02: logits ~ 6 * 6 * sqrt(16)
    report = examine(model, batch)
    finding = report.finding("exploding_logits")
    assert finding.severity == "warning" and finding.evidence["max_abs_logit"] > 50
    assert "tied embedding" in finding.fix
    assert report.finding("attention_entropy").passed  # pre-norm keeps attention healthy


def test_models_without_attention_get_no_attention_findings():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    report = doctor(model, nn.CrossEntropyLoss(), (gw.randn(16, 4), gw.randint(0, 3, (16,))),
                    steps=2)  # fmt: skip
    assert report.finding("attention_entropy") is None
    assert report.finding("exploding_logits") is None


def test_capture_uses_the_masks_and_leaves_the_model_as_it_was():
    gw.manual_seed(1)
    attention = nn.MultiheadAttention(8, 2, batch_first=True)
    x = gw.randn(2, 5, 8)
    mask = nn.Transformer.generate_square_subsequent_mask(5)
    with AttentionCapture(attention) as capture:
        output, weights = attention(x, x, x, attn_mask=mask, need_weights=False)
    assert weights is not None  # asked for while capturing ...
    assert capture.weights["(model)"].shape == (2, 2, 5, 5)
    assert capture.visible["(model)"][0, 0].tolist() == [1, 2, 3, 4, 5]  # causal rows
    assert attention(x, x, x, need_weights=False)[1] is None  # ... and only then


def test_output_logit_threshold():
    assert check_output_logits(np.array([[49.0, -3.0]])).passed
    assert not check_output_logits(np.array([[1.0, -51.0]])).passed
