"""nn.init against torch's formulas, and functional extras (one_hot, return_indices, pad)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradwork as gw
from gradwork import nn
from gradwork.nn import functional as F
from gradwork.nn import init
from tests.helpers import to_numpy


@pytest.mark.parametrize("name,param", [("linear", None), ("tanh", None), ("relu", None),
                                        ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None),
                                        ("sigmoid", None), ("conv2d", None)])  # fmt: skip
def test_calculate_gain_matches_torch(torch, name, param):
    assert init.calculate_gain(name, param) == pytest.approx(
        torch.nn.init.calculate_gain(name, param)
    )


def test_fan_in_and_fan_out():
    assert init._calculate_fan_in_and_fan_out(gw.zeros(8, 3, 5, 5)) == (75, 200)
    with pytest.raises(ValueError, match="fewer than 2"):
        init._calculate_fan_in_and_fan_out(gw.zeros(3))


# (function, kwargs, expected bound or std from torch's formula for a (200, 300) tensor)
FAN_IN, FAN_OUT = 300, 200
CASES = [
    (init.uniform_, {"a": -2.0, "b": 3.0}, ("range", -2.0, 3.0)),
    (init.normal_, {"mean": 1.0, "std": 0.5}, ("std", 0.5)),
    (init.xavier_uniform_, {"gain": 2.0}, ("bound", 2.0 * math.sqrt(6 / (FAN_IN + FAN_OUT)))),
    (init.xavier_normal_, {}, ("std", math.sqrt(2 / (FAN_IN + FAN_OUT)))),
    (init.kaiming_uniform_, {"a": math.sqrt(5)}, ("bound", 1 / math.sqrt(FAN_IN))),
    (init.kaiming_uniform_, {"mode": "fan_out", "nonlinearity": "relu"},
     ("bound", math.sqrt(6 / FAN_OUT))),
    (init.kaiming_normal_, {"nonlinearity": "relu"}, ("std", math.sqrt(2 / FAN_IN))),
    (init.trunc_normal_, {"std": 1.0, "a": -1.0, "b": 0.5}, ("range", -1.0, 0.5)),
]  # fmt: skip


@pytest.mark.parametrize("fn,kwargs,expected", CASES, ids=[c[0].__name__ for c in CASES])
def test_initialisers_follow_torch_formulas(fn, kwargs, expected):
    tensor = nn.Parameter(gw.zeros(200, 300))
    assert fn(tensor, **kwargs) is tensor
    values = to_numpy(tensor)
    kind = expected[0]
    if kind == "range":
        assert values.min() >= expected[1] and values.max() <= expected[2]
        assert values.min() < expected[1] + 0.05 and values.max() > expected[2] - 0.05
    elif kind == "bound":
        assert np.abs(values).max() <= expected[1] and np.abs(values).max() > 0.99 * expected[1]
        assert values.std() == pytest.approx(expected[1] / math.sqrt(3), rel=0.02)
    else:
        assert values.std() == pytest.approx(expected[1], rel=0.02)


def test_constant_eye_orthogonal_and_reproducibility():
    t = gw.zeros(3, 4)
    np.testing.assert_array_equal(to_numpy(init.constant_(t, 0.5)), 0.5)
    np.testing.assert_array_equal(to_numpy(init.ones_(t)), 1)
    np.testing.assert_array_equal(to_numpy(init.zeros_(t)), 0)
    np.testing.assert_array_equal(to_numpy(init.eye_(t)), np.eye(3, 4))
    q = to_numpy(init.orthogonal_(gw.zeros(4, 6), gain=2.0))
    np.testing.assert_allclose(q @ q.T, 4 * np.eye(4), atol=1e-5)
    gw.manual_seed(5)
    a = to_numpy(init.normal_(gw.zeros(5))).copy()
    gw.manual_seed(5)
    np.testing.assert_array_equal(to_numpy(a), to_numpy(init.normal_(gw.zeros(5))))


def test_one_hot():
    out = F.one_hot(gw.tensor([[0, 2], [1, 1]]))
    assert out.shape == (2, 2, 3) and out.dtype == np.int64
    np.testing.assert_array_equal(to_numpy(out)[0, 1], [0, 0, 1])
    with pytest.raises(ValueError, match="class values"):
        F.one_hot(gw.tensor([3]), 3)


def test_max_pool_return_indices_match_torch(torch):
    x = np.random.default_rng(0).standard_normal((2, 2, 5, 6))
    ours = gw.tensor(x, requires_grad=True)
    values, indices = F.max_pool2d(ours, 3, 2, 1, return_indices=True)
    expected_values, expected_indices = torch.nn.functional.max_pool2d(
        torch.tensor(x), 3, 2, 1, return_indices=True)  # fmt: skip
    np.testing.assert_array_equal(to_numpy(values), to_numpy(expected_values))
    np.testing.assert_array_equal(to_numpy(indices), to_numpy(expected_indices))


def test_functional_pad_is_the_core_pad():
    assert F.pad(gw.zeros(1, 2, 3), (1, 1)).shape == (1, 2, 5)


def test_loss_reduction_is_validated():
    with pytest.raises(ValueError, match="reduction must be one of"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="class index 5"):  # on a GPU: at the next read
        F.cross_entropy(gw.zeros(2, 3), gw.tensor([0, 5])).item()
    with pytest.raises(ValueError, match="targets of shape"):
        F.cross_entropy(gw.zeros(2, 3), gw.tensor([0, 1, 2]))
