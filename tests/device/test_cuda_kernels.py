"""kernels/cuda.py: each fused device kernel against the reference, on random inputs.

On the CPU stand-in a fused kernel runs its plain body on stand-in arrays,
the same NumPy operations in the same order as the reference, so results
must be IDENTICAL; `_standin.FUSED_CALLS` shows the fused path was taken.
With CuPy and a GPU present the same checks also run on CuPy (within a
float tolerance: nvrtc contracts a*b+c into FMA), which is how
benchmarks/gpu_check.sh validates them on a real device.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import gradwork as gw
from gradwork import _arrays, _standin, nn
from gradwork.ops import kernels
from gradwork.ops.kernels import cuda, cuda_fusion, reference

pytestmark = pytest.mark.usefixtures("standin")


def _cupy_or_none():
    try:
        import cupy  # noqa: PLC0415 - optional

        return cupy if cupy.cuda.runtime.getDeviceCount() > 0 else None
    except Exception:  # noqa: BLE001 - no CuPy, no driver, no GPU
        return None


CUPY = _cupy_or_none()
NAMESPACES = [_standin] + ([CUPY] if CUPY is not None else [])
DTYPES = [np.float32, np.float64]


@pytest.fixture(params=NAMESPACES, ids=lambda xp: xp.__name__.split(".")[-1])
def xp(request):
    if request.param is CUPY:
        _arrays.register(CUPY.ndarray, CUPY)  # xp_of must know CuPy arrays beside the stand-in
    _standin.FUSED_CALLS.clear()
    return request.param


def _check(xp, got, want):
    """Identical on the stand-in; within rounding on CuPy (FMA contraction)."""
    assert type(got) is xp.ndarray, f"a kernel result left the device: {type(got)}"
    host = xp.asnumpy(got)
    assert host.dtype == want.dtype
    if xp is _standin:
        np.testing.assert_array_equal(host, want)
    else:
        rtol = 1e-5 if want.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(host, want, rtol=rtol, atol=rtol)


def _fused(name):
    return _standin.FUSED_CALLS.get(f"gradwork_{name}", 0)


def test_dispatch_sends_device_arrays_to_cuda_and_numpy_to_the_cpu_module(xp):
    assert kernels.DEVICE is cuda and kernels.device_backend_name() == "cuda"
    assert kernels._for(xp.ones(2)) is cuda
    assert kernels._for(np.ones(2)) is kernels.BACKENDS[kernels.backend_name()]


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_backward(xp, dtype):
    rng = np.random.default_rng(0)
    out = np.maximum(rng.standard_normal((3, 5, 4)), 0).astype(dtype)
    out[0, 0, :2] = np.nan, 0.0  # NaN passes its gradient, 0 does not
    grad = rng.standard_normal(out.shape).astype(dtype)
    got = kernels.relu_backward(xp.asarray(grad), xp.asarray(out))
    _check(xp, got, reference.relu_backward(grad, out))
    assert xp is not _standin or _fused("relu_backward") == 1


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", ["both", "weight", "bias", "none"])
def test_batch_norm_forward_and_backward(xp, dtype, affine):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((4, 3, 5, 2)) * 3 + 1).astype(dtype)
    weight = rng.standard_normal(3).astype(dtype) if affine in ("both", "weight") else None
    bias = rng.standard_normal(3).astype(dtype) if affine in ("both", "bias") else None
    on_device = [None if a is None else xp.asarray(a) for a in (x, weight, bias)]
    want = reference.batch_norm_forward(x, weight, bias, 1e-5)
    got = kernels.batch_norm_forward(*on_device, 1e-5)
    for a, b in zip(got, want, strict=True):
        _check(xp, a, b)
    grad = rng.standard_normal(x.shape).astype(dtype)
    want_back = reference.batch_norm_backward(grad, want[1], want[2], weight, True)
    got_back = kernels.batch_norm_backward(xp.asarray(grad), got[1], got[2], on_device[1], True)
    for a, b in zip(got_back, want_back, strict=True):
        _check(xp, a, b)
    if xp is _standin:
        assert _fused("normalise_affine") == 1 and _fused("batch_norm_input_grad") == 1
        assert _fused("squared_deviation") == 1 and _fused("inverse_std") == 1


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_step_in_place(xp, dtype, amsgrad):
    rng = np.random.default_rng(2)
    param, grad, m = (rng.standard_normal((6, 7)).astype(dtype) for _ in range(3))
    v = np.abs(rng.standard_normal((6, 7))).astype(dtype)
    v_max = (v + np.abs(rng.standard_normal((6, 7)))).astype(dtype) if amsgrad else None
    host = [param, grad, m, v, v_max]
    device = [None if a is None else xp.asarray(a) for a in host]
    for step in (1, 2, 7):  # the bias corrections change with the step
        reference.adam_step(*host, 3e-3, 0.9, 0.999, 1e-8, step)
        kernels.adam_step(*device, 3e-3, 0.9, 0.999, 1e-8, step)
    for got, want in zip(device, host, strict=True):
        if want is not None:
            _check(xp, got, want)
    if xp is _standin:
        assert _fused("amsgrad_update" if amsgrad else "adam_update") == 3


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 2, 3)])
def test_softmax_minus_target(xp, dtype, shape):
    rng = np.random.default_rng(3)
    logits = rng.standard_normal(shape).astype(dtype)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    target = rng.integers(0, shape[1], (shape[0],) + shape[2:])
    amount = rng.uniform(0.5, 2, (shape[0], 1) + shape[2:]).astype(dtype)
    want = kernels.softmax_minus_target(log_p, target, amount)  # NumPy: multiply + scatter
    got = kernels.softmax_minus_target(*(xp.asarray(a) for a in (log_p, target, amount)))
    _check(xp, got, want)
    # and it is cross-entropy's gradient: softmax minus one-hot, scaled
    onehot = np.moveaxis(np.eye(shape[1], dtype=dtype)[target], -1, 1)
    np.testing.assert_allclose(want, (np.exp(log_p) - onehot) * amount, rtol=1e-5, atol=1e-6)
    assert xp is not _standin or _fused("softmax_minus_target") == 1


def test_conv_and_pooling_stay_the_reference_and_run_on_the_namespace(xp):
    # CuPy v14 has no cuDNN: conv is im2col (as_strided + one copy) and a GEMM on the device.
    assert cuda.conv2d_forward is reference.conv2d_forward
    assert cuda.max_pool2d_forward is reference.max_pool2d_forward
    rng = np.random.default_rng(4)
    x, weight = rng.standard_normal((2, 4, 6, 5)), rng.standard_normal((6, 2, 3, 3))
    want, _ = reference.conv2d_forward(x, weight, None, (2, 1), (1, 1), (1, 2), 2)
    got, saved = kernels.conv2d_forward(xp.asarray(x), xp.asarray(weight), None, (2, 1),
                                        (1, 1), (1, 2), 2)  # fmt: skip
    assert type(saved[0]) is xp.ndarray  # the columns were built on the device
    np.testing.assert_allclose(xp.asnumpy(got), want, rtol=1e-12, atol=1e-12)


def test_the_reference_switch_runs_device_arrays_unfused(xp):
    try:
        kernels.use_device("reference")
        assert kernels._for(xp.ones(2)) is reference and not cuda_fusion.ENABLED
        grad, out = xp.asarray([1.0, 2.0]), xp.asarray([0.0, 3.0])
        np.testing.assert_array_equal(xp.asnumpy(cuda.relu_backward(grad, out)), [0.0, 2.0])
        assert _standin.FUSED_CALLS == {}
    finally:
        kernels.use_device("cuda")
    with pytest.raises(ValueError, match="unknown device kernels 'cudnn'"):
        kernels.use_device("cudnn")


def _failing_fuse(*args, kernel_name=None):
    def decorate(function):
        def compiled(*call_args):
            raise RuntimeError(f"nvrtc: error compiling {kernel_name} (simulated)")

        return compiled

    return decorate


def test_a_fuse_that_fails_warns_once_and_gives_the_right_answer(monkeypatch):
    monkeypatch.setattr(_standin, "fuse", _failing_fuse)
    monkeypatch.setattr(cuda.ADAM, "_fused", {})
    monkeypatch.setattr(cuda.ADAM, "_failed", set())
    rng = np.random.default_rng(5)
    host = [rng.standard_normal(8), rng.standard_normal(8), np.zeros(8), np.zeros(8), None]
    device = [None if a is None else _standin.asarray(a) for a in host]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for step in (1, 2):
            reference.adam_step(*host, 1e-2, 0.9, 0.999, 1e-8, step)
            kernels.adam_step(*device, 1e-2, 0.9, 0.999, 1e-8, step)
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1 and "'adam_update'" in messages[0] and "simulated" in messages[0]
    for got, want in zip(device, host, strict=True):
        if want is not None:
            np.testing.assert_array_equal(got.get(), want)


def test_bad_input_raises_without_switching_fusion_off():
    kernel = cuda_fusion.FusedKernel("add_test", lambda xp: lambda a, b: a + b)
    with pytest.raises(ValueError):
        kernel(_standin.ones(3), _standin.ones(4))
    assert not kernel._failed
    _standin.FUSED_CALLS.clear()
    kernel(_standin.ones(3), _standin.ones(3))
    assert _standin.FUSED_CALLS == {"gradwork_add_test": 1}


def _trained(device, optimizer_class, **options):
    gw.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7), nn.BatchNorm1d(7), nn.ReLU(), nn.Linear(7, 3))
    model = model.double().to(device)
    optimizer = optimizer_class(model.parameters(), lr=0.01, **options)
    rng = np.random.default_rng(6)
    for _ in range(3):
        x = gw.tensor(rng.standard_normal((8, 5)), device=device)
        target = gw.tensor(rng.integers(0, 3, 8), device=device)
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), target).backward()
        optimizer.step()
    return [p.detach().cpu().numpy() for p in model.parameters()]


@pytest.mark.parametrize(
    "optimizer_class, options",
    [
        (gw.optim.Adam, {}),
        (gw.optim.AdamW, {"weight_decay": 0.1}),
        (gw.optim.Adam, {"amsgrad": True}),
    ],  # fmt: skip
)
def test_training_steps_on_the_device_equal_the_cpu_steps(optimizer_class, options):
    _standin.FUSED_CALLS.clear()
    on_device = _trained("cuda", optimizer_class, **options)
    # one fused update per group and step: the optimizer's flat buffer, in one piece
    assert _fused("amsgrad_update" if options.get("amsgrad") else "adam_update") == 3
    assert _fused("softmax_minus_target") == 3 and _fused("relu_backward") == 3
    with kernels.using("reference"):  # the CPU on the reference kernels: the same roundings
        exact = _trained("cpu", optimizer_class, **options)
    for got, want in zip(on_device, exact, strict=True):
        np.testing.assert_array_equal(got, want)
    # the fast CPU kernels (cpu.py) round differently; Adam's early steps amplify that
    for got, want in zip(on_device, _trained("cpu", optimizer_class, **options), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)


def test_a_large_group_is_updated_by_one_kernel_on_the_device():
    # On the CPU the flat update goes in cache-sized chunks; on a device in one piece.
    params = [gw.zeros(gw.optim.optimizer.CHUNK + 5, device="cuda", requires_grad=True),
              gw.zeros(3, device="cuda", requires_grad=True)]  # fmt: skip
    optimizer = gw.optim.Adam(params, lr=0.1)
    for p in params:
        p.grad = gw.ones_like(p)
    _standin.FUSED_CALLS.clear()
    optimizer.step()
    assert _fused("adam_update") == 1
    np.testing.assert_allclose(params[0].detach().cpu().numpy(), -0.1, rtol=1e-6)


def test_a_compiled_step_replays_the_fused_kernels_on_the_device():
    def run(compiled):
        gw.manual_seed(0)
        model = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3)).to("cuda")
        optimizer = gw.optim.Adam(model.parameters(), lr=0.01)

        def step(x, y):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            return loss

        run_step = gw.compile(step) if compiled else step
        rng = np.random.default_rng(7)
        x = gw.tensor(rng.standard_normal((8, 5)).astype(np.float32), device="cuda")
        y = gw.tensor(rng.integers(0, 3, 8), device="cuda")
        _standin.FUSED_CALLS.clear()
        for _ in range(4):
            run_step(x, y)
        assert _fused("adam_update") == 4 and _fused("softmax_minus_target") == 4
        assert not compiled or run_step.stats["replays"] == 3
        return [p.detach().cpu().numpy() for p in model.parameters()]

    for got, want in zip(run(True), run(False), strict=True):
        np.testing.assert_array_equal(got, want)
