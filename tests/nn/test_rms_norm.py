"""RMSNorm and F.rms_norm against torch (float64, 1e-10) and central differences.

The generic harness (cases.py) covers RMSNorm's state_dict, init and a training
step; here: a non-trivial weight, the functional form, eps=None per dtype, errors.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradwork as gw
import gradwork.nn.functional as F
from gradwork import nn
from gradwork.diagnose import gradcheck
from tests.helpers import assert_parity, randn64, to_numpy


@pytest.mark.parametrize("shape, normalized", [((2, 5), (5,)), ((2, 3, 4), (3, 4)), ((4,), 4)])
def test_functional_matches_torch_with_weight(torch, shape, normalized):
    gw.manual_seed(0)
    trailing = (normalized,) if isinstance(normalized, int) else normalized
    x, weight = randn64(*shape), randn64(*trailing)
    assert_parity(
        torch,
        lambda a, w: F.rms_norm(a, normalized, w),
        lambda a, w: torch.nn.functional.rms_norm(a, list(trailing), w),
        [x, weight],
        atol=1e-10,
        rtol=1e-10,
    )


@pytest.mark.parametrize("eps", [None, 1e-2])
def test_module_matches_torch_values_and_gradients(torch, eps):
    gw.manual_seed(1)
    theirs = torch.nn.RMSNorm((3, 4), eps=eps).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.randn(3, 4, dtype=torch.float64))
    ours = nn.RMSNorm((3, 4), eps=eps).double()
    ours.load_state_dict(theirs.state_dict())
    x = randn64(2, 3, 4)
    x_torch = torch.tensor(np.array(to_numpy(x)), requires_grad=True)
    out, expected = ours(x), theirs(x_torch)
    np.testing.assert_allclose(to_numpy(out), to_numpy(expected), atol=1e-10, rtol=1e-10)
    weights = np.random.default_rng(2).standard_normal(out.shape)
    (out * gw.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(to_numpy(x.grad), to_numpy(x_torch.grad), atol=1e-10, rtol=1e-10)
    np.testing.assert_allclose(
        to_numpy(ours.weight.grad), to_numpy(theirs.weight.grad), atol=1e-10, rtol=1e-10
    )


def test_numeric_gradient_of_input_and_weight():
    gw.manual_seed(3)
    module = nn.RMSNorm(6).double()
    module.weight.data.copy_(randn64(6, requires_grad=False))
    report = gradcheck(module, [randn64(4, 6)], atol=1e-8, rtol=1e-6)
    assert report.passed and len(report.inputs) == 2  # the input and the weight


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_default_eps_is_the_dtype_machine_epsilon(dtype):
    # A zero row divides 0 by sqrt(eps): finite, and the scale tells which eps was used.
    x = gw.tensor(np.array([[0.0, 0.0], [1e-9, 0.0]], dtype=dtype))
    eps = np.finfo(dtype).eps
    out = F.rms_norm(x, (2,))
    expected = 1e-9 / np.sqrt(1e-18 / 2 + eps)
    assert np.all(np.isfinite(to_numpy(out)))
    np.testing.assert_allclose(to_numpy(out)[1, 0], expected, rtol=1e-5)


def test_output_has_unit_root_mean_square_without_weight():
    x = gw.randn(5, 7) * 30
    y = nn.RMSNorm(7, elementwise_affine=False)(x)
    np.testing.assert_allclose(to_numpy((y * y).mean(-1)), np.ones(5), rtol=1e-5)
    assert list(nn.RMSNorm(7, elementwise_affine=False).parameters()) == []


def test_wrong_trailing_shape_names_the_fix():
    with pytest.raises(nn.LayerInputError, match=r"normalized_shape=\(5,\)"):
        nn.RMSNorm(4)(gw.randn(2, 5))
    with pytest.raises(RuntimeError, match="rms_norm: input of shape"):
        F.rms_norm(gw.randn(2, 5), (4,))


def test_repr_is_torchs(torch):
    assert repr(nn.RMSNorm([2, 3], eps=1e-6)) == repr(torch.nn.RMSNorm([2, 3], eps=1e-6))
