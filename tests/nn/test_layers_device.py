"""Every layer, activation and loss of tests/nn/cases.py on "cuda" gives its CPU result.

The module is copied, moved with `.to("cuda")` (the CPU stand-in for CuPy
when there is no GPU), fed the same inputs on the device, and its output,
input gradients, parameter gradients and state (running statistics) must
equal the CPU run's and stay on the device. Entries that still convert device
data to NumPy somewhere (or mix a host array into device math) are listed in
NOT_ON_DEVICE with the line that does it; they xfail strictly, so a fix shows
up here until its entry is removed.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import gradwork as gw
from tests.nn.cases import CASES

NOT_ON_DEVICE: dict[str, str] = {}  # every case runs on the device now


def _inputs(case, device):
    tensors = []
    for i, array in enumerate(case.inputs(np.random.default_rng(0))):
        wants = array.dtype.kind == "f" and (i == 0 or case.target_grad)
        tensors.append(gw.tensor(array).to(device).requires_grad_(wants))
    return tensors


def _host(value):
    return None if value is None else value.detach().cpu().numpy()


def _run(module, case, device):
    module = module.to(device)
    inputs = _inputs(case, device)
    out = module(*inputs)
    out = out[0] if isinstance(out, tuple) else out
    weights = np.random.default_rng(1).standard_normal(out.shape)
    (out * gw.tensor(weights, dtype=out.dtype).to(device)).sum().backward()
    assert out.device.type == device
    grads = [_host(x.grad) for x in inputs if x.requires_grad]
    params = {name: _host(p.grad) for name, p in module.named_parameters()}
    state = {name: _host(v) for name, v in module.state_dict().items()}
    return _host(out), grads, params, state


@pytest.mark.parametrize("case", [c for c in CASES if not c.stochastic], ids=lambda c: c.id)
def test_every_layer_gives_its_cpu_result_on_cuda(case, cuda_standin):
    if case.id in NOT_ON_DEVICE:
        pytest.xfail(NOT_ON_DEVICE[case.id])
    gw.manual_seed(0)
    module = case.ours()
    twin = copy.deepcopy(module)
    expected = _run(module, case, "cpu")
    got = _run(twin, case, "cuda")
    assert all(p.device.type == "cuda" for p in twin.parameters())
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-10, atol=1e-12, err_msg="output")
    for index, (grad, want) in enumerate(zip(got[1], expected[1], strict=True)):
        if want is not None:
            np.testing.assert_allclose(grad, want, rtol=1e-9, atol=1e-11, err_msg=f"input {index}")
    for kind, mine, theirs in (("grad", got[2], expected[2]), ("state", got[3], expected[3])):
        for name, want in theirs.items():
            if want is not None:
                np.testing.assert_allclose(mine[name], want, rtol=1e-9, atol=1e-11,
                                           err_msg=f"{kind} {name}")  # fmt: skip


@pytest.mark.parametrize("case", [c for c in CASES if c.stochastic], ids=lambda c: c.id)
def test_stochastic_layers_run_on_cuda_with_the_cpu_mask(case, cuda_standin):
    # gradwork draws random masks on the host from its one stream: the same seed gives
    # the same mask on both devices.
    outputs = []
    for device in ("cpu", "cuda"):
        gw.manual_seed(3)
        outputs.append(_run(case.ours(), case, device)[0])
    np.testing.assert_allclose(outputs[1], outputs[0], rtol=1e-10, atol=1e-12)


def test_the_known_failures_are_real(cuda_standin):
    for case in CASES:
        if case.id not in NOT_ON_DEVICE:
            continue
        with pytest.raises((TypeError, RuntimeError, AssertionError)):
            _run(case.ours(), case, "cuda")
