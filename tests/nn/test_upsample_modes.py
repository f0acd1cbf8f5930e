"""F.interpolate / nn.Upsample modes 'bicubic' and 'area': torch parity, gradcheck, errors."""

from __future__ import annotations

import numpy as np
import pytest

import gradwork as gw
import gradwork.nn.functional as F
from gradwork import nn
from gradwork.diagnose import gradcheck
from tests.helpers import to_numpy

SIZES = (3, 8, (13, 2), (1, 1))
FACTORS = (0.5, 2.0, 2.05, 3.0, (2.3, 0.7))


def _cases():
    cases = []
    for shape in ((1, 2, 4, 5), (2, 1, 7, 3), (2, 3, 9, 11)):
        cases += [("bicubic", shape, {"size": size}) for size in SIZES]
        cases += [("bicubic", shape, {"scale_factor": f}) for f in FACTORS]
        cases.append(("bicubic", shape, {"scale_factor": 2.05, "recompute_scale_factor": True}))
        cases += [("area", shape, {"size": size}) for size in SIZES]
        cases += [("area", shape, {"scale_factor": f}) for f in FACTORS]
    for shape in ((2, 3, 7), (1, 1, 10)):
        cases += [("area", shape, {"size": size}) for size in (1, 3, 4, 10, 13)]
        cases += [("area", shape, {"scale_factor": f}) for f in (0.5, 0.75, 1.5, 2.0)]
    return cases


def _compare(torch, data, options, check_grad=True):
    import torch.nn.functional as tf

    x = gw.tensor(data, requires_grad=True)
    out = F.interpolate(x, **options)
    t = torch.tensor(data, requires_grad=True)
    expected = tf.interpolate(t, **options)
    assert out.dtype == data.dtype and out.shape == tuple(expected.shape)
    # float32: torch's kernel adds the 16 products in its own order (a few ulps of 4)
    tol = 2e-6 if data.dtype == np.float32 else 1e-13
    np.testing.assert_allclose(to_numpy(out), to_numpy(expected), rtol=0, atol=tol)
    weights = np.random.default_rng(1).standard_normal(out.shape).astype(data.dtype)
    (out * gw.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    if check_grad:
        np.testing.assert_allclose(to_numpy(x.grad), to_numpy(t.grad), rtol=0, atol=tol * 5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode,shape,kwargs", _cases())
def test_interpolate_matches_torch(mode, shape, kwargs, dtype, torch):
    data = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    for align_corners in (None, False, True) if mode == "bicubic" else (None,):
        _compare(torch, data, dict(kwargs, mode=mode, align_corners=align_corners))


def test_bicubic_keeps_resampling_when_the_size_is_kept(torch):
    """scale_factor=1.1 on 7 x 7 gives 7 x 7, resampled by 1/1.1 in torch's forward too.

    torch's backward copies the gradient then (its same-size shortcut), so it
    is not the gradient of its forward; ours is, as gradcheck shows.
    """
    data = np.random.default_rng(0).standard_normal((1, 2, 7, 7))
    _compare(torch, data, {"scale_factor": 1.1, "mode": "bicubic"}, check_grad=False)
    x = gw.tensor(data, requires_grad=True)
    gradcheck(lambda t: F.interpolate(t, scale_factor=1.1, mode="bicubic"), [x])


@pytest.mark.parametrize("factor", [3.0, 1.7, (2.3, 0.7)])
@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_float32_positions_round_as_torchs_fused_multiply_add(mode, factor, torch):
    """Source positions off by one float32 ulp would move these outputs by up to 3.5e-6."""
    data = np.random.default_rng(4).standard_normal((2, 3, 17, 13)).astype(np.float32)
    expected = torch.nn.functional.interpolate(torch.tensor(data), scale_factor=factor, mode=mode)
    out = F.interpolate(gw.tensor(data), scale_factor=factor, mode=mode)
    np.testing.assert_allclose(to_numpy(out), to_numpy(expected), rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "shape,options",
    [
        ((1, 2, 4, 5), {"size": (7, 3), "mode": "bicubic"}),
        ((1, 1, 3, 4), {"scale_factor": 2.0, "mode": "bicubic", "align_corners": True}),
        ((1, 1, 2, 6), {"size": 3, "mode": "bicubic"}),  # taps past both borders
        ((1, 2, 5, 7), {"size": (3, 4), "mode": "area"}),
        ((2, 2, 7), {"size": 3, "mode": "area"}),
    ],
)
def test_gradcheck(shape, options):
    x = gw.tensor(np.random.default_rng(2).standard_normal(shape), requires_grad=True)
    gradcheck(lambda t: F.interpolate(t, **options), [x])


def test_area_is_adaptive_average_pooling():
    x = gw.tensor(np.arange(30.0).reshape(1, 1, 5, 6))
    np.testing.assert_array_equal(
        to_numpy(F.interpolate(x, size=(2, 3), mode="area")),
        to_numpy(F.adaptive_avg_pool2d(x, (2, 3))),
    )
    row = gw.tensor([[[1.0, 2.0, 4.0, 8.0]]])
    assert F.interpolate(row, scale_factor=0.5, mode="area").tolist() == [[[1.5, 6.0]]]


def test_area_with_an_empty_output_is_empty_and_differentiable(torch):
    x = gw.ones(1, 1, 2, 6, requires_grad=True)
    out = F.interpolate(x, size=(0, 3), mode="area")
    expected = torch.nn.functional.interpolate(torch.ones(1, 1, 2, 6), size=(0, 3), mode="area")
    assert out.shape == tuple(expected.shape) == (1, 1, 0, 3)
    out.sum().backward()  # torch's backward refuses an empty gradient; ours is zero
    assert x.grad.tolist() == np.zeros((1, 1, 2, 6)).tolist()


@pytest.mark.parametrize(
    "module_args", [{"size": (5, 3), "mode": "bicubic"}, {"scale_factor": 0.5, "mode": "area"},
                    {"scale_factor": 2, "mode": "bicubic", "align_corners": True}]
)  # fmt: skip
def test_upsample_module_matches_torch(module_args, torch):
    data = np.random.default_rng(3).standard_normal((2, 3, 6, 4)).astype(np.float32)
    ours, theirs = nn.Upsample(**module_args), torch.nn.Upsample(**module_args)
    assert repr(ours) == repr(theirs)
    expected = to_numpy(theirs(torch.tensor(data)))
    np.testing.assert_allclose(to_numpy(ours(gw.tensor(data))), expected, rtol=0, atol=2e-6)


def _error(call):
    try:
        call()
    except Exception as error:  # noqa: BLE001 - the oracle's class is the point
        return type(error), str(error)
    return None, ""


@pytest.mark.parametrize(
    "shape,dtype,options",
    [
        ((1, 1, 4), "float32", {"size": 3, "mode": "bicubic"}),
        ((1, 1, 4, 4), "float32", {"size": 3, "mode": "area", "align_corners": False}),
        ((1, 1, 4, 4), "int64", {"size": 3, "mode": "bicubic"}),
        ((1, 1, 4, 4), "int64", {"size": 3, "mode": "area"}),
        ((1, 1, 1, 6), "float32", {"scale_factor": 0.5, "mode": "bicubic"}),
        ((1, 1, 1), "float32", {"scale_factor": 0.5, "mode": "nearest"}),
        ((1, 1, 0, 6), "float32", {"size": (2, 3), "mode": "bilinear"}),
        ((1, 1, 2, 6), "float32", {"size": (-1, 3), "mode": "area"}),
        ((1, 1, 6), "float32", {"size": -2, "mode": "area"}),
        ((1, 1, 0, 6), "float32", {"size": (2, 3), "mode": "area"}),
        ((4,), "float32", {"size": 3, "mode": "area"}),
    ],
)
def test_errors_match_torch(shape, dtype, options, torch):
    data = np.zeros(shape, dtype=dtype)
    ours = _error(lambda: F.interpolate(gw.tensor(data), **options))
    theirs = _error(lambda: torch.nn.functional.interpolate(torch.tensor(data), **options))
    assert theirs[0] is not None and issubclass(ours[0], theirs[0]), (ours, theirs)
    if "greater than" in theirs[1] or "Input Error" in theirs[1]:
        assert ours[1] == theirs[1]


def test_five_dimensional_input_is_refused_with_a_reason():
    with pytest.raises(NotImplementedError, match="5-D input"):
        F.interpolate(gw.zeros(1, 1, 2, 2, 2), size=3, mode="area")
