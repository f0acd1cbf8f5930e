"""The Trainer on "cuda" (the CPU stand-in for CuPy): host batches in, the same numbers out.

The loader yields host tensors; the Trainer sends each batch to the model's
device. A run on the stand-in must match the CPU run epoch for epoch, and its
checkpoints (always host arrays) must resume on either device.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradwork as gw
from gradwork import data, nn, optim, train
from tests.helpers import to_numpy


def _setup(device: str, **options):
    gw.manual_seed(0)
    # No bias before BatchNorm: its gradient is ~0 and Adam turns the rounding noise of
    # that ~0 into full steps, which differ by device (and by kernel) in the running mean.
    model = nn.Sequential(
        nn.Linear(2, 16, bias=False), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2)
    )
    model.to(device)
    trainer = train.Trainer(
        model,
        optim.Adam(model.parameters(), lr=0.02),
        nn.CrossEntropyLoss(),
        metrics=["accuracy", "f1"],
        **options,
    )
    return trainer


def _moons():
    with gw.device("cpu"):  # host data, whatever the default device
        moons = data.make_moons(96, seed=0)
    return data.DataLoader(moons, batch_size=16, shuffle=True, seed=0), moons


def test_fit_evaluate_predict_on_cuda_match_the_cpu(cuda_standin):
    runs = {}
    for device in ("cpu", "cuda"):
        trainer = _setup(device, callbacks=[train.EarlyStopping(patience=50)])
        loader, moons = _moons()
        assert next(iter(loader))[0].device.type == "cpu"  # host batches, whatever the model
        history = trainer.fit(loader, moons, epochs=3)
        assert trainer.model[0].weight.device.type == device
        predictions = trainer.predict(moons)
        assert predictions.device.type == "cpu"  # outputs come back to the host
        runs[device] = (history.history, trainer.evaluate(moons), to_numpy(predictions))
    (cpu_history, cpu_eval, cpu_pred), (gpu_history, gpu_eval, gpu_pred) = runs["cpu"], runs["cuda"]
    for key in ("loss", "accuracy", "val_loss", "val_f1"):
        np.testing.assert_allclose(
            to_numpy(gpu_history[key]), to_numpy(cpu_history[key]), rtol=1e-5, err_msg=key
        )
    assert gpu_eval == pytest.approx(cpu_eval, rel=1e-5)
    np.testing.assert_allclose(to_numpy(gpu_pred), to_numpy(cpu_pred), rtol=1e-4, atol=1e-5)


def test_a_cuda_checkpoint_holds_host_arrays_and_resumes_on_either_device(cuda_standin, tmp_path):
    trainer = _setup("cuda")
    loader, _ = _moons()
    trainer.fit(loader, epochs=1)
    path = trainer.save(tmp_path / "c.npz")
    state = train.load_checkpoint(path)
    assert all(isinstance(v, np.ndarray) for v in state["model"].values())
    for device in ("cpu", "cuda"):
        resumed = _setup(device)
        resumed.resume(path)
        weight = resumed.model[0].weight
        assert weight.device.type == device
        np.testing.assert_array_equal(to_numpy(weight.cpu()), to_numpy(state["model"]["0.weight"]))
        exp_avg = resumed.optimizer.state[weight]["exp_avg"]
        assert isinstance(exp_avg, np.ndarray) == (device == "cpu")
        resumed.fit(_moons()[0], epochs=2)  # and it goes on training there
        assert resumed.epoch == 2


def test_early_stopping_restores_best_weights_on_cuda(cuda_standin):
    trainer = _setup("cuda", callbacks=[train.EarlyStopping(patience=1, monitor="loss")])
    weight = trainer.model[0].weight
    trainer.fit(_moons()[0], epochs=2)
    assert trainer.model[0].weight is weight and weight.device.type == "cuda"


def test_batches_are_sent_to_the_model_device():
    x, y = gw.ones(2, 3, device="cpu"), np.zeros(2)
    moved = train.devices.to_device({"x": x, "pair": (x, y)}, "cpu")
    assert moved["x"] is x and moved["pair"][1] is y  # already there: no copy
    assert train.devices.model_device(nn.Linear(2, 2).to("cpu")) == "cpu"
    assert train.devices.model_device(nn.ReLU()) == "cpu"  # no parameters: the host
