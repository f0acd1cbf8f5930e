"""The compiled max pooling and ReLU kernels (ops/kernels/cpu_numba_pool.py) equal the reference:
bit-identical values, torch's rule for NaN, the same on one thread and on two."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")

import gradwork as gw  # noqa: E402
from gradwork.ops.kernels import compiled, cpu, reference  # noqa: E402
from gradwork.ops.kernels import cpu_numba_pool as pool  # noqa: E402

TILES = [
    # (N, C, H, W): 2x2 windows, stride 2, the compiled kernels
    (2, 3, 8, 8),
    (2, 3, 7, 9),  # odd: a row and a column no window reads
    (1, 2, 2, 3),
    (3, 1, 10, 6),
]
OTHER_WINDOWS = [
    # (N, C, H, W), kernel, stride, padding, dilation, ceil_mode: cpu.py's kernels
    ((1, 2, 7, 7), (2, 2), (2, 2), (0, 0), (1, 1), True),  # ceil_mode's partial windows
    ((2, 3, 9, 7), (3, 3), (2, 2), (1, 1), (1, 1), False),
    ((1, 2, 9, 7), (3, 2), (2, 1), (1, 0), (2, 1), True),
    ((2, 2, 5, 5), (2, 2), (1, 1), (0, 0), (1, 1), False),
    ((1, 2, 9, 9), (3, 3), (3, 3), (0, 0), (1, 1), False),
    ((2, 2, 8, 8), (2, 2), (2, 2), (1, 1), (1, 1), False),  # 2x2 but padded
    ((2, 2, 8, 8), (2, 2), (2, 2), (0, 0), (2, 2), False),  # 2x2 but dilated
]
TILE = ((2, 2), (2, 2), (0, 0), (1, 1), False)
LARGE = (4, 8, 32, 34)  # >= compiled.PARALLEL_MIN elements


def _input(shape, dtype, kind, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if kind == "ties":  # after a ReLU most windows tie at zero: the FIRST maximum wins
        x = np.maximum(np.round(x), 0)
    elif kind == "inf":  # windows of -inf only, and +inf
        x = np.round(x)
        x[x < -1] = -np.inf
        x[x > 1.5] = np.inf
    return x.astype(dtype)


def _check_tiles(x):
    expected, saved = reference.max_pool2d_forward(x, *TILE)
    got, ours = pool.max_pool2d_forward(x, *TILE)
    assert ours[0] == "tiles"
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == x.dtype and got.flags.c_contiguous
    grad = np.random.default_rng(9).standard_normal(got.shape).astype(x.dtype)
    grad.reshape(-1)[:4] = [-0.0, np.inf, 0.0, np.nan][: grad.size]
    want = reference.max_pool2d_backward(saved, grad)
    have = pool.max_pool2d_backward(ours, grad)
    assert have.dtype == x.dtype and have.shape == x.shape
    np.testing.assert_array_equal(have, want)  # the reference's 0 + g: bit-identical,
    assert np.array_equal(np.signbit(have), np.signbit(want))  # signed zeros included
    return got, have


@pytest.mark.parametrize("shape", TILES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["random", "ties", "inf"])
def test_max_pool_over_2x2_tiles_equals_the_reference(shape, dtype, kind):
    _check_tiles(_input(shape, dtype, kind))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_on_a_large_input_is_the_same_on_one_and_two_threads(dtype):
    x = _input(LARGE, dtype, "ties", seed=3)
    assert x.size >= compiled.PARALLEL_MIN
    before = gw.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            gw.set_num_threads(threads)
            results.append(_check_tiles(x))
    finally:
        gw.set_num_threads(before)
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("geometry", OTHER_WINDOWS)
@pytest.mark.parametrize("kind", ["random", "ties", "inf"])
def test_other_windows_run_cpu_kernels_and_equal_the_reference(geometry, kind):
    shape, *rest = geometry
    x = _input(shape, np.float64, kind)
    expected, saved = reference.max_pool2d_forward(x, *rest)
    got, ours = pool.max_pool2d_forward(x, *rest)
    assert ours[0] == "cpu"
    np.testing.assert_array_equal(got, expected)
    grad = np.random.default_rng(9).standard_normal(got.shape)
    np.testing.assert_allclose(
        pool.max_pool2d_backward(ours, grad),
        reference.max_pool2d_backward(saved, grad),
        rtol=1e-12,
        atol=1e-12,
    )


@pytest.mark.parametrize("shape", [TILES[0], TILES[1], LARGE])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_nan_wins_its_window_and_its_last_nan_takes_the_gradient_as_in_torch(shape, dtype):
    torch = pytest.importorskip("torch")
    x = _input(shape, dtype, "ties", seed=5)
    x.reshape(-1)[::7] = np.nan
    x[0, 0, :2, :2] = np.nan  # a window of NaNs only
    got, ours = pool.max_pool2d_forward(x, *TILE)
    xt = torch.tensor(x, requires_grad=True)
    want = torch.nn.functional.max_pool2d(xt, 2)
    want.backward(torch.ones_like(want))
    np.testing.assert_array_equal(got, want.detach().numpy())  # NaN where torch has one
    np.testing.assert_array_equal(
        pool.max_pool2d_backward(ours, np.ones_like(got)), xt.grad.numpy()
    )


@pytest.mark.parametrize("shape", [TILES[0], TILES[1], (2, 3, 7, 7)])
def test_without_a_graph_nothing_is_kept(shape):
    x = _input(shape, np.float32, "random")
    for geometry in (TILE, ((3, 3), (2, 2), (1, 1), (1, 1), False)):
        with gw.no_grad():
            out, saved = pool.max_pool2d_forward(x, *geometry)
        assert saved is None
        np.testing.assert_array_equal(out, reference.max_pool2d_forward(x, *geometry)[0])


def test_other_dtypes_and_layouts_run_cpu_kernels():
    x = _input((2, 2, 6, 6), np.float64, "ties")
    for image in (x.astype(np.float16), x.astype(np.float32).transpose(0, 1, 3, 2)):
        out, saved = pool.max_pool2d_forward(image, *TILE)
        assert saved[0] == "cpu"
        want, want_saved = cpu.max_pool2d_forward(image, *TILE)
        np.testing.assert_array_equal(out, want)
        grad = np.ones_like(out)
        np.testing.assert_array_equal(
            pool.max_pool2d_backward(saved, grad), cpu.max_pool2d_backward(want_saved, grad)
        )


def test_a_non_contiguous_gradient_is_accepted():
    x = _input((2, 3, 8, 8), np.float32, "random")
    out, saved = pool.max_pool2d_forward(x, *TILE)
    grad = np.ascontiguousarray(
        np.arange(out.size, dtype=np.float32).reshape(out.shape).transpose(0, 1, 3, 2)
    ).transpose(0, 1, 3, 2)
    assert not grad.flags.c_contiguous
    expected = reference.max_pool2d_backward(reference.max_pool2d_forward(x, *TILE)[1], grad)
    np.testing.assert_array_equal(pool.max_pool2d_backward(saved, grad), expected)


# -- ReLU --------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 5), (300, 500)])  # one thread; PARALLEL_MIN or more
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
@pytest.mark.parametrize("threads", [1, 2])
def test_relu_equals_the_reference(dtype, shape, layout, threads):
    rng = np.random.default_rng(4)
    a = np.round(rng.standard_normal(shape), 1).astype(dtype)  # exact zeros too
    a[0, :3] = [np.nan, np.inf, -np.inf]
    a[-1, -2:] = [-0.0, np.nan]
    grad = rng.standard_normal(shape).astype(dtype)
    grad[0, :2] = [np.inf, np.nan]  # times a zero mask: NaN, as in the reference
    grad[1, :2] = [-0.0, -1.0]
    if layout == "transposed":
        a, grad = a.T, grad.T
    before = gw.get_num_threads()
    try:
        gw.set_num_threads(threads)
        out = pool.relu_forward(a)
        grad_in = pool.relu_backward(grad, out)
    finally:
        gw.set_num_threads(before)
    expected = reference.relu_forward(a)
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == dtype and out.shape == a.shape
    assert np.array_equal(np.signbit(out), np.signbit(expected))  # -0.0 -> 0.0 as NumPy's
    want = reference.relu_backward(grad, out)
    np.testing.assert_array_equal(grad_in, want)
    assert np.array_equal(np.signbit(grad_in), np.signbit(want)) and grad_in.dtype == dtype


def test_relu_backward_takes_the_reference_mask_for_any_output():
    out = np.array([-1.0, 0.0, -0.0, 2.0, np.nan])  # not a ReLU's output: out <= 0 decides
    grad = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_array_equal(pool.relu_backward(grad, out), reference.relu_backward(grad, out))
