"""Each fast kernel equals its reference (ops/kernels): the contract of the kernels layer."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest

import gradwork as gw
from gradwork.ops import kernels
from gradwork.ops.kernels import cpu, cpu_blas, cpu_conv, cpu_conv_shifted, reference
from tests.helpers import to_numpy

FAST = [name for name in kernels.BACKENDS if name != "reference"]
CONV_GEOMETRIES = [
    # (N, C, H, W), (O, kh, kw), stride, padding, dilation, groups
    ((2, 3, 7, 6), (4, 3, 3), (1, 1), (1, 1), (1, 1), 1),
    ((2, 3, 7, 6), (4, 3, 3), (1, 1), (0, 0), (1, 1), 1),
    ((1, 4, 9, 8), (6, 3, 2), (1, 1), (2, 1), (2, 1), 2),
    ((2, 2, 8, 8), (3, 3, 3), (2, 2), (1, 1), (1, 1), 1),
    ((2, 4, 9, 7), (4, 1, 1), (2, 1), (0, 0), (1, 1), 4),
    ((3, 1, 5, 5), (2, 5, 5), (1, 1), (2, 2), (1, 1), 1),
    # few inputs per output on a larger plane: cpu_conv's per-sample layout
    ((2, 1, 12, 11), (5, 3, 3), (1, 1), (1, 1), (1, 1), 1),
    ((2, 2, 17, 16), (3, 3, 3), (2, 2), (1, 1), (1, 1), 1),
    ((2, 3, 19, 13), (4, 2, 3), (2, 1), (2, 0), (2, 3), 1),
    ((1, 16, 15, 14), (6, 1, 1), (2, 2), (0, 0), (1, 1), 1),
    ((2, 1, 10, 10), (3, 5, 5), (3, 1), (4, 3), (1, 1), 1),  # padding wider than some windows
]


def test_the_conv_geometries_cover_every_cpu_layout():
    layouts = set()
    for x_shape, (out, kh, kw), stride, _, _, groups in CONV_GEOMETRIES:
        weight = np.empty((out, x_shape[1] // groups, kh, kw))
        layouts.add(cpu_conv._layout(np.empty(x_shape), weight, stride, groups))
    assert layouts == {"samples", "shifted", "widened", "reference"}


def _module(name):
    return kernels.BACKENDS[name]


@pytest.mark.parametrize("backend", FAST)
@pytest.mark.parametrize("geometry", CONV_GEOMETRIES)
@pytest.mark.parametrize("with_bias", [True, False])
def test_conv2d_kernels_equal_the_reference(backend, geometry, with_bias):
    x_shape, (out, kh, kw), stride, padding, dilation, groups = geometry
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape)
    weight = rng.standard_normal((out, x_shape[1] // groups, kh, kw))
    fast = _module(backend)
    bias = rng.standard_normal(out) if with_bias else None
    expected, saved = reference.conv2d_forward(x, weight, bias, stride, padding, dilation, groups)
    got, fast_saved = fast.conv2d_forward(x, weight, bias, stride, padding, dilation, groups)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert got.flags.c_contiguous
    grad = rng.standard_normal(expected.shape)
    for need_x, need_w in itertools.product((True, False), repeat=2):
        want = reference.conv2d_backward(saved, weight, grad, stride, padding, dilation, groups,
                                         need_x, need_w)  # fmt: skip
        have = fast.conv2d_backward(fast_saved, weight, grad, stride, padding, dilation, groups,
                                    need_x, need_w)  # fmt: skip
        for a, b, needed in zip(have, want, (need_x, need_w), strict=True):
            assert (a is None) == (not needed)
            if needed:
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def _random_conv_geometry(rng):
    """(x shape, weight shape, stride, padding, dilation), at least one output, any padding."""
    while True:
        n, c, o = rng.integers(1, 5, 3)
        kh, kw = rng.integers(1, 5, 2)
        dh, dw = rng.integers(1, 3, 2)
        ph, pw = rng.integers(0, 5, 2)
        h, w = rng.integers(1, 11, 2)
        if h + 2 * ph > dh * (kh - 1) and w + 2 * pw > dw * (kw - 1):
            padding, dilation = (int(ph), int(pw)), (int(dh), int(dw))
            stride = tuple(int(s) for s in rng.integers(1, 4, 2)) if rng.random() < 0.5 else (1, 1)
            return (n, c, h, w), (o, c, kh, kw), stride, padding, dilation


@pytest.mark.skipif(not cpu_blas.available(), reason="NumPy's OpenBLAS exposes no cblas here")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_shifted_convolution_equals_the_reference_on_random_geometries(dtype):
    """cpu_conv_shifted (kh*kw GEMMs on shifted views) against reference.conv2d_*, 80 geometries:
    half stride 1 (the shared-gap grid), half strides up to 3 (phase planes)."""
    rng = np.random.default_rng(11)
    tolerance = 1e-11 if dtype == np.float64 else 2e-4
    for _ in range(80):
        x_shape, w_shape, stride, padding, dilation = _random_conv_geometry(rng)
        x, weight = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
        bias = rng.standard_normal(w_shape[0]) if rng.random() < 0.5 else None
        geometry = (stride, padding, dilation, 1)
        expected, saved = reference.conv2d_forward(x, weight, bias, *geometry)
        x, weight = x.astype(dtype), weight.astype(dtype)
        bias = None if bias is None else bias.astype(dtype)
        got, shifted_saved = cpu_conv_shifted.conv2d_forward(
            x, weight, bias, stride, padding, dilation
        )
        assert got.dtype == dtype and got.flags.c_contiguous
        np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)
        grad = rng.standard_normal(expected.shape)
        want = reference.conv2d_backward(saved, weight.astype(np.float64), grad, *geometry,
                                         True, True)  # fmt: skip
        have = cpu_conv_shifted.conv2d_backward(shifted_saved, weight, grad.astype(dtype),
                                                True, True)  # fmt: skip
        for a, b in zip(have, want, strict=True):
            assert a.dtype == dtype and a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=tolerance, atol=tolerance * 10)


@pytest.mark.skipif(not cpu_blas.available(), reason="NumPy's OpenBLAS exposes no cblas here")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gemm_into_adds_a_product_of_strided_windows(dtype):
    rng = np.random.default_rng(5)
    wide = rng.standard_normal((6, 40)).astype(dtype)
    a = rng.standard_normal((4, 6)).astype(dtype)
    c = rng.standard_normal((3, 4, 30)).astype(dtype)
    before = c.copy()
    cpu_blas.gemm_into(a, wide[:, 7:27], c[1, :, 5:25])  # windows of longer rows, beta = 1
    expected = before.copy()
    expected[1, :, 5:25] += a @ wide[:, 7:27]
    np.testing.assert_allclose(c, expected, rtol=1e-5, atol=1e-5)  # nothing outside changed
    out = np.full((4, 6), np.nan, dtype)  # beta = 0 ignores what was there (even NaN)
    cpu_blas.gemm_into(wide[:4, 3:23], wide[:, 11:31].T, out, beta=0.0)  # a transposed window
    np.testing.assert_allclose(out, wide[:4, 3:23] @ wide[:, 11:31].T, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="do not match"):
        cpu_blas.gemm_into(a, wide, out)
    with pytest.raises(TypeError, match="one dtype"):
        cpu_blas.gemm_into(a.astype(np.float16), wide[:, :4], c[0, :, :4])


@pytest.mark.skipif(not cpu_blas.available(), reason="NumPy's OpenBLAS exposes no cblas here")
def test_gemm_series_moves_each_view_and_refuses_to_leave_the_array():
    rng = np.random.default_rng(6)
    stack = rng.standard_normal((3, 4, 5))  # a_k = stack[k]
    wide = rng.standard_normal((5, 30))  # b_k = wide[:, s : s + 20]
    out = rng.standard_normal((4, 20))
    expected = out * 0 + stack[0] @ wide[:, 2:22]  # the first product writes (beta 0)
    expected += stack[1] @ wide[:, 7:27] + stack[2] @ wide[:, 10:30]
    steps = [(0, 2, 0), (20, 7, 0), (40, 10, 0)]
    cpu_blas.gemm_series(stack[0], wide[:, :20], out, steps, first_beta=0.0)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="leaves its array"):
        cpu_blas.gemm_series(stack[0], wide[:, :20], out, [(0, 11, 0)])


def test_without_cblas_the_stride_one_layers_fall_back_to_the_widened_grid(monkeypatch):
    monkeypatch.setattr(cpu_blas, "_gemms", {})  # as when no cblas symbol was found
    rng = np.random.default_rng(2)
    x, weight = rng.standard_normal((2, 4, 6, 5)), rng.standard_normal((3, 4, 3, 3))
    assert cpu_conv._layout(x, weight, (1, 1), 1) == "widened"
    got, saved = cpu_conv.conv2d_forward(x, weight, None, (1, 1), (1, 1), (1, 1), 1)
    expected, _ = reference.conv2d_forward(x, weight, None, (1, 1), (1, 1), (1, 1), 1)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert saved[0] == "widened"


POOL_GEOMETRIES = [
    # (N, C, H, W), kernel, stride, padding, dilation, ceil_mode
    ((2, 3, 8, 8), (2, 2), (2, 2), (0, 0), (1, 1), False),
    ((2, 3, 9, 7), (3, 3), (2, 2), (1, 1), (1, 1), False),
    ((1, 2, 9, 7), (3, 2), (2, 1), (1, 0), (2, 1), True),
    ((2, 2, 5, 5), (2, 2), (1, 1), (0, 0), (1, 1), False),
    ((1, 1, 7, 7), (3, 3), (3, 3), (1, 1), (1, 1), True),
    # disjoint windows (kernel == stride): cpu's tiled form, also when they leave rows out
    ((2, 2, 7, 9), (2, 2), (2, 2), (0, 0), (1, 1), False),
    ((1, 2, 9, 9), (3, 3), (3, 3), (0, 0), (1, 1), False),
    ((2, 3, 6, 9), (2, 4), (2, 4), (0, 0), (1, 1), False),
    ((2, 2, 3, 4), (1, 1), (1, 1), (0, 0), (1, 1), False),
    ((1, 2, 7, 7), (2, 2), (2, 2), (0, 0), (1, 1), True),  # ceil_mode's partial windows
]


@pytest.mark.parametrize("backend", FAST)
@pytest.mark.parametrize("geometry", POOL_GEOMETRIES)
@pytest.mark.parametrize("ties", [False, True])
def test_max_pool2d_kernels_equal_the_reference(backend, geometry, ties):
    x_shape, kernel, stride, padding, dilation, ceil_mode = geometry
    rng = np.random.default_rng(1)
    x = rng.standard_normal(x_shape)
    if ties:  # after a ReLU most windows tie at zero: the FIRST maximum must win in both
        x = np.maximum(np.round(x), 0)
    fast = _module(backend)
    expected, saved = reference.max_pool2d_forward(x, kernel, stride, padding, dilation, ceil_mode)
    got, fast_saved = fast.max_pool2d_forward(x, kernel, stride, padding, dilation, ceil_mode)
    np.testing.assert_array_equal(got, expected)
    grad = rng.standard_normal(expected.shape)
    np.testing.assert_allclose(
        fast.max_pool2d_backward(fast_saved, grad),
        reference.max_pool2d_backward(saved, grad),
        rtol=1e-12,
        atol=1e-12,
    )


def test_max_pool2d_without_a_graph_keeps_nothing_for_backward():
    x = np.random.default_rng(6).standard_normal((2, 3, 8, 8))
    for geometry in (((2, 2), (2, 2), (0, 0)), ((3, 3), (2, 2), (1, 1))):
        with gw.no_grad():
            out, saved = cpu.max_pool2d_forward(x, *geometry, (1, 1), False)
        assert saved is None
        np.testing.assert_array_equal(
            out, reference.max_pool2d_forward(x, *geometry, (1, 1), False)[0]
        )


@pytest.mark.parametrize("backend", FAST)
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_kernels_equal_the_reference(backend, amsgrad, dtype):
    rng = np.random.default_rng(2)
    arrays = {}
    for name in ("param", "grad", "m", "v", "v_max"):
        arrays[name] = rng.standard_normal(1000).astype(dtype)
    arrays["v"], arrays["v_max"] = np.abs(arrays["v"]), np.abs(arrays["v_max"])
    twins = {name: a.copy() for name, a in arrays.items()}
    scalars = dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, step=3.0)
    for state, module in ((arrays, reference), (twins, _module(backend))):
        v_max = state["v_max"] if amsgrad else None
        module.adam_step(state["param"], state["grad"], state["m"], state["v"], v_max, **scalars)
    tolerance = 1e-6 if dtype == np.float32 else 1e-14
    for name in arrays:
        np.testing.assert_allclose(twins[name], arrays[name], rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("backend", FAST)
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(300, 500), (2, 4096), (3, 5)])  # rows and a tail, exact, short
def test_relu_kernels_equal_the_reference(backend, layout, dtype, shape):
    rng = np.random.default_rng(4)
    a = np.round(rng.standard_normal(shape), 1).astype(dtype)  # exact zeros too
    a[0, :3] = [np.nan, np.inf, -np.inf]
    a[-1, -2:] = [-0.0, np.nan]  # the tail's last element, and a signed zero
    grad = rng.standard_normal(a.shape).astype(dtype)
    if layout == "transposed":
        a, grad = a.T, grad.T
    fast = _module(backend)
    out = fast.relu_forward(a)
    expected = reference.relu_forward(a)
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == dtype and out.shape == a.shape
    assert np.array_equal(np.signbit(out), np.signbit(expected))
    grad_in = fast.relu_backward(grad, out)
    np.testing.assert_array_equal(grad_in, reference.relu_backward(grad, out))
    assert grad_in.dtype == dtype


def test_set_num_threads_checks_its_argument_and_round_trips():
    before = gw.get_num_threads()
    with pytest.raises(ValueError, match="positive int"):
        gw.set_num_threads(0)
    gw.set_num_threads(1)
    try:
        assert gw.get_num_threads() == 1
    finally:
        gw.set_num_threads(before)


@pytest.mark.parametrize("backend", FAST)
@pytest.mark.parametrize("shape", [(8, 5, 6, 7), (16, 3), (4, 6, 9)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_kernels_equal_the_reference(backend, shape, affine):
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape) * 3 + 1
    weight = rng.standard_normal(shape[1]) if affine else None
    bias = rng.standard_normal(shape[1]) if affine else None
    fast = _module(backend)
    expected = reference.batch_norm_forward(x, weight, bias, 1e-5)
    got = fast.batch_norm_forward(x, weight, bias, 1e-5)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    grad = rng.standard_normal(shape)
    xhat, invstd = expected[1], expected[2]
    for need_x in (True, False):
        want = reference.batch_norm_backward(grad, xhat, invstd, weight, need_x)
        have = fast.batch_norm_backward(grad, xhat, invstd, weight, need_x)
        assert (have[0] is None) == (not need_x)
        for a, b in zip(have, want, strict=True):
            if b is not None:
                np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("backend", FAST)
@pytest.mark.parametrize("shape", [(8, 5, 6, 7), (16, 3), (4, 6, 9)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_channel_sums_equal_the_reference(backend, shape, dtype):
    a = np.random.default_rng(4).standard_normal(shape).astype(dtype)
    a[0, 1, ...] = np.nan  # a NaN stays in its channel
    got, want = _module(backend).channel_sums(a), reference.channel_sums(a)
    assert got.shape == (shape[1],) and got.dtype == dtype
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12)
    assert np.isnan(got[1]) and not np.isnan(np.delete(got, 1)).any()


def test_every_backend_exposes_every_kernel():
    for name, module in kernels.BACKENDS.items():
        missing = [k for k in kernels.KERNELS if not callable(getattr(module, k, None))]
        assert not missing, f"kernels {name!r} lacks {missing}"


def test_a_cnn_step_gives_the_same_gradients_on_every_backend():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 2, 8, 8))
    weight = rng.standard_normal((3, 2, 3, 3))
    results = {}
    for name in kernels.BACKENDS:
        with kernels.using(name):
            xt = gw.tensor(x, requires_grad=True)
            wt = gw.tensor(weight, requires_grad=True)
            out = gw.nn.functional.max_pool2d(gw.nn.functional.conv2d(xt, wt, padding=1).relu(), 2)
            (out * out).sum().backward()
            results[name] = (to_numpy(out), to_numpy(xt.grad), to_numpy(wt.grad))
    for name in FAST:
        for got, want in zip(results[name], results["reference"], strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_an_unknown_backend_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="choose one of"):
        kernels.use("fortran")
    assert kernels.backend_name() == os.environ.get("GRADWORK_KERNELS", kernels.DEFAULT)


def test_the_compiled_kernels_are_the_default_when_numba_is_installed():
    try:
        import numba  # noqa: F401
    except ImportError:
        assert kernels.DEFAULT == "cpu" and "numba" not in kernels.BACKENDS
    else:
        assert kernels.DEFAULT == "numba"
    assert kernels.backend_name() == os.environ.get("GRADWORK_KERNELS", kernels.DEFAULT)
    assert kernels.BACKENDS["cpu"] is cpu


@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_eval_without_a_graph_equals_the_graph_path(affine):
    """Without a graph, eval-mode batch norm folds into x * scale + shift: the same values."""
    rng = np.random.default_rng(7)
    bn = gw.nn.BatchNorm2d(3, affine=affine).double()
    bn.running_mean.copy_(gw.tensor(rng.standard_normal(3)))
    bn.running_var.copy_(gw.tensor(rng.uniform(0.5, 2.0, 3)))
    if affine:
        bn.weight.data.copy_(gw.tensor(rng.standard_normal(3)))
        bn.bias.data.copy_(gw.tensor(rng.standard_normal(3)))
    bn.eval()
    x = gw.tensor(rng.standard_normal((4, 3, 5, 5)) * 2 + 1)
    with_graph = to_numpy(bn(x.clone().requires_grad_()))
    with gw.no_grad():
        folded = to_numpy(bn(x))
    np.testing.assert_allclose(folded, with_graph, rtol=1e-12, atol=1e-12)
