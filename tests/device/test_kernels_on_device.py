"""The kernels layer on device arrays: dispatch by array type, and the xp-generic reference.

`gradwork.ops.kernels` sends NumPy arrays to the selected CPU module and
device arrays to `kernels.DEVICE` (kernels/cuda.py: fused elementwise chains,
the xp-generic reference for conv and pooling). Each
kernel is called here through the dispatcher with stand-in arrays and must
give the CPU fast kernel's numbers, as device arrays.
"""

from __future__ import annotations

import numpy as np
import pytest

from gradwork import _standin as xp
from gradwork.ops import kernels

pytestmark = pytest.mark.usefixtures("standin")  # xp_of knows stand-in arrays only while it is on


def _device(*arrays):
    return [None if a is None else xp.asarray(a) for a in arrays]


def _host(value):
    if isinstance(value, tuple):
        return tuple(_host(v) for v in value)
    if value is None:
        return None
    assert isinstance(value, xp.ndarray), f"a kernel result left the device: {type(value)}"
    return value.get()


def test_device_arrays_go_to_the_device_module_and_numpy_to_the_cpu_one():
    assert kernels._for(np.ones(2)) is kernels.BACKENDS[kernels.backend_name()]
    assert kernels._for(xp.ones(2)) is kernels.DEVICE


@pytest.mark.parametrize(
    "groups, stride, padding, dilation", [(1, (1, 1), (1, 1), (1, 1)), (2, (2, 1), (0, 1), (1, 2))]
)
def test_conv2d_on_the_device(groups, stride, padding, dilation):
    rng = np.random.default_rng(0)
    x, weight, bias = (
        rng.standard_normal((2, 4, 7, 6)),
        rng.standard_normal((4, 4 // groups, 3, 2)),
        rng.standard_normal(4),
    )  # noqa: E501
    want, saved = kernels.conv2d_forward(x, weight, bias, stride, padding, dilation, groups)
    got, device_saved = kernels.conv2d_forward(*_device(x, weight, bias), stride, padding,
                                               dilation, groups)  # fmt: skip
    np.testing.assert_allclose(_host(got), want, rtol=1e-12, atol=1e-12)
    grad = rng.standard_normal(want.shape)
    want = kernels.conv2d_backward(saved, weight, grad, stride, padding, dilation, groups,
                                   True, True)  # fmt: skip
    got = kernels.conv2d_backward(device_saved, *_device(weight, grad), stride, padding,
                                  dilation, groups, True, True)  # fmt: skip
    for a, b in zip(_host(got), want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_max_pool_relu_and_batch_norm_on_the_device():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 7, 6))
    want, saved = kernels.max_pool2d_forward(x, (3, 2), (2, 2), (1, 1), (1, 1), True)
    got, device_saved = kernels.max_pool2d_forward(xp.asarray(x), (3, 2), (2, 2), (1, 1),
                                                   (1, 1), True)  # fmt: skip
    np.testing.assert_array_equal(_host(got), want)
    grad = rng.standard_normal(want.shape)
    np.testing.assert_allclose(_host(kernels.max_pool2d_backward(device_saved, xp.asarray(grad))),
                               kernels.max_pool2d_backward(saved, grad), atol=1e-15)  # fmt: skip
    np.testing.assert_array_equal(
        _host(kernels.relu_forward(xp.asarray(x))), kernels.relu_forward(x)
    )
    out = kernels.relu_forward(x)
    np.testing.assert_array_equal(_host(kernels.relu_backward(*_device(x, out))),
                                  kernels.relu_backward(x, out))  # fmt: skip
    weight, bias = rng.standard_normal(3), rng.standard_normal(3)
    want = kernels.batch_norm_forward(x, weight, bias, 1e-5)
    got = kernels.batch_norm_forward(*_device(x, weight, bias), 1e-5)
    for a, b in zip(_host(got), want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    grad = rng.standard_normal(x.shape)
    want = kernels.batch_norm_backward(grad, want[1], want[2], weight, True)
    got = kernels.batch_norm_backward(*_device(grad, _host(got[1]), _host(got[2]), weight), True)
    for a, b in zip(_host(got), want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_step_updates_device_arrays_in_place(amsgrad):
    rng = np.random.default_rng(2)
    param, grad, m, v = (rng.standard_normal(5) for _ in range(4))
    v = np.abs(v)
    v_max = np.abs(rng.standard_normal(5)) if amsgrad else None
    device = _device(param, grad, m, v, v_max)
    kernels.adam_step(param, grad, m, v, v_max, 1e-2, 0.9, 0.999, 1e-8, 3)
    kernels.adam_step(*device, 1e-2, 0.9, 0.999, 1e-8, 3)
    for got, want in zip(device, (param, grad, m, v, v_max), strict=True):
        if want is not None:
            np.testing.assert_allclose(got.get(), want, rtol=1e-12, atol=1e-15)
