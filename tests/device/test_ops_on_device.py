"""Every primitive of the core tables, run on the stand-in device and compared with the CPU.

The same case (tests/core/test_ops.py and tests/core/cases_*.py) runs twice
from the same float64 inputs: on the CPU, and on the stand-in CUDA device
(inputs moved with `.to("cuda")`, constants made inside the case on the
device through `with gw.device("cuda"):`). Outputs and gradients must agree
to rounding, and both must stay on their device. The stand-in refuses any
hidden conversion to NumPy, so an op that calls `np.asarray` on device data,
or mixes a host array into a device computation, fails here.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradwork as gw
from tests.core.test_ops import CASES

# Primitives that do not run on the stand-in yet, with the reason (none today).
NOT_ON_DEVICE: dict[str, str] = {}


def _run(case, inputs, weights):
    out = case.ours(*inputs)
    projection = gw.tensor(weights, dtype=out.dtype, device=out.device)
    (out * projection).sum().backward()
    return out, [x.grad for x in inputs]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case_gives_the_cpu_result_on_the_device(case, standin):
    if case.name in NOT_ON_DEVICE:
        pytest.xfail(NOT_ON_DEVICE[case.name])
    host = case.inputs()
    weights = np.random.default_rng(1).standard_normal(case.ours(*host).shape)
    device = [x.detach().to("cuda").requires_grad_() for x in host]
    expected, expected_grads = _run(case, host, weights)
    with gw.device("cuda"):
        got, grads = _run(case, device, weights)
    assert got.device == gw.device("cuda", 0)
    np.testing.assert_allclose(
        got.detach().cpu().numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-12
    )
    for i, (grad, want) in enumerate(zip(grads, expected_grads, strict=True)):
        if want is None:
            assert grad is None, f"input {i}: a gradient on the device only"
            continue
        assert grad.device == gw.device("cuda", 0), f"gradient of input {i} left the device"
        np.testing.assert_allclose(
            grad.cpu().numpy(), want.numpy(), rtol=1e-12, atol=1e-12, err_msg=f"gradient {i}"
        )


def test_the_table_reaches_the_device(standin):
    # The check above is only as good as its reach: the case table has every core primitive.
    assert len(CASES) > 150
    assert gw.ones(2, device="cuda").is_cuda
