"""Embedding: torch parity (padding_idx, max_norm, scale_grad_by_freq), gradcheck, errors."""

import numpy as np
import pytest

import gradwork as gw
from gradwork import nn
from gradwork.diagnose import gradcheck
from tests.helpers import to_numpy

INDICES = np.array([[1, 0, 4, 4], [2, 4, 0, 3]])

# name: constructor keyword arguments (beyond 5 rows of size 3)
CONFIGS = {
    "plain": {},
    "padding_idx": {"padding_idx": 0},
    "negative_padding_idx": {"padding_idx": -1},
    "max_norm": {"max_norm": 1.0},
    "max_norm_l1": {"max_norm": 0.5, "norm_type": 1.0},
    "scale_grad_by_freq": {"scale_grad_by_freq": True, "padding_idx": 2},
}


@pytest.mark.parametrize("name", CONFIGS)
def test_torch_parity(torch, name):
    theirs = torch.nn.Embedding(5, 3, **CONFIGS[name]).double()
    ours = nn.Embedding(5, 3, **CONFIGS[name])
    ours.load_state_dict(theirs.state_dict())
    ours.double()
    out, expected = ours(gw.tensor(INDICES)), theirs(torch.tensor(INDICES))
    np.testing.assert_allclose(to_numpy(out), to_numpy(expected), atol=1e-12)
    weights = np.random.default_rng(0).standard_normal(out.shape)
    (out * gw.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(to_numpy(ours.weight.grad), to_numpy(theirs.weight.grad), atol=1e-12)
    # max_norm renormalises the table itself, in place, as torch does.
    np.testing.assert_allclose(to_numpy(ours.weight), to_numpy(theirs.weight), atol=1e-12)


def test_padding_row_starts_at_zero_and_gets_no_gradient():
    layer = nn.Embedding(6, 4, padding_idx=2)
    assert np.all(layer.weight.array[2] == 0) and np.abs(layer.weight.array).sum() > 0
    layer(gw.tensor([2, 2, 1])).sum().backward()
    assert np.all(layer.weight.grad.array[2] == 0) and np.all(layer.weight.grad.array[1] == 1)


def test_max_norm_caps_looked_up_rows_only():
    layer = nn.Embedding(4, 3, max_norm=1.0)
    layer.weight.array[...] = 10.0
    layer(gw.tensor([0, 1]))
    norms = np.linalg.norm(layer.weight.array, axis=1)
    assert np.all(norms[:2] <= 1.0) and np.all(norms[:2] > 0.999) and np.all(norms[2:] > 17)


@pytest.mark.parametrize("name", CONFIGS)
def test_gradcheck(name):
    """Exact gradients for every row but the padding row (a constant by definition).

    scale_grad_by_freq is a deliberate rescaling, checked separately below.
    """
    kwargs = {k: v for k, v in CONFIGS[name].items() if k not in ("max_norm", "norm_type")}
    kwargs.pop("scale_grad_by_freq", None)
    padding = kwargs.get("padding_idx")
    padding = None if padding is None else padding % 5
    learned = gw.randn(5 if padding is None else 4, 3, dtype=gw.float64, requires_grad=True)
    constant = gw.zeros(1, 3, dtype=gw.float64)

    def lookup(rows):
        table = rows if padding is None else gw.cat([rows[:padding], constant, rows[padding:]])
        return nn.embedding.embedding(gw.tensor(INDICES), table, **kwargs)

    gradcheck(lookup, [learned])


def test_scale_grad_by_freq_divides_by_the_count_in_the_batch():
    plain, scaled = nn.Embedding(5, 3), nn.Embedding(5, 3, scale_grad_by_freq=True)
    for layer in (plain, scaled):
        layer(gw.tensor(INDICES)).sum().backward()
    counts = np.maximum(np.bincount(INDICES.ravel(), minlength=5), 1)[:, None]
    np.testing.assert_allclose(to_numpy(scaled.weight.grad) * counts, to_numpy(plain.weight.grad))
    assert to_numpy(plain.weight.grad)[4, 0] == 3  # row 4 is looked up three times


def test_from_pretrained_is_frozen_by_default():
    table = np.arange(6.0).reshape(3, 2)
    layer = nn.Embedding.from_pretrained(gw.tensor(table))
    assert not layer.weight.requires_grad
    assert layer(gw.tensor([2])).tolist() == [[4.0, 5.0]]
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: nn.Embedding(5, 3)(gw.tensor([5])), IndexError, "index 5 is out of range"),
        (lambda: nn.Embedding(5, 3)(gw.tensor([0.5])), IndexError, "integer"),
        (lambda: nn.Embedding(5, 3, padding_idx=7), ValueError, "padding_idx=7"),
        (lambda: nn.Embedding(5, 3, sparse=True), ValueError, "sparse=False"),
    ],
)
def test_errors_explain_the_fix(make, error, message):
    with pytest.raises(error, match=message):
        make()
