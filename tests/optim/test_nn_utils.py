"""gradwork.nn.utils (clipping, vectors, penalties) and param_groups_no_decay."""

from __future__ import annotations

import re

import numpy as np
import pytest

import gradwork as gw
import gradwork.nn.utils as utils
from gradwork import optim
from gradwork.diagnose import gradcheck
from tests.helpers import randn64, to_numpy


def _with_grads(lib, grads):
    params = []
    for g in grads:
        p = lib.zeros(*g.shape, dtype=lib.float64, requires_grad=True)
        p.grad = lib.tensor(g.copy())
        params.append(p)
    return params


CLIP_NORM_CASES = [(2.0, 1.0), (2.0, 100.0), (1.0, 0.5), (float("inf"), 0.3), (3.0, 0.7)]


@pytest.mark.parametrize("norm_type, max_norm", CLIP_NORM_CASES)
def test_clip_grad_norm_matches_torch(norm_type, max_norm, torch):
    rng = np.random.default_rng(3)
    grads = [rng.standard_normal((3, 4)), rng.standard_normal(5), rng.standard_normal((2, 2, 2))]
    ours, theirs = _with_grads(gw, grads), _with_grads(torch, grads)
    ours.append(gw.zeros(2, requires_grad=True))  # no grad: skipped
    total = utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total, gw.Tensor) and total.ndim == 0
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-12)
    for p, t in zip(ours[:-1], theirs, strict=True):  # the last one has no gradient
        np.testing.assert_allclose(to_numpy(p.grad), to_numpy(t.grad), rtol=1e-12)
    assert ours[-1].grad is None


def test_clip_grad_norm_values_without_torch():
    params = _with_grads(gw, [np.array([3.0]), np.array([4.0])])
    total = utils.clip_grad_norm_(params, 1.0)
    assert total.item() == 5.0
    np.testing.assert_allclose([p.grad.item() for p in params], [0.6, 0.8], rtol=1e-6)
    params = _with_grads(gw, [np.array([-3.0, 1.0])])
    assert utils.clip_grad_norm_(params, 1.0, norm_type="inf").item() == 3.0
    np.testing.assert_allclose(to_numpy(params[0].grad), [-1.0, 1 / 3], rtol=1e-6)


def test_clip_grad_norm_keeps_float32():
    p = gw.zeros(3, requires_grad=True)
    p.grad = gw.tensor([3.0, 4.0, 0.0])
    total = utils.clip_grad_norm_(p, 1.0)
    assert total.dtype == np.float32 and p.grad.dtype == np.float32


def test_clip_grad_norm_nonfinite(torch):
    grads = [np.array([1.0, np.inf])]
    message = "is non-finite, so it cannot be clipped"
    with pytest.raises(RuntimeError, match=message):
        utils.clip_grad_norm_(_with_grads(gw, grads), 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match=re.escape("set `error_if_nonfinite=False`")):
        torch.nn.utils.clip_grad_norm_(_with_grads(torch, grads), 1.0, error_if_nonfinite=True)
    total = utils.clip_grad_norm_(_with_grads(gw, grads), 1.0)
    assert np.isinf(total.item())


def test_clip_grad_norm_without_grads():
    assert utils.clip_grad_norm_([gw.zeros(2, requires_grad=True)], 1.0).item() == 0.0


def test_clip_grad_value_matches_torch(torch):
    grads = [np.array([-3.0, 0.2, 5.0]), np.array([[0.9, -1.1]])]
    ours, theirs = _with_grads(gw, grads), _with_grads(torch, grads)
    utils.clip_grad_value_(ours, 1.0)
    torch.nn.utils.clip_grad_value_(theirs, 1.0)
    for p, t in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(to_numpy(p.grad), to_numpy(t.grad))
    np.testing.assert_array_equal(to_numpy(ours[0].grad), [-1.0, 0.2, 1.0])


def test_parameters_to_vector_and_back(torch):
    params = [randn64(2, 3), randn64(4)]
    vector = utils.parameters_to_vector(params)
    expected = torch.nn.utils.parameters_to_vector([torch.tensor(to_numpy(p)) for p in params])
    np.testing.assert_array_equal(to_numpy(vector), to_numpy(expected))
    (vector * gw.arange(10, dtype=gw.float64)).sum().backward()  # differentiable
    np.testing.assert_array_equal(to_numpy(params[1].grad), [6.0, 7.0, 8.0, 9.0])
    targets = [gw.zeros(2, 3, dtype=gw.float64), gw.zeros(4, dtype=gw.float64)]
    utils.vector_to_parameters(vector.detach() * 2, targets)
    for target, p in zip(targets, params, strict=True):
        np.testing.assert_array_equal(to_numpy(target), 2 * to_numpy(p))
    with pytest.raises(ValueError, match="has 10 elements but the parameters hold 6"):
        utils.vector_to_parameters(vector.detach(), targets[:1])
    with pytest.raises(TypeError, match="expected gradwork.Tensor"):
        utils.vector_to_parameters(vector.array, targets)


@pytest.mark.parametrize(
    "penalty, reference",
    [
        (utils.l1_penalty, lambda arrays: sum(np.abs(a).sum() for a in arrays)),
        (utils.l2_penalty, lambda arrays: sum((a * a).sum() for a in arrays)),
    ],
)
def test_penalties_value_and_gradcheck(penalty, reference):
    params = [randn64(3, 2), randn64(4)]
    value = penalty(params, weight=0.3)
    np.testing.assert_allclose(value.item(), 0.3 * reference([to_numpy(p) for p in params]))
    assert gradcheck(lambda a, b: penalty([a, b], weight=0.3), params)


def test_l2_penalty_gradient_equals_sgd_weight_decay():
    w = gw.tensor([1.0, -2.0], dtype=gw.float64, requires_grad=True)
    utils.l2_penalty([w], weight=0.05).backward()
    np.testing.assert_allclose(
        to_numpy(w.grad), 0.1 * to_numpy(w)
    )  # d/dw 0.05 w^2 = weight_decay 0.1 * w


class _LayerNorm:
    pass


class _Linear:
    pass


class _FakeModel:
    """A stand-in for an nn.Module: a linear layer, a LayerNorm, and a 1-D scale."""

    def __init__(self):
        self.tensors = {
            "fc.weight": gw.ones(3, 2, requires_grad=True),
            "fc.bias": gw.zeros(3, requires_grad=True),
            "norm.weight": gw.ones(3, 3, requires_grad=True),  # 2-D, but in a Norm layer
            "scale": gw.ones(3, requires_grad=True),
            "head.weight": gw.ones(1, 3, requires_grad=True),
        }

    def named_parameters(self):
        return list(self.tensors.items())

    def named_modules(self):
        return [("", self), ("fc", _Linear()), ("norm", _LayerNorm()), ("head", _Linear())]


def test_param_groups_no_decay():
    model = _FakeModel()
    groups = optim.param_groups_no_decay(model, weight_decay=0.1)
    assert [g["param_names"] for g in groups] == [
        ["fc.weight", "head.weight"],
        ["fc.bias", "norm.weight", "scale"],
    ]
    assert [g["weight_decay"] for g in groups] == [0.1, 0.0]
    assert groups[0]["params"][0] is model.tensors["fc.weight"]
    opt = optim.AdamW(groups, lr=0.1)
    for p in model.tensors.values():
        p.grad = gw.zeros(*p.shape)
    opt.step()  # zero gradients: only the decay moves anything
    assert to_numpy(model.tensors["fc.weight"])[0, 0] == pytest.approx(1 - 0.1 * 0.1)
    assert to_numpy(model.tensors["norm.weight"])[0, 0] == 1.0
    names = opt.state_dict()["param_groups"][1]["param_names"]
    assert names == ["fc.bias", "norm.weight", "scale"]


def test_param_groups_no_decay_skips_an_empty_group():
    class Weights:
        def named_parameters(self):
            return [("w", gw.ones(2, 2, requires_grad=True))]

    groups = optim.param_groups_no_decay(Weights(), 0.01)
    assert len(groups) == 1 and groups[0]["weight_decay"] == 0.01
