"""gradwork.diagnose on a model on "cuda" (the CPU stand-in for CuPy when there is no GPU).

The doctor, lr_find, the monitors and compare read numbers out of the model:
each must copy them to the host explicitly (the stand-in refuses a silent
np.asarray, as CuPy does) and report what it reports for the same model on
the CPU.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradwork as gw
from gradwork import data, diagnose, nn, optim, train
from tests.helpers import to_numpy


def _model(device: str):
    gw.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3)).to(device)


def test_the_doctor_examines_a_cuda_model_as_a_cpu_one(cuda_standin):
    x, y = gw.randn(16, 4), gw.randint(0, 3, (16,))  # a host batch: the doctor moves it
    reports = {}
    for device in ("cpu", "cuda"):
        model = _model(device)
        opt = optim.SGD(model.parameters(), lr=0.1)
        reports[device] = diagnose.doctor(model, nn.CrossEntropyLoss(), (x, y), opt, steps=30)
    cpu, gpu = reports["cpu"], reports["cuda"]
    assert [f.check for f in gpu.findings] == [f.check for f in cpu.findings]
    assert [f.passed for f in gpu.findings] == [f.passed for f in cpu.findings]
    assert not any(f.check in ("forward", "loss") for f in gpu.findings)  # nothing raised
    np.testing.assert_allclose(gpu.losses, cpu.losses, rtol=1e-5)
    gpu_batch = diagnose.doctor(_model("cuda"), nn.CrossEntropyLoss(), (x.cuda(), y.cuda()))
    assert gpu_batch.finding("initial_loss").passed


def test_lr_find_sweeps_a_cuda_model_and_restores_it(cuda_standin):
    moons = data.make_moons(128, seed=0)
    curves = []
    for device in ("cpu", "cuda"):
        gw.manual_seed(1)
        model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2)).to(device)
        before = to_numpy(model[0].weight.cpu()).copy()
        loader = data.DataLoader(moons, batch_size=16, shuffle=True, seed=0)
        opt = optim.SGD(model.parameters(), lr=0.1)
        result = diagnose.lr_find(model, nn.CrossEntropyLoss(), loader, opt, num_steps=12)
        np.testing.assert_array_equal(to_numpy(model[0].weight.cpu()), to_numpy(before))
        assert model[0].weight.device.type == device
        curves.append(result.losses)
    np.testing.assert_allclose(to_numpy(curves[1]), to_numpy(curves[0]), rtol=1e-5)


def test_monitor_callbacks_record_a_cuda_run(cuda_standin):
    moons = data.make_moons(64, seed=0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2)).to("cuda")
    gradients = diagnose.GradientMonitorCallback(every=1, verbose=False)
    activations = diagnose.ActivationMonitorCallback(every=1, verbose=False)
    trainer = train.Trainer(
        model,
        optim.Adam(model.parameters(), lr=0.01),
        nn.CrossEntropyLoss(),
        callbacks=[gradients, activations],
    )
    history = trainer.fit(data.DataLoader(moons, batch_size=16), epochs=1)
    assert history.history["grad_norm"][0] > 0  # measured on the device, read as a number
    assert len(gradients.report.total_norms) == 4  # every step of the epoch recorded
    assert gradients.findings == [] and activations.findings == []  # healthy, nothing raised
    assert [row.layer for row in activations.report.rows][:1] == ["0"]


def test_compare_checks_a_cuda_port_against_torch(cuda_standin):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    reference = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    port = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).to("cuda")
    report = diagnose.compare(reference, port, np.ones((3, 4), np.float32))
    assert report.ok and report.first_forward is None and len(report.layers) == 3
    assert port[0].weight.device.type == "cuda"
