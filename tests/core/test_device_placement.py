"""torch's argument rules at the Tensor surface: devices on a CPU-only build, softmax's dim."""

from __future__ import annotations

import pytest

import gradwork as gw

FACTORIES = [
    lambda device: gw.tensor([1.0, 2.0], device=device),
    lambda device: gw.zeros(2, 3, device=device),
    lambda device: gw.ones((2,), device=device),
    lambda device: gw.full((2,), 3.0, device=device),
    lambda device: gw.empty(2, device=device),
    lambda device: gw.arange(4, device=device),
    lambda device: gw.linspace(0, 1, 5, device=device),
    lambda device: gw.eye(3, device=device),
    lambda device: gw.rand(2, device=device),
    lambda device: gw.randn(2, device=device),
    lambda device: gw.randint(0, 5, (3,), device=device),
    lambda device: gw.randperm(4, device=device),
    lambda device: gw.zeros_like(gw.ones(2), device=device),
    lambda device: gw.randn_like(gw.ones(2), device=device),
]


@pytest.mark.parametrize("make", FACTORIES)
@pytest.mark.parametrize("device", [None, "cpu", "cpu:0", gw.device("cpu")])
def test_factories_take_a_cpu_device(make, device):
    assert isinstance(make(device), gw.Tensor)


# Without a CUDA backend (no CuPy, and GRADWORK_CUDA_STANDIN unset) CUDA is refused.
needs_no_cuda = pytest.mark.skipif(
    gw.cuda.is_available(), reason="a CUDA backend is on: tests/device covers it"
)


@needs_no_cuda
@pytest.mark.parametrize("make", FACTORIES)
def test_factories_refuse_cuda_as_a_cpu_only_torch(make):
    with pytest.raises(AssertionError, match="not compiled with CUDA enabled"):
        make("cuda")


def test_other_device_types_are_not_implemented_and_bad_strings_are_runtime_errors():
    with pytest.raises(NotImplementedError, match="'mps'"):
        gw.zeros(2, device="mps")
    with pytest.raises(RuntimeError, match="device type"):
        gw.zeros(2, device="gpu")


def test_to_reads_devices_and_dtypes_in_torch_forms():
    x = gw.ones(2, device="cpu", requires_grad=True)
    assert x.to("cpu") is x and x.to(gw.device("cpu")) is x
    assert x.to("cpu", gw.float64).dtype == gw.float64
    assert x.to(device="cpu", dtype=gw.float64).dtype == gw.float64
    assert x.to(gw.zeros(1, dtype=gw.float64)).dtype == gw.float64
    copied = x.to("cpu", copy=True)
    assert copied is not x and copied.requires_grad
    x.to(gw.float64).sum().backward()  # differentiable through the cast
    assert x.grad.tolist() == [1.0, 1.0]


@needs_no_cuda
def test_cuda_and_to_cuda_raise_as_torch_does_without_cuda():
    with pytest.raises(AssertionError, match="CUDA"):
        gw.ones(2).cuda()
    with pytest.raises(AssertionError, match="CUDA"):
        gw.ones(2).to("cuda:0")
    assert gw.ones(2).cpu().tolist() == [1.0, 1.0]


def test_tensor_softmax_needs_a_dim_as_in_torch():
    with pytest.raises(TypeError, match="dim"):
        gw.ones(3).softmax()
    with pytest.raises(TypeError, match="dim"):
        gw.ones(3).log_softmax()
    assert gw.ones(4).softmax(0).tolist() == [0.25] * 4


def test_module_to_reads_the_same_forms_as_tensor_to():
    model = gw.nn.Linear(2, 2)
    assert model.to("cpu", gw.float64).weight.dtype == gw.float64  # device, then dtype
    assert model.to(device="cpu", dtype=gw.float32).weight.dtype == gw.float32
    assert model.to(gw.device("cpu")) is model
    if not gw.cuda.is_available():
        with pytest.raises(AssertionError, match="CUDA"):
            model.to("cuda")


def test_a_tensors_device_is_a_device_as_in_torch():
    x = gw.ones(2, device="cpu")
    assert x.device == gw.device("cpu") and x.device != "cpu"  # torch compares devices
    assert str(x.device) == "cpu" and x.device.type == "cpu" and not x.is_cuda
    assert gw.zeros(1, device=x.device).device == x.device
