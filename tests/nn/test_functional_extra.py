"""Beyond the table: kinks, stability, indices, resampling rules and errors, against torch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import gradwork as gw
import gradwork.nn.functional as F
from gradwork import nn
from tests.helpers import assert_parity, to_numpy

KINKS = np.array([-6.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 6.0, 7.0])
ACTIVATIONS = [
    ("hardtanh", lambda f, x: f.hardtanh(x)),
    ("hardtanh-bounds", lambda f, x: f.hardtanh(x, -0.5, 3.0)),
    ("relu6", lambda f, x: f.relu6(x)),
    ("hardswish", lambda f, x: f.hardswish(x)),
    ("hardsigmoid", lambda f, x: f.hardsigmoid(x)),
    ("mish", lambda f, x: f.mish(x)),
    ("selu", lambda f, x: f.selu(x)),
    ("celu", lambda f, x: f.celu(x, 0.5)),
    ("softsign", lambda f, x: f.softsign(x)),
    ("logsigmoid", lambda f, x: f.logsigmoid(x)),
    ("softmin", lambda f, x: f.softmin(x, dim=0)),
]


@pytest.mark.parametrize("fn", [a[1] for a in ACTIVATIONS], ids=[a[0] for a in ACTIVATIONS])
def test_activation_values_and_gradients_at_the_kinks_match_torch(fn, torch):
    import torch.nn.functional as tf

    x = gw.tensor(KINKS, requires_grad=True)
    # rtol: torch's hardsigmoid gradient is 1/6 rounded to float32 even in float64.
    assert_parity(torch, lambda v: fn(F, v), lambda v: fn(tf, v), [x], atol=1e-12, rtol=1e-7)


@pytest.mark.parametrize("dtype", [gw.float32, gw.float64])
def test_logsigmoid_and_mish_are_stable_for_large_inputs(dtype, torch):
    import torch.nn.functional as tf

    values = np.array([-1e4, -800.0, -50.0, 50.0, 800.0, 1e4])
    for name in ("logsigmoid", "mish", "softsign", "selu", "celu"):
        x = gw.tensor(values, dtype=dtype, requires_grad=True)
        out = getattr(F, name)(x)
        out.sum().backward()
        assert out.dtype == dtype
        assert np.isfinite(out.array).all() and np.isfinite(x.grad.array).all(), name
        t = torch.tensor(values, dtype=getattr(torch, str(dtype)), requires_grad=True)
        expected = getattr(tf, name)(t)
        expected.sum().backward()
        rtol = 1e-5 if dtype == gw.float32 else 1e-12  # float32: a few ulp of composition
        np.testing.assert_allclose(to_numpy(out), to_numpy(expected), rtol=rtol)
        np.testing.assert_allclose(to_numpy(x.grad), to_numpy(t.grad), rtol=rtol, atol=1e-30)


def test_activation_errors_and_warnings():
    with pytest.raises(ValueError, match="min_val cannot be greater"):
        F.hardtanh(gw.ones(2), 1.0, 0.0)
    with pytest.raises(ValueError, match="max_val"):
        nn.Hardtanh(1.0, 0.0)
    with pytest.raises(RuntimeError, match="alpha cannot be 0"):
        F.celu(gw.ones(2), 0.0)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmin"):
        out = F.softmin(gw.zeros(2, 3))
    np.testing.assert_allclose(to_numpy(out), np.full((2, 3), 1 / 3), rtol=1e-6)


def test_module_reprs_match_torch(torch):
    pairs = [
        (nn.Hardtanh(), torch.nn.Hardtanh()),
        (nn.Hardtanh(-2, 2, True), torch.nn.Hardtanh(-2, 2, True)),
        (nn.ReLU6(), torch.nn.ReLU6()), (nn.ReLU6(True), torch.nn.ReLU6(True)),
        (nn.CELU(), torch.nn.CELU()), (nn.SELU(), torch.nn.SELU()), (nn.Mish(), torch.nn.Mish()),
        (nn.Softmin(1), torch.nn.Softmin(1)), (nn.LogSigmoid(), torch.nn.LogSigmoid()),
        (nn.KLDivLoss(), torch.nn.KLDivLoss()),
        (nn.CosineSimilarity(), torch.nn.CosineSimilarity()),
        (nn.PairwiseDistance(), torch.nn.PairwiseDistance()),
        (nn.Upsample(scale_factor=2), torch.nn.Upsample(scale_factor=2)),
        (nn.Upsample(size=(3, 4), mode="bilinear"),
         torch.nn.Upsample(size=(3, 4), mode="bilinear")),
        (nn.UpsamplingBilinear2d(scale_factor=2), torch.nn.UpsamplingBilinear2d(scale_factor=2)),
        (nn.Unfold(2), torch.nn.Unfold(2)), (nn.Fold(4, 2), torch.nn.Fold(4, 2)),
        (nn.MaxUnpool2d(2), torch.nn.MaxUnpool2d(2)),
    ]  # fmt: skip
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)


# ---------------------------------------------------------------- distances, KL
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 1.5, float("inf"), 0.0])
def test_normalize_matches_torch_and_is_zero_safe(p, torch):
    import torch.nn.functional as tf

    data = np.random.default_rng(0).standard_normal((3, 4, 2))
    data[1, :, 0] = 0.0  # a zero vector along dim 1
    x = gw.tensor(data, requires_grad=True)
    assert_parity(torch, lambda v: F.normalize(v, p, dim=1), lambda v: tf.normalize(v, p, dim=1),
                  [x], atol=1e-12)  # fmt: skip
    assert np.isfinite(x.grad.array).all()


def test_cosine_similarity_and_pairwise_distance_edge_cases(torch):
    import torch.nn.functional as tf

    zero = gw.zeros(2, 3, dtype=gw.float64, requires_grad=True)
    other = gw.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert_parity(torch, F.cosine_similarity, tf.cosine_similarity, [zero, other], atol=1e-12)
    a, b = gw.tensor([1.0, 2.0], requires_grad=True), gw.tensor([1.0, 2.0], requires_grad=True)
    assert_parity(torch, F.pairwise_distance, tf.pairwise_distance, [a, b])
    assert F.pairwise_distance(a, b).shape == ()
    with pytest.raises(RuntimeError, match="floating point"):
        F.cosine_similarity(gw.tensor([[1, 2]]), gw.tensor([[3, 4]]))
    with pytest.raises(IndexError):
        F.normalize(gw.ones(3))  # dim=1 of a 1-D tensor, as torch
    mixed = F.cosine_similarity(gw.ones(2, 3), gw.ones(2, 3, dtype=gw.float64))
    assert mixed.dtype == gw.float64


def test_kl_div_reductions_warnings_and_zero_targets(torch):
    import torch.nn.functional as tf

    rng = np.random.default_rng(0)
    log_p = np.log(rng.dirichlet(np.ones(4), 3))
    target = rng.dirichlet(np.ones(4), 3)
    target[0, 1] = 0.0  # xlogy: contributes 0, not nan
    for reduction in ("batchmean", "sum", "none"):
        x = gw.tensor(log_p, requires_grad=True)
        assert_parity(torch, lambda v, r=reduction: F.kl_div(v, gw.tensor(target), reduction=r),
                      lambda v, r=reduction: tf.kl_div(v, torch.tensor(target), reduction=r),
                      [x])  # fmt: skip
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        mean = F.kl_div(gw.tensor(log_p), gw.tensor(target))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = tf.kl_div(torch.tensor(log_p), torch.tensor(target)).item()
    assert mean.item() == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.kl_div(gw.tensor(log_p), gw.tensor(target), reduction="avg")


# ---------------------------------------------------------------- max pool indices, unpool
POOLS = [((2,), {}), ((3, 2, 1), {}), ((3, 2, 1), {"ceil_mode": True}), ((2, 1, 0, 2), {}),
         (((2, 3), (1, 2), (1, 1)), {})]  # fmt: skip


@pytest.mark.parametrize("args,kwargs", POOLS)
@pytest.mark.parametrize("grad", [True, False])
def test_max_pool2d_indices_match_torch_with_or_without_grad(args, kwargs, grad, torch):
    import torch.nn.functional as tf

    data = np.random.default_rng(0).standard_normal((2, 3, 7, 6))
    data[0, 0] = 0.0  # ties: the first maximum of each window wins
    data[1, 1, :3, :3] = np.round(data[1, 1, :3, :3])
    x = gw.tensor(data, requires_grad=grad)
    values, indices = F.max_pool2d(x, *args, return_indices=True, **kwargs)
    expected, expected_indices = tf.max_pool2d(torch.tensor(data), *args, return_indices=True,
                                               **kwargs)  # fmt: skip
    np.testing.assert_array_equal(to_numpy(values), to_numpy(expected))
    np.testing.assert_array_equal(to_numpy(indices), to_numpy(expected_indices))
    assert indices.dtype == gw.int64 and not indices.requires_grad
    unbatched = F.max_pool2d(gw.tensor(data[0]), *args, return_indices=True, **kwargs)[1]
    np.testing.assert_array_equal(to_numpy(unbatched), to_numpy(expected_indices[0]))


def test_max_pool_indices_corner_cases(torch):
    import torch.nn.functional as tf

    data = np.full((1, 1, 4, 4), -np.inf)
    data[0, 0, 0, 3] = np.nan
    for x in (data, np.random.default_rng(1).standard_normal((2, 3, 9))):
        expected = (tf.max_pool2d if x.ndim == 4 else tf.max_pool1d)(
            torch.tensor(x), 3, 2, 1, return_indices=True)[1]  # fmt: skip
        pool = F.max_pool2d if x.ndim == 4 else F.max_pool1d
        np.testing.assert_array_equal(to_numpy(pool(gw.tensor(x), 3, 2, 1, return_indices=True)[1]),
                                      to_numpy(expected))  # fmt: skip
    values, indices = nn.MaxPool1d(2, return_indices=True)(gw.ones(2, 3, 6))
    assert values.shape == indices.shape == (2, 3, 3)


def test_max_unpool2d_round_trip_output_size_and_errors(torch):
    import torch.nn.functional as tf

    data = np.random.default_rng(0).standard_normal((2, 2, 5, 5))
    pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    values, indices = pool(gw.tensor(data))
    x = gw.tensor(values.array, requires_grad=True)
    t_values, t_indices = tf.max_pool2d(torch.tensor(data), 2, return_indices=True)
    assert_parity(torch, lambda v: unpool(v, indices, output_size=(2, 2, 5, 5)),
                  lambda v: tf.max_unpool2d(v, t_indices, 2, output_size=(5, 5)), [x])  # fmt: skip
    assert unpool(*pool(gw.tensor(data[..., :4, :4]))).shape == (2, 2, 4, 4)
    with pytest.raises(ValueError, match="invalid output_size"):
        unpool(values, indices, output_size=(7, 7))
    with pytest.raises(RuntimeError, match="invalid max index"):
        F.max_unpool2d(values, indices * 0 + 16, 2)
    with pytest.raises(RuntimeError, match="shape of indices"):
        F.max_unpool2d(values, indices[:1], 2)


# ---------------------------------------------------------------- interpolate
def _interpolate_cases():
    cases = []
    for mode, shape in (("nearest", (2, 2, 5)), ("nearest", (1, 2, 4, 5)),
                        ("nearest-exact", (1, 2, 4, 5)), ("linear", (2, 2, 5)),
                        ("bilinear", (1, 2, 4, 5))):  # fmt: skip
        spatial = len(shape) - 2
        for size in (3, 8, 10, 13):
            cases.append((mode, shape, {"size": size}))
        for factor in (0.5, 1.1, 2.0, 2.05, 2.3, 3.0):
            cases.append((mode, shape, {"scale_factor": factor}))
            cases.append((mode, shape, {"scale_factor": (factor,) * spatial,
                                        "recompute_scale_factor": True}))  # fmt: skip
    return cases


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode,shape,kwargs", _interpolate_cases())
def test_interpolate_matches_torch(mode, shape, kwargs, dtype, torch):
    import torch.nn.functional as tf

    data = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    corners = (None,) if mode.startswith("nearest") else (False, True)
    for align_corners in corners:
        options = dict(kwargs, mode=mode, align_corners=align_corners)
        x = gw.tensor(data, requires_grad=True)
        out = F.interpolate(x, **options)
        t = torch.tensor(data, requires_grad=True)
        expected = tf.interpolate(t, **options)
        assert out.dtype == np.dtype(dtype) and out.shape == tuple(expected.shape)
        tol = 1e-6 if dtype == "float32" else 1e-13
        np.testing.assert_allclose(to_numpy(out), to_numpy(expected), atol=tol)
        weights = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
        (out * gw.tensor(weights)).sum().backward()
        (expected * torch.tensor(weights)).sum().backward()
        if mode == "nearest" and len(shape) == 3 and "recompute_scale_factor" not in kwargs:
            continue  # torch's 1-D nearest backward disagrees with its forward (see docstring)
        np.testing.assert_allclose(to_numpy(x.grad), to_numpy(t.grad), atol=tol * 10)


def test_interpolate_errors():
    x = gw.zeros(1, 1, 4, 4)
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(x, size=2, scale_factor=2)
    with pytest.raises(ValueError, match="either size or scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="align_corners option"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(NotImplementedError, match="bilinear mode needs 4D"):
        F.interpolate(gw.zeros(1, 1, 4), scale_factor=2, mode="bilinear")
    with pytest.raises(ValueError, match="same number of spatial dimensions"):
        F.interpolate(x, size=(2, 2, 2))
    with pytest.raises(NotImplementedError, match="trilinear"):
        F.interpolate(x, scale_factor=2, mode="trilinear")


# ---------------------------------------------------------------- unfold / fold
def test_fold_of_unfold_counts_the_blocks_covering_each_pixel(torch):
    import torch.nn.functional as tf

    x = gw.tensor(np.random.default_rng(0).standard_normal((2, 3, 5, 6)).astype(np.float32))
    blocks = F.unfold(x, 3, padding=1)
    assert blocks.dtype == gw.float32 and blocks.shape == (2, 27, 30)
    back = F.fold(blocks, (5, 6), 3, padding=1)
    expected = tf.fold(tf.unfold(torch.tensor(to_numpy(x)), 3, padding=1), (5, 6), 3, padding=1)
    np.testing.assert_allclose(to_numpy(back), to_numpy(expected), rtol=1e-6)


def test_unfold_fold_errors():
    with pytest.raises(RuntimeError, match="at least one"):
        F.unfold(gw.zeros(1, 1, 2, 2), 3)
    with pytest.raises(RuntimeError, match="divisible by the product of kernel_size"):
        F.fold(gw.zeros(1, 5, 4), (3, 3), 2)
    with pytest.raises(RuntimeError, match="number of sliding blocks"):
        F.fold(gw.zeros(1, 4, 5), (3, 3), 2)
    with pytest.raises(RuntimeError, match="3D or 4D"):
        F.unfold(gw.zeros(2, 2), 1)
