"""Helpers shared by the test tables: torch conversion and parity checks."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest

import gradwork as gw
from gradwork import _arrays
from gradwork._device import get_default_device

# For tests of the CPU-only answers (no CUDA): skipped when a CUDA backend is on,
# as under GRADWORK_CUDA_STANDIN=1, where the whole suite also runs.
without_cuda = pytest.mark.skipif(
    gw.cuda.is_available(), reason="checks the CPU-only answers; a CUDA backend is on"
)


# For tests about host (NumPy) memory itself: from_numpy/.numpy() sharing, zero-copy
# interop. Skipped when factories default to CUDA (GRADWORK_DEFAULT_DEVICE=cuda), where
# the rest of the suite runs on the GPU code path.
cpu_only = pytest.mark.skipif(
    get_default_device().type != "cpu",
    reason="checks host (NumPy) memory; factories default to CUDA in this run",
)


def to_numpy(value):
    """A NumPy array of the values of a tensor or array on any device (an explicit copy
    to the host for device data), so checks read the same on the CPU and the GPU path.

    Example:
        >>> to_numpy(gw.tensor([1.0, 2.0], requires_grad=True)).tolist()
        [1.0, 2.0]
    """
    if isinstance(value, gw.Tensor) or type(value).__module__.startswith("torch"):
        return value.detach().cpu().numpy()  # gradwork's tensors, and torch's
    if _arrays.is_device_array(value):
        return _arrays.to_host(value)
    if isinstance(value, list | tuple):
        return np.asarray([to_numpy(item) for item in value])
    return np.asarray(value)


def randn64(*shape: int, requires_grad: bool = True, low: float | None = None) -> gw.Tensor:
    """A float64 leaf of standard-normal values (shifted to stay above `low` if given)."""
    data = gw.random.generator().standard_normal(shape)
    if low is not None:
        data = np.abs(data) + low
    return gw.tensor(data, dtype=gw.float64, requires_grad=requires_grad)


def to_torch(torch, value):
    """A torch leaf with the same values (and requires_grad) as a gradwork tensor."""
    if not isinstance(value, gw.Tensor):
        return value
    out = torch.tensor(np.array(to_numpy(value)))
    if value.requires_grad:
        out.requires_grad_(True)
    return out


def assert_parity(
    torch,
    ours: Callable,
    theirs: Callable,
    inputs: Sequence,
    atol: float = 1e-6,
    rtol: float = 1e-6,
) -> None:
    """Same output value and same gradient for every input that requires grad.

    Backpropagates the same random projection of the output through both.
    """
    torch_inputs = [to_torch(torch, x) for x in inputs]
    out = ours(*inputs)
    expected = theirs(*torch_inputs)
    np.testing.assert_allclose(to_numpy(out), expected.detach().numpy(), atol=atol, rtol=rtol)
    if not any(isinstance(x, gw.Tensor) and x.requires_grad for x in inputs):
        return
    weights = np.random.default_rng(1).standard_normal(out.shape)
    (out * gw.tensor(weights, dtype=out.dtype)).sum().backward()
    (expected * torch.tensor(weights, dtype=expected.dtype)).sum().backward()
    for i, (x, t) in enumerate(zip(inputs, torch_inputs, strict=True)):
        if isinstance(x, gw.Tensor) and x.requires_grad:
            expected_grad = t.grad.numpy() if t.grad is not None else np.zeros(x.shape)
            got = to_numpy(x.grad) if x.grad is not None else np.zeros(x.shape)
            np.testing.assert_allclose(
                got, expected_grad, atol=atol, rtol=rtol, err_msg=f"gradient of input {i}"
            )
