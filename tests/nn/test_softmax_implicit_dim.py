"""softmax, log_softmax, softmin and their modules with dim=None: torch's warning and dim."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import gradwork as gw
import gradwork.nn.functional as F
from gradwork import nn
from tests.helpers import to_numpy

SHAPES = [(), (3,), (2, 3), (2, 3, 4), (2, 3, 4, 5)]
FUNCTIONS = ["softmax", "log_softmax", "softmin"]
MODULES = {"softmax": "Softmax", "log_softmax": "LogSoftmax", "softmin": "Softmin"}


def _run(function, x):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = function(x)
    return out, caught


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", FUNCTIONS)
def test_implicit_dim_warns_and_matches_torch(name, shape, torch):
    data = np.random.default_rng(0).standard_normal(shape)
    x, t = gw.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    out, caught = _run(getattr(F, name), x)
    expected, torch_caught = _run(getattr(torch.nn.functional, name), t)
    np.testing.assert_allclose(to_numpy(out), to_numpy(expected), rtol=1e-12, atol=1e-14)
    assert [str(w.message) for w in caught] == [str(w.message) for w in torch_caught]
    assert [w.category for w in caught] == [UserWarning]
    assert caught[0].filename == __file__  # points at the caller's line, as torch's does
    weights = np.random.default_rng(1).standard_normal(shape)
    (out * gw.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(to_numpy(x.grad), to_numpy(t.grad), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_modules_without_dim_warn_and_match_torch(name, torch):
    data = np.random.default_rng(2).standard_normal((2, 3, 4))
    out, caught = _run(getattr(nn, MODULES[name])(), gw.tensor(data))
    expected, torch_caught = _run(getattr(torch.nn, MODULES[name])(), torch.tensor(data))
    np.testing.assert_allclose(to_numpy(out), to_numpy(expected), rtol=1e-12, atol=1e-14)
    assert [str(w.message) for w in caught] == [str(w.message) for w in torch_caught]


@pytest.mark.parametrize("shape,dim", [((), 0), ((3,), 0), ((2, 3), 1), ((2, 3, 4), 0),
                                       ((2, 3, 4, 5), 1)])  # fmt: skip
def test_the_implicit_dim_is_torchs_legacy_choice(shape, dim):
    x = gw.tensor(np.random.default_rng(3).standard_normal(shape))
    out, caught = _run(F.softmax, x)
    assert str(caught[0].message) == (
        "Implicit dimension choice for softmax has been deprecated. Change the call to include "
        "dim=X as an argument."
    )
    np.testing.assert_allclose(to_numpy(out), to_numpy(F.softmax(x, dim=dim)))


def test_an_explicit_dim_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.softmax(gw.ones(2, 3), dim=0)
        F.log_softmax(gw.ones(2, 3), 1)
        F.softmin(gw.ones(2, 3), -1)
        nn.Softmax(dim=1)(gw.ones(2, 3))
