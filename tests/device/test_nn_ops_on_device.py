"""The primitives behind gradwork.nn (tests/ops/test_nn_primitives.py's table) on the stand-in.

Same scheme as test_ops_on_device.py: one table entry, run on the CPU and on
the stand-in CUDA device from the same inputs; values and gradients must
agree and stay on their device. Entries whose op still converts device data
to NumPy, or mixes a host array into device math, are listed in
NOT_ON_DEVICE with the line that does it; they xfail strictly, so a fix
shows up as a failure here until its entry is removed.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradwork as gw
from tests.ops.test_nn_primitives import CASES

NOT_ON_DEVICE: dict[str, str] = {}  # none today: the losses copy host constants over


def _first(out):
    return out[0] if isinstance(out, tuple) else out


def _run(ours, inputs, weights):
    out = _first(ours(*inputs))
    projection = gw.tensor(weights, dtype=out.dtype, device=out.device)
    (out * projection).sum().backward()
    return out, [x.grad if isinstance(x, gw.Tensor) else None for x in inputs]


def _on_device(value):
    if not isinstance(value, gw.Tensor):
        return value
    return value.detach().to("cuda").requires_grad_(value.requires_grad)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0].__name__)
def test_nn_primitive_gives_the_cpu_result_on_the_device(case, standin):
    primitive, ours, _, make = case
    if primitive.__name__ in NOT_ON_DEVICE:
        pytest.xfail(NOT_ON_DEVICE[primitive.__name__])
    host = make()
    weights = np.random.default_rng(1).standard_normal(_first(ours(*host)).shape)
    for x in host:
        if isinstance(x, gw.Tensor):
            x.grad = None
    expected, expected_grads = _run(ours, host, weights)
    with gw.device("cuda"):
        got, grads = _run(ours, [_on_device(x) for x in host], weights)
    assert got.is_cuda
    np.testing.assert_allclose(got.detach().cpu().numpy(), expected.detach().numpy(),
                               rtol=1e-10, atol=1e-12)  # fmt: skip
    for i, (grad, want) in enumerate(zip(grads, expected_grads, strict=True)):
        if want is None:
            continue
        assert grad.is_cuda, f"gradient of input {i} left the device"
        np.testing.assert_allclose(grad.cpu().numpy(), want.numpy(), rtol=1e-10, atol=1e-12)


def test_the_known_failures_are_real(standin):
    # Each listed entry must still fail on the device; remove it once its op is fixed.
    for primitive, ours, _, make in CASES:
        if primitive.__name__ not in NOT_ON_DEVICE:
            continue
        inputs = [_on_device(x) for x in make()]
        with pytest.raises((TypeError, AssertionError)), gw.device("cuda"):
            out = _first(ours(*inputs))
            assert out.is_cuda
            out.sum().backward()


@pytest.mark.parametrize(
    "loss, make",
    [
        (gw.nn.functional.cross_entropy, lambda: (gw.tensor([0, 2]), None)),
        (gw.nn.functional.nll_loss, lambda: (gw.tensor([0, 2], device="cuda"), gw.ones(3))),
        (
            gw.nn.functional.binary_cross_entropy_with_logits,
            lambda: (gw.ones(2, 3), None),
        ),  # fmt: skip
    ],
)
def test_a_cpu_target_or_weight_tensor_with_device_input_raises_torchs_error(standin, loss, make):
    # The fused primitives copy raw host constants over (the table above); a TENSOR on the
    # wrong device is a bug in the caller, refused with torch's message.
    target, weight = make()
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        loss(gw.randn(2, 3, device="cuda"), target, weight)
