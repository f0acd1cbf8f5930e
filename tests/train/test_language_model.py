"""TransformerLM, its token loss, perplexity, the Perplexity metric and `generate`."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradwork as gw
from gradwork import data
from gradwork.train import (
    Accuracy,
    Perplexity,
    TokenCrossEntropyLoss,
    TransformerLM,
    evaluate_perplexity,
    generate,
)
from gradwork.train.architectures import ARCHITECTURES, transformer_lm
from gradwork.train.generate import next_token_probabilities
from tests.helpers import to_numpy

VOCAB = 11


def small(seed: int = 0, **options) -> TransformerLM:
    gw.manual_seed(seed)
    sizes = {"d_model": 16, "nhead": 2, "num_layers": 2, "block_size": 8, "dim_feedforward": 24}
    return TransformerLM(VOCAB, **{**sizes, **options})


def ids(*shape, seed=0):
    return gw.tensor(np.random.default_rng(seed).integers(0, VOCAB, shape))


def test_shapes_tying_and_initial_loss():
    model = small()
    logits = model(ids(3, 8))
    assert logits.shape == (3, 8, VOCAB)
    assert model.head.weight is model.token.weight
    names = [name for name, _ in model.named_parameters()]
    assert "head.weight" not in names and names[:2] == ["token.weight", "position.weight"]
    # Small tied embeddings: an untrained model is unsure, loss ~ log(vocab).
    loss = TokenCrossEntropyLoss()(logits, ids(3, 8, seed=1)).item()
    assert abs(loss - math.log(VOCAB)) < 0.1


@pytest.mark.parametrize("positional", ["learned", "sinusoidal"])
def test_position_t_sees_only_positions_up_to_t(positional):
    model = small(positional=positional).eval()
    before = to_numpy(ids(2, 8))
    after = before.copy()
    after[:, 5] = (after[:, 5] + 1) % VOCAB
    a, b = (to_numpy(model(gw.tensor(t))) for t in (before, after))
    np.testing.assert_array_equal(
        to_numpy(a[:, :5]), to_numpy(b[:, :5])
    )  # the past ignores the future
    assert np.abs(a[:, 5:] - b[:, 5:]).max() > 1e-4


def test_matches_torch_built_from_the_same_layers(torch):
    ours = small().double().eval()

    class TorchLM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.token = torch.nn.Embedding(VOCAB, 16)
            self.position = torch.nn.Module()
            self.position.weight = torch.nn.Parameter(torch.zeros(8, 16))
            self.layers = torch.nn.ModuleList(
                torch.nn.TransformerEncoderLayer(16, 2, 24, 0.1, batch_first=True,
                                                 norm_first=True,
                                                 activation=torch.nn.GELU(approximate="tanh"))
                for _ in range(2)
            )  # fmt: skip
            self.norm = torch.nn.LayerNorm(16)
            self.head = torch.nn.Linear(16, VOCAB, bias=False)
            self.head.weight = self.token.weight

        def forward(self, x):
            hidden = self.token(x) + self.position.weight[: x.shape[1]]
            mask = torch.nn.Transformer.generate_square_subsequent_mask(x.shape[1])
            for layer in self.layers:
                hidden = layer(hidden, src_mask=mask, is_causal=True)
            return self.head(self.norm(hidden))

    theirs = TorchLM().double().eval()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict(
        {k: torch.tensor(np.array(to_numpy(v))) for k, v in ours.state_dict().items()}
    )
    x = ids(2, 7)
    expected = to_numpy(theirs(torch.tensor(to_numpy(x))))
    np.testing.assert_allclose(to_numpy(ours(x)), to_numpy(expected), rtol=1e-9, atol=1e-10)


def test_too_long_a_context_is_explained():
    with pytest.raises(gw.nn.LayerInputError, match="max_len=8.*9 positions"):
        small()(ids(1, 9))
    with pytest.raises(ValueError, match="divisible by nhead"):
        TransformerLM(VOCAB, d_model=10, nhead=4)


def test_token_loss_is_cross_entropy_over_every_position(torch):
    logits = gw.randn(2, 5, VOCAB, dtype=gw.float64, requires_grad=True)
    target = ids(2, 5)
    ours = TokenCrossEntropyLoss()(logits, target)
    theirs = torch.nn.functional.cross_entropy(
        torch.tensor(to_numpy(logits)).permute(0, 2, 1), torch.tensor(to_numpy(target))
    )
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-12)


def test_evaluate_perplexity_is_exp_of_the_mean_token_loss():
    model = small()
    windows = data.NextCharDataset(np.arange(60) % VOCAB, block_size=8, stride=3)
    loss, perplexity = evaluate_perplexity(model, windows, batch_size=4)
    x, y = (t.to(model.head.weight.device) for t in windows.tensors)  # the model's device
    with gw.no_grad():
        direct = TokenCrossEntropyLoss()(model.eval()(x), y).item()
    assert loss == pytest.approx(direct, rel=1e-5) and perplexity == math.exp(loss)
    assert model.eval().training is False  # evaluate restored the mode it found
    model.train()
    evaluate_perplexity(model, windows)
    assert model.training


def test_perplexity_metric_and_token_accuracy(torch):
    logits = np.random.default_rng(0).standard_normal((3, 4, VOCAB))
    target = np.random.default_rng(1).integers(0, VOCAB, (3, 4))
    metric = Perplexity()
    metric.update(logits[:2], target[:2])
    metric.update(logits[2:], target[2:])
    expected = torch.nn.functional.cross_entropy(
        torch.tensor(logits.reshape(-1, VOCAB)), torch.tensor(target.reshape(-1))
    )
    assert metric.compute() == pytest.approx(math.exp(expected.item()), rel=1e-10)
    accuracy = Accuracy()
    accuracy.update(logits, target)
    assert accuracy.count == 12  # every position counts, not every window
    assert accuracy.compute() == pytest.approx((logits.argmax(-1) == target).mean())


def test_generate_keeps_the_prompt_and_is_reproducible():
    model = small()
    first = generate(model, [1, 2, 3], 20, generator=np.random.default_rng(5))
    again = generate(model, [1, 2, 3], 20, generator=np.random.default_rng(5))
    assert first.shape == (23,) and first.dtype == np.int64 and first[:3].tolist() == [1, 2, 3]
    assert first.tolist() == again.tolist()
    assert model.training  # the mode it had, restored
    batched = generate(model, np.array([[1, 2], [3, 4]]), 12, top_k=3)
    assert batched.shape == (2, 14)  # longer than block_size 8: the context slides


def test_temperature_zero_and_top_k_one_are_greedy():
    model = small()
    greedy = generate(model, [4], 6, temperature=0)
    assert generate(model, [4], 6, top_k=1).tolist() == greedy.tolist()
    context = to_numpy(greedy)
    model.eval()
    for t in range(1, 7):  # each new id is the argmax given the ones before it
        logits = to_numpy(model(gw.tensor(context[None, :t])))[0, -1]
        assert context[t] == logits.argmax()


def test_top_k_and_temperature_shape_the_distribution():
    logits = np.log(np.array([[0.5, 0.25, 0.15, 0.1]]))
    kept = next_token_probabilities(logits, top_k=2)
    np.testing.assert_allclose(to_numpy(kept), [[2 / 3, 1 / 3, 0, 0]])
    sharp, flat = next_token_probabilities(logits, 0.5), next_token_probabilities(logits, 2.0)
    assert sharp[0, 0] > 0.5 > flat[0, 0]
    draws = generate(small(), [0], 200, top_k=2, generator=np.random.default_rng(0))
    model = small().eval()
    # Under top_k=2 each sampled id is one of the two most likely given its context.
    context = to_numpy(draws)
    for t in range(1, 30):
        logits = to_numpy(model(gw.tensor(context[None, max(0, t - 8) : t])))[0, -1]
        assert context[t] in np.argsort(logits)[-2:]


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"temperature": -1.0}, "temperature must be >= 0"),
        ({"top_k": 0}, "top_k must be at least 1"),
        ({"max_new_tokens": -1}, "max_new_tokens must be >= 0"),
    ],
)
def test_generate_errors(kwargs, pattern):
    arguments = {"max_new_tokens": 3, **kwargs}
    with pytest.raises(ValueError, match=pattern):
        generate(small(), [1], **arguments)
    with pytest.raises(ValueError, match="non-empty"):
        generate(small(), [], 3)


def test_registered_architecture():
    assert ARCHITECTURES["transformer-lm"] is transformer_lm
    model = transformer_lm((12,), VOCAB, d_model=8, nhead=2, num_layers=1)
    assert model.block_size == 12 and model(ids(2, 12)).shape == (2, 12, VOCAB)
    with pytest.raises(ValueError, match="sequences of token ids"):
        transformer_lm((1, 8, 8), 10)


def test_a_draw_at_the_very_top_of_the_cdf_stays_inside_top_k():
    from gradwork.train.generate import _pick

    class Highest:  # a generator whose uniform draw is 1.0, above a rounded total
        def random(self, shape):
            return np.ones(shape)

    logits = np.log(np.array([[0.5, 0.3, 0.2, 1e-9]]))
    assert _pick(logits, 1.0, 2, Highest()).tolist() == [[1]]
