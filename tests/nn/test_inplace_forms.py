"""torch's in-place forms write into the tensor: `F.relu(x, inplace=True)`, `x.relu_()`, ...

Code that discards the return value (`F.relu(y, inplace=True)`, `w.data.normal_()`)
must see its tensor change, and the gradient must be torch's.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradwork as gw
from tests.helpers import to_numpy

torch = pytest.importorskip("torch")

ACTIVATIONS = ["relu", "leaky_relu", "elu", "silu", "hardtanh", "relu6", "hardsigmoid",
               "hardswish", "mish", "selu", "celu"]  # fmt: skip


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_functional_inplace_writes_into_the_input_with_torch_gradients(name):
    values = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32) * 3
    x = gw.tensor(values, requires_grad=True)
    y = x * 1
    assert getattr(gw.nn.functional, name)(y, inplace=True) is y
    (y * y).sum().backward()
    tx = torch.tensor(values, requires_grad=True)
    ty = tx * 1
    getattr(torch.nn.functional, name)(ty, inplace=True)
    (ty * ty).sum().backward()
    np.testing.assert_allclose(to_numpy(y), to_numpy(ty), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_numpy(x.grad), to_numpy(tx.grad), rtol=1e-5, atol=1e-5)


def test_inplace_relu_after_max_pool_keeps_the_pool_gradient_right():
    values = np.random.default_rng(1).standard_normal((2, 3, 8, 8)).astype(np.float32)
    x = gw.tensor(values, requires_grad=True)
    pooled = gw.nn.functional.max_pool2d(x * 1, 2)
    gw.nn.ReLU(inplace=True)(pooled)
    pooled.sum().backward()
    tx = torch.tensor(values, requires_grad=True)
    tp = torch.nn.functional.max_pool2d(tx * 1, 2)
    torch.nn.ReLU(inplace=True)(tp)
    tp.sum().backward()
    np.testing.assert_array_equal(to_numpy(x.grad), to_numpy(tx.grad))


def test_inplace_on_a_leaf_that_requires_grad_raises_as_torch():
    with pytest.raises(RuntimeError, match="leaf Variable"):
        gw.nn.functional.relu(gw.randn(3, requires_grad=True), inplace=True)


def test_dropout_inplace_changes_the_input():
    x = gw.ones(1000)
    out = gw.nn.functional.dropout(x, 0.5, training=True, inplace=True)
    assert out is x and (to_numpy(x) == 0).any() and (to_numpy(x) == 2).any()


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "exp", "sqrt", "abs", "floor",
                                  "round", "sin", "reciprocal", "log1p", "erf"])  # fmt: skip
def test_underscore_math_methods_match_torch(name):
    values = np.random.default_rng(2).uniform(0.1, 3.0, (3, 4)).astype(np.float32)
    x = gw.tensor(values, requires_grad=True)
    y = x * 1
    assert getattr(y, name + "_")() is y
    y.sum().backward()
    tx = torch.tensor(values, requires_grad=True)
    ty = tx * 1
    getattr(ty, name + "_")()
    ty.sum().backward()
    np.testing.assert_allclose(to_numpy(y), to_numpy(ty), rtol=1e-6)
    np.testing.assert_allclose(to_numpy(x.grad), to_numpy(tx.grad), rtol=1e-5, atol=1e-6)


def test_an_integer_tensor_refuses_a_float_result_in_place():
    with pytest.raises(RuntimeError, match="can't be cast"):
        gw.tensor([1, 2]).sqrt_()


def test_random_fills_draw_from_the_seeded_stream():
    gw.manual_seed(0)
    first = gw.zeros(2000).normal_(1.0, 0.5)
    gw.manual_seed(0)
    second = gw.zeros(2000).normal_(1.0, 0.5)
    np.testing.assert_array_equal(to_numpy(first), to_numpy(second))
    assert abs(float(first.mean()) - 1.0) < 0.05 and abs(float(first.std()) - 0.5) < 0.05
    uniform = to_numpy(gw.zeros(2000).uniform_(-2, 2))
    assert uniform.min() >= -2 and uniform.max() < 2 and uniform.std() > 1
    bits = to_numpy(gw.zeros(2000).bernoulli_(0.25))
    assert set(np.unique(bits)) <= {0.0, 1.0} and 0.2 < bits.mean() < 0.3
    assert (to_numpy(gw.zeros(100).exponential_(2.0)) > 0).all()
    with pytest.raises(RuntimeError, match="leaf Variable"):
        gw.zeros(3, requires_grad=True).normal_()
