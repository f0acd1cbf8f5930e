"""torch's device API on the stand-in CUDA device: placement, transfers, errors, randomness."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import gradwork as gw
from gradwork.autograd import Function
from tests.core.test_device_placement import FACTORIES

CUDA = gw.device("cuda", 0)


@pytest.mark.parametrize("make", FACTORIES)
def test_factories_put_tensors_on_the_device_with_the_cpu_values(make, standin):
    gw.manual_seed(3)
    on_host = make("cpu")
    gw.manual_seed(3)
    on_device = make("cuda")
    assert on_device.device == CUDA and on_device.is_cuda and not on_host.is_cuda
    assert on_device.dtype == on_host.dtype and on_device.shape == on_host.shape
    if on_host.numel() and "empty" not in repr(make):
        np.testing.assert_array_equal(on_device.cpu().numpy(), on_host.numpy())


def test_like_factories_and_the_default_device_follow_torch(standin):
    x = gw.ones(2, 3, device="cuda")
    assert gw.zeros_like(x).is_cuda and gw.rand_like(x).is_cuda and gw.tensor(x).is_cuda
    assert not gw.zeros_like(x, device="cpu").is_cuda
    with gw.device("cuda"):
        assert gw.zeros(2).is_cuda and gw.tensor([1, 2]).is_cuda
        assert not gw.zeros(2, device="cpu").is_cuda
    assert not gw.zeros(2).is_cuda


def test_to_cuda_and_back_is_differentiable(standin):
    x = gw.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = x.to("cuda")
    assert y.device == CUDA and y.grad_fn is not None
    z = (y * y).sum()
    assert z.is_cuda
    z.backward()
    assert not x.grad.is_cuda and x.grad.tolist() == [2.0, -4.0, 6.0]
    w = gw.randn(3, device="cuda", requires_grad=True)  # a leaf on the device
    (w.cpu() * 2).sum().backward()
    assert w.grad.is_cuda and w.grad.tolist() == [2.0, 2.0, 2.0]


def test_to_forms_read_devices_as_torch_does(standin):
    x = gw.ones(2)
    assert x.cuda().is_cuda and x.to(CUDA).is_cuda and x.to("cuda:0").is_cuda
    on_device = x.cuda()
    assert on_device.cuda() is on_device and on_device.to("cuda") is on_device
    assert on_device.cpu().device == gw.device("cpu") and x.cpu() is x
    assert x.to(on_device).is_cuda  # to(other) takes its device (and dtype)
    both = x.to("cuda", gw.float64)
    assert both.is_cuda and both.dtype == gw.float64
    assert on_device.to(dtype=gw.int64).is_cuda
    assert (on_device.get_device(), x.get_device(), on_device.is_cpu, x.is_cpu) == (
        0,
        -1,
        False,
        True,
    )


def test_mixing_devices_in_one_op_raises_torchs_error(standin):
    on_device, on_host = gw.ones(2, device="cuda"), gw.ones(2)
    message = (
        "Expected all tensors to be on the same device, but found at least two devices, "
        "cuda:0 and cpu!"
    )
    for op in (lambda: on_device + on_host, lambda: on_host * on_device,
               lambda: gw.cat([on_device, on_host]), lambda: on_device @ on_host):  # fmt: skip
        with pytest.raises(RuntimeError) as error:
            op()
        assert str(error.value) == message


def test_in_place_ops_refuse_two_devices_but_copy_crosses_them(standin):
    on_device, on_host = gw.ones(2, device="cuda"), gw.ones(2)
    with pytest.raises(RuntimeError, match="same device"):
        on_host += on_device
    on_device += gw.tensor(1.0)  # a 0-d CPU tensor is a number to torch
    source = gw.tensor([3.0, 4.0], requires_grad=True)
    target = gw.zeros(2, device="cuda").copy_(source)  # copy_ moves data across, as in torch
    assert target.is_cuda and target.tolist() == [3.0, 4.0]
    (target * 2).sum().backward()
    assert not source.grad.is_cuda and source.grad.tolist() == [2.0, 2.0]
    assert on_host.copy_(on_device).tolist() == [2.0, 2.0] and not on_host.is_cuda


def test_python_scalars_and_0d_cpu_tensors_mix_with_the_device_as_in_torch(standin):
    on_device = gw.ones(2, device="cuda")
    assert (on_device + 1).is_cuda and (2.5 * on_device).is_cuda
    assert (on_device + gw.tensor(2.0)).tolist() == [3.0, 3.0]
    assert (on_device + gw.tensor(2.0)).is_cuda
    scale = gw.tensor(2.0, requires_grad=True)  # a 0-d CPU leaf gets a CPU gradient
    weights = gw.tensor([1.0, 3.0], requires_grad=True)
    total = (weights * 1).sum()  # a 0-d CPU non-leaf: its gradient goes back through the CPU
    (gw.ones(2, device="cuda") * scale * total).sum().backward()
    assert not scale.grad.is_cuda and scale.grad.item() == 8.0
    assert not weights.grad.is_cuda and weights.grad.tolist() == [4.0, 4.0]


def test_host_conversions_are_explicit(standin):
    x = gw.tensor([1.5, 2.5], device="cuda")
    message = (
        "can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the tensor "
        "to host memory first."
    )
    with pytest.raises(TypeError) as error:
        x.numpy()
    assert str(error.value) == message
    with pytest.raises(TypeError, match="can't convert cuda:0"):
        np.asarray(x)
    assert x.cpu().numpy().tolist() == [1.5, 2.5]
    assert x.tolist() == [1.5, 2.5] and x[0].item() == 1.5 and float(x.sum()) == 4.0
    assert "device='cuda:0'" in repr(x)


def test_bad_devices_raise_torchs_errors(standin):
    with pytest.raises(RuntimeError, match="device type"):
        gw.zeros(2, device="gpu")
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        gw.zeros(2, device="cuda:1")
    with pytest.raises(NotImplementedError, match="'mps'"):
        gw.zeros(2, device="mps")


def test_cuda_module_answers_for_the_backend(standin):
    assert gw.cuda.is_available() and gw.cuda.device_count() == 1
    assert gw.cuda.current_device() == 0
    gw.cuda.synchronize()
    gw.cuda.manual_seed(5)
    a = gw.randn(3, device="cuda")
    gw.cuda.manual_seed(5)
    assert gw.randn(3, device="cuda").tolist() == a.tolist()


def test_without_a_backend_cuda_is_refused_with_the_install_hint():
    if gw.cuda.is_available():
        pytest.skip("a CUDA backend is on (real CuPy or GRADWORK_CUDA_STANDIN)")
    with pytest.raises(AssertionError, match='pip install "gradwork\\[cuda12\\]"'):
        gw.ones(2).cuda()


class _HiddenHostCopy(Function):
    """A primitive with the bug the stand-in exists to find: np.asarray on its input."""

    on_arrays = True  # forward and backward see raw arrays, as gradwork's primitives do

    @staticmethod
    def forward(ctx, a):
        return np.asarray(a) * 2

    @staticmethod
    def backward(ctx, grad):
        return grad * 2


def test_the_standin_catches_a_hidden_numpy_conversion(standin):
    assert _HiddenHostCopy.apply(gw.ones(2)).tolist() == [2.0, 2.0]  # fine on the CPU
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        _HiddenHostCopy.apply(gw.ones(2, device="cuda"))


def test_the_environment_variable_turns_the_standin_on():
    code = "import gradwork as gw; print(gw.cuda.is_available(), gw.ones(2, device='cuda').device)"
    environment = dict(os.environ, GRADWORK_CUDA_STANDIN="1")
    done = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True,
                          text=True, check=True)  # fmt: skip
    assert done.stdout.strip() == "True cuda:0"
