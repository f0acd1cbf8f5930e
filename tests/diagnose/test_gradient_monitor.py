"""GradientMonitor: recorded norms equal hand-computed ones; VANISHING/EXPLODING flags."""

import math

import numpy as np
import pytest

from gradwork import nn
from gradwork.diagnose import GradientMonitor
from tests.diagnose._nets import (
    SGD,
    classification_batch,
    exploding_net,
    healthy_net,
    step,
    vanishing_net,
)
from tests.helpers import to_numpy


def _norm(array) -> float:
    return float(np.sqrt((to_numpy(array).astype(np.float64) ** 2).sum()))


def test_recorded_norms_equal_norms_by_hand():
    model = healthy_net()
    monitor = GradientMonitor(model)
    step(model, *classification_batch())
    assert monitor.record() is True
    record = monitor.history[-1]
    for name, p in model.named_parameters():
        assert record.grad_norms[name] == pytest.approx(_norm(to_numpy(p.grad)), rel=1e-12)
        assert record.weight_norms[name] == pytest.approx(_norm(to_numpy(p)), rel=1e-12)
    by_hand = math.hypot(_norm(model[2].weight.grad.data), _norm(model[2].bias.grad.data))
    assert monitor.layer_grad_norms()["2"] == pytest.approx(by_hand, rel=1e-12)
    everything = math.sqrt(sum(_norm(p.grad.array) ** 2 for p in model.parameters()))
    assert monitor.total_grad_norms() == [pytest.approx(everything, rel=1e-12)]


def test_report_mean_and_max_over_time():
    model = healthy_net()
    monitor = GradientMonitor(model)
    x, y = classification_batch()
    for scale in (1.0, 3.0, 2.0):
        step(model, x, y, scale=scale)
        monitor.record()
    row = monitor.report().rows[0]
    assert row.layer == "0"
    assert row.max == pytest.approx(3 * row.grad_norms[0], rel=1e-5)
    assert row.mean == pytest.approx(2 * row.grad_norms[0], rel=1e-5)
    assert row.last == pytest.approx(2 * row.grad_norms[0], rel=1e-5)


def test_every_records_one_call_in_n():
    model = healthy_net()
    monitor = GradientMonitor(model, every=3)
    x, y = classification_batch()
    recorded = []
    for _ in range(7):
        step(model, x, y)
        recorded.append(monitor.record())
    assert recorded == [True, False, False, True, False, False, True]
    assert [r.step for r in monitor.history] == [0, 3, 6]


def test_measured_update_ratio_equals_the_step_by_hand():
    model = healthy_net()
    optimizer = SGD(model.parameters(), lr=0.1)
    monitor = GradientMonitor(model)
    step(model, *classification_batch())
    before = {n: p.array.copy() for n, p in model.named_parameters()}
    monitor.record()
    optimizer.step()
    monitor.record_update()
    record = monitor.history[-1]
    assert record.update_source == "measured"
    for name, p in model.named_parameters():
        if _norm(before[name]) > 0:
            expected = _norm(p.array - before[name]) / _norm(before[name])
            assert record.update_ratio(name) == pytest.approx(expected, rel=1e-9)
    weight = model[0].weight
    assert record.update_ratio("0.weight") == pytest.approx(
        0.1 * _norm(to_numpy(weight.grad)) / _norm(before["0.weight"]), rel=1e-5
    )


def test_estimated_update_ratio_is_lr_grad_over_weight():
    model = healthy_net()
    monitor = GradientMonitor(model, optimizer=SGD(model.parameters(), lr=0.05))
    step(model, *classification_batch())
    monitor.record()
    record = monitor.history[-1]
    assert record.update_source == "estimated"
    weight = model[2].weight
    expected = 0.05 * _norm(weight.grad.array) / _norm(weight.array)
    assert record.update_ratio("2.weight") == pytest.approx(expected, rel=1e-12)
    nn.init.zeros_(model[2].bias)  # a zero weight norm gives an infinite ratio, not an error
    monitor.record()
    assert monitor.history[-1].update_ratio("2.bias") == math.inf


def test_vanishing_flag_names_the_early_layers():
    model = vanishing_net()
    monitor = GradientMonitor(model)
    x, y = classification_batch()
    for _ in range(3):
        step(model, x, y)
        monitor.record()
    report = monitor.report()
    means = {row.layer: row.mean for row in report.rows}
    last = means["16"]
    expected = [layer for layer, norm in means.items() if norm < 1e-3 * last]
    assert means["0"] < 1e-6 * last  # the construction works: ~100x smaller per layer
    assert sorted(report.flagged("vanishing_gradients")) == sorted(expected)
    assert {"0", "2", "4"} <= set(expected) and "16" not in expected and "14" not in expected
    finding = next(f for f in report.findings if f.check == "vanishing_gradients")
    assert finding.layers[0] == min(expected, key=means.get)  # the worst first
    assert finding.evidence["last_layer_norm"] == pytest.approx(last)
    assert "kaiming" in finding.fix and "LSTM" in finding.fix
    assert report.flagged("exploding_gradients") == [] and not report.ok
    assert "VANISHING" in str(report).splitlines()[2]  # the row of layer "0"


def test_exploding_flag_names_the_layers_above_the_threshold():
    model = exploding_net()
    monitor = GradientMonitor(model, exploding_norm=1e3)
    step(model, *classification_batch(features=16))
    monitor.record()
    report = monitor.report()
    maxima = {row.layer: row.max for row in report.rows}
    expected = {layer for layer, norm in maxima.items() if norm > 1e3}
    assert len(expected) >= 8
    assert set(report.flagged("exploding_gradients")) == expected
    finding = report.findings[0]
    assert finding.check == "exploding_gradients" and finding.severity == "error"
    assert finding.evidence["largest_norm"] == pytest.approx(max(maxima.values()))
    assert "clip_grad_norm_" in finding.fix and "learning rate" in finding.fix


def test_exploding_flag_on_geometric_growth_below_the_threshold():
    model = healthy_net()
    monitor = GradientMonitor(model, exploding_norm=1e12, growth_factor=100)
    x, y = classification_batch()
    for k in range(5):
        step(model, x, y, scale=4.0**k)
        monitor.record()
    report = monitor.report()
    totals = monitor.total_grad_norms()
    finding = report.findings[0]
    assert finding.check == "exploding_gradients"
    assert finding.evidence["growth_factor"] == pytest.approx(totals[-1] / totals[0])
    assert finding.evidence["growth_factor"] == pytest.approx(256, rel=1e-4)
    assert set(finding.layers) == {"0", "2", "4"}


def test_no_growth_flag_for_a_noisy_but_flat_series():
    model = healthy_net()
    monitor = GradientMonitor(model, exploding_norm=1e12, growth_factor=100)
    x, y = classification_batch()
    for scale in (1.0, 300.0, 1.0, 300.0, 1.0):
        step(model, x, y, scale=scale)
        monitor.record()
    assert monitor.report().flagged("exploding_gradients") == []


def test_non_finite_gradient_is_exploding():
    model = healthy_net()
    monitor = GradientMonitor(model)
    step(model, *classification_batch())
    model[4].weight.grad.data[0, 0] = np.nan
    monitor.record()
    assert "4" in monitor.report().flagged("exploding_gradients")


@pytest.mark.parametrize(
    "build",
    [
        healthy_net,
        lambda: nn.Sequential(
            nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3)
        ),
    ],
)
def test_healthy_networks_raise_no_flag(build):
    model = build()
    optimizer = SGD(model.parameters(), lr=0.1)
    monitor = GradientMonitor(model)
    x, y = classification_batch()
    for _ in range(10):
        step(model, x, y)
        monitor.record()
        optimizer.step()
        monitor.record_update()
    report = monitor.report()
    assert report.findings == [] and report.ok
    assert "healthy" in str(report)
    ratios = [row.update_ratio for row in report.rows]
    assert all(1e-5 < r < 1e-1 for r in ratios)


def test_unused_layer_is_reported_without_gradient():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = nn.Linear(8, 3), nn.Linear(8, 3)

        def forward(self, x):
            return self.used(x)

    model = Model()
    monitor = GradientMonitor(model)
    step(model, *classification_batch())
    monitor.record()
    report = monitor.report()
    assert report.flagged("missing_gradients") == ["unused"]
    assert report.rows[1].mean is None and report.rows[1].last is None


def test_errors_name_the_fix():
    with pytest.raises(RuntimeError, match="record"):
        GradientMonitor(healthy_net()).report()
    with pytest.raises(ValueError, match="every"):
        GradientMonitor(healthy_net(), every=0)
    frozen = healthy_net().requires_grad_(False)
    with pytest.raises(ValueError, match="requires_grad"):
        GradientMonitor(frozen)


def test_reset_forgets_the_history():
    model = healthy_net()
    monitor = GradientMonitor(model)
    step(model, *classification_batch())
    monitor.record()
    monitor.reset()
    assert monitor.history == [] and monitor.calls == 0
