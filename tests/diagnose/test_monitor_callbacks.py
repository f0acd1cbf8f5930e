"""The monitor callbacks on real Trainer runs: what they record, log, flag and save."""

from __future__ import annotations

import copy
import io
import json
import math

import numpy as np
import pytest

from gradwork import data, nn, optim, train
from gradwork.diagnose import ActivationMonitorCallback, GradientMonitorCallback, _norms
from tests.diagnose._nets import classification_batch, healthy_net, mlp, vanishing_net
from tests.helpers import to_numpy

CE = nn.CrossEntropyLoss()


def loader(n=96, batch_size=16):
    x, y = classification_batch(n)
    return data.DataLoader(data.TensorDataset(x, y), batch_size=batch_size)


def fit(model, *callbacks, epochs=2, lr=0.1, val=None, batches=None, **kwargs):
    trainer = train.Trainer(model, optim.SGD(model.parameters(), lr=lr), CE,
                            callbacks=list(callbacks), **kwargs)  # fmt: skip
    return trainer, trainer.fit(batches or loader(), val, epochs=epochs)


def quiet(callback_class, **kwargs):
    stream = io.StringIO()
    return callback_class(stream=stream, **kwargs), stream


def test_gradients_are_recorded_after_backward_and_updates_after_the_step():
    model = healthy_net()
    start = copy.deepcopy(model)
    watch, _ = quiet(GradientMonitorCallback, every=1)
    batches = loader()
    fit(model, watch, epochs=1, lr=0.1, batches=batches)
    first = watch.monitor.history[0]
    x, y = next(iter(batches))
    CE(start(x), y).backward()  # the first step's gradient, from the initial weights
    for name, parameter in start.named_parameters():
        assert first.grad_norms[name] == pytest.approx(
            _norms.norm(to_numpy(parameter.grad)), rel=1e-5
        )
        # plain SGD moves each parameter by exactly lr * its gradient
        assert first.update_source == "measured"
        assert first.update_norms[name] == pytest.approx(0.1 * first.grad_norms[name], rel=1e-4)


def test_records_every_n_steps_and_logs_epoch_means():
    watch, _ = quiet(GradientMonitorCallback, every=4)
    _, history = fit(healthy_net(), watch, epochs=2)  # 6 steps per epoch: steps 0, 4, 8
    assert len(watch.monitor.history) == 3
    totals = watch.monitor.total_grad_norms()
    assert history.history["grad_norm"] == pytest.approx([np.mean(totals[:2]), totals[2]])
    ratios = history.history["update_ratio"]
    assert all(0 < r < 1 for r in ratios)


def test_an_epoch_without_a_recorded_step_logs_nan():
    gradients, _ = quiet(GradientMonitorCallback, every=100)
    activations, _ = quiet(ActivationMonitorCallback, every=100)
    _, history = fit(healthy_net(), gradients, activations, epochs=2)
    assert not math.isnan(history.history["grad_norm"][0])
    assert math.isnan(history.history["grad_norm"][1])
    assert math.isnan(history.history["dead_relu_fraction"][1])
    assert activations.report.rows[1].calls == 1  # the report of epoch 0, the last recorded


def test_a_vanishing_network_is_flagged_with_its_layers():
    watch, stream = quiet(GradientMonitorCallback, every=2)
    fit(vanishing_net(), watch, epochs=1)
    flagged = watch.report.flagged("vanishing_gradients")
    assert flagged[:3] == ["0", "2", "4"]  # the deepest layers, smallest first
    printed = stream.getvalue()
    assert "vanishing_gradients [warning]" in printed and "0 (" in printed
    assert "3 of 6 training steps recorded" in printed
    assert [f.check for f in watch.findings] == ["vanishing_gradients"]


def test_a_healthy_network_is_not_flagged():
    gradients, out_g = quiet(GradientMonitorCallback, every=3)
    activations, out_a = quiet(ActivationMonitorCallback, every=3)
    fit(healthy_net(), gradients, activations, epochs=2)
    assert gradients.findings == [] and activations.findings == []
    assert "✓ gradient norms healthy across 3 layers" in out_g.getvalue()
    assert "✓ no dead ReLU or saturated layer among 2 activation layers" in out_a.getvalue()


def dead_relu_net():
    model = mlp([8, 32, 32, 3], nn.ReLU)
    nn.init.constant_(model[2].bias, -50.0)  # the second ReLU never fires
    return model


def test_dead_relus_are_logged_and_flagged_and_validation_is_not_recorded():
    watch, stream = quiet(ActivationMonitorCallback, every=2)
    model = dead_relu_net()
    _, history = fit(model, watch, epochs=2, val=loader(32))
    assert history.history["dead_relu_fraction"] == [1.0, 1.0]
    assert "saturated_fraction" not in history.history  # no Sigmoid/Tanh in the model
    assert watch.report.flagged("dead_relu") == ["3"]
    assert watch.report.rows[3].calls == 3  # batches 0, 2, 4 of the last epoch; no val batch
    assert "dead_relu [warning]: units never active above 50% in 3 (100%)" in stream.getvalue()
    assert all(not m._forward_hooks for m in model.modules())  # hooks gone after training


def test_saturation_is_logged_for_sigmoid_networks():
    model = mlp([8, 16, 3], nn.Sigmoid, std=5.0)
    watch, _ = quiet(ActivationMonitorCallback, every=1)
    _, history = fit(model, watch, epochs=1)
    assert history.history["saturated_fraction"][0] > 0.5
    assert watch.report.flagged("saturated_activations") == ["1"]


def test_findings_are_saved_in_the_run_folder(tmp_path):
    gradients, _ = quiet(GradientMonitorCallback, every=2)
    activations, _ = quiet(ActivationMonitorCallback, every=2)
    trainer, _ = fit(vanishing_net(), gradients, activations, epochs=1, run_dir=tmp_path)
    saved = json.loads((tmp_path / "diagnostics.json").read_text())
    assert saved["gradient monitor"]["recorded_steps"] == 3
    checks = [f["check"] for f in saved["gradient monitor"]["findings"]]
    assert checks == ["vanishing_gradients"]
    assert saved["gradient monitor"]["findings"][0]["layers"][:2] == ["0", "2"]
    assert saved["activation monitor"]["findings"] == []
    csv_header = (tmp_path / "history.csv").read_text().splitlines()[0].split(",")
    assert {"grad_norm", "update_ratio", "saturated_fraction"} <= set(csv_header)


def test_every_must_be_a_positive_integer():
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="every must be an integer >= 1"):
            GradientMonitorCallback(every=bad)
    with pytest.raises(ValueError, match="ActivationMonitorCallback"):
        ActivationMonitorCallback(every=0)
