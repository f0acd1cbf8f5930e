"""A training step on the device reads nothing back to the host unless asked.

On a GPU every read of device data on the host (`bool(x)`, `float(x)`,
`x.item()`, `.tolist()`, `.get()`) waits for the device to finish its queue:
one in every step serialises the GPU with Python. The stand-in counts them
(`gradwork._standin_array.SYNCS`); a step must leave the count at zero.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradwork as gw
from gradwork import _standin_array, nn
from gradwork.nn import functional as F


def _model():
    gw.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(4 * 4 * 4, 3),
    ).to("cuda")  # fmt: skip


def _syncs_of_steps(loss_of, steps=2):
    model = _model()
    optimizer = gw.optim.Adam(model.parameters(), lr=0.01)
    x = gw.randn(5, 1, 8, 8, device="cuda")
    loss_of(model(x)).backward()  # a first step: lazy state, caches
    optimizer.step()
    _standin_array.SYNCS.clear()
    for _ in range(steps):
        optimizer.zero_grad()
        loss_of(model(x)).backward()
        optimizer.step()
    return dict(_standin_array.SYNCS)


def test_a_cnn_step_with_mse_reads_nothing_back(standin):
    target = gw.randn(5, 3, device="cuda")
    assert _syncs_of_steps(lambda out: F.mse_loss(out, target)) == {}


def test_reading_the_loss_is_one_counted_sync(standin):
    loss = F.mse_loss(gw.ones(3, device="cuda"), gw.zeros(3, device="cuda"))
    _standin_array.SYNCS.clear()
    assert loss.item() == 1.0 and _standin_array.SYNCS == {"item": 1}


def test_a_cnn_step_with_cross_entropy_reads_nothing_back(standin):
    # The class-range check runs on the device (gradwork._device_checks): no host read.
    target = gw.randint(0, 3, (5,), device="cuda")
    assert _syncs_of_steps(lambda out: F.cross_entropy(out, target)) == {}
    assert _syncs_of_steps(lambda out: F.nll_loss(F.log_softmax(out, 1), target)) == {}


def test_pending_checks_are_read_in_one_transfer_with_the_loss(standin):
    target = gw.randint(0, 3, (5,), device="cuda")
    loss = F.cross_entropy(gw.randn(5, 3, device="cuda"), target)
    _standin_array.SYNCS.clear()
    loss.item()
    assert _standin_array.SYNCS == {"get": 1, "item": 1}


@pytest.mark.parametrize("read", ["item", "cpu", "tolist", "bool", "synchronize"])
def test_an_out_of_range_target_on_the_device_raises_at_the_next_host_read(standin, read):
    logits = gw.randn(4, 3, device="cuda", requires_grad=True)
    target = gw.tensor([0, 2, 7, 1], device="cuda")
    loss = F.cross_entropy(logits, target)  # no error yet: nothing was read
    loss.backward()  # the step goes on with a clipped index: no crash
    readers = {
        "item": loss.item,
        "cpu": loss.cpu,
        "tolist": loss.tolist,
        "bool": lambda: bool(loss > 0),
        "synchronize": gw.cuda.synchronize,
    }
    with pytest.raises(ValueError, match=r"class index 7 but the input has 3 classes.*asynch"):
        readers[read]()
    # Reported once; then reads work, and the values computed meanwhile are finite.
    assert np.isfinite(loss.item()) and np.isfinite(logits.grad.cpu().numpy()).all()


def test_the_first_bad_index_is_reported_and_ignore_index_is_not_an_error(standin):
    logits = gw.randn(4, 3, device="cuda")
    F.nll_loss(logits, gw.tensor([0, -100, 1, 2], device="cuda")).item()  # ignored: fine
    F.nll_loss(logits, gw.tensor([0, -5, 1, 9], device="cuda"))
    F.nll_loss(logits, gw.tensor([4, 1, 1, 2], device="cuda"))
    with pytest.raises(ValueError, match=r"nll_loss: target holds class index -5 "):
        gw.cuda.synchronize()


def test_on_the_cpu_the_error_is_immediate():
    with pytest.raises(ValueError, match="class index 7 but the input has 3 classes") as error:
        F.cross_entropy(gw.randn(2, 3), gw.tensor([0, 7]))
    assert "asynchronously" not in str(error.value)


def test_binary_cross_entropy_checks_its_input_on_the_device(standin):
    p = gw.tensor([0.2, 1.5, 0.7], device="cuda")
    target = gw.tensor([0.0, 1.0, 1.0], device="cuda")
    _standin_array.SYNCS.clear()
    F.binary_cross_entropy(gw.tensor([0.2, 0.5, 0.7], device="cuda"), target)
    loss = F.binary_cross_entropy(p, target)
    assert _standin_array.SYNCS == {}  # nothing read back yet
    with pytest.raises(ValueError, match=r"got the value 1\.5; apply sigmoid.*asynch"):
        loss.item()
    with pytest.raises(ValueError, match=r"got values in \[0\.2, 1\.5\]; apply sigmoid"):
        F.binary_cross_entropy(p.cpu(), target.cpu())
