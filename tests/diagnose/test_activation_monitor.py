"""ActivationMonitor: statistics by hand, dead-ReLU and saturation flags, hooks removed."""

import numpy as np
import pytest

import gradwork as gw
from gradwork import nn
from gradwork.diagnose import ActivationMonitor
from tests.diagnose._nets import healthy_net
from tests.helpers import to_numpy


def _hooks(model) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


def test_statistics_equal_statistics_by_hand():
    model = healthy_net()
    x = gw.randn(32, 8)
    with ActivationMonitor(model) as monitor:
        model(x)
    relu_out = np.maximum(to_numpy(model[0](x)).astype(np.float64), 0)
    row = monitor.layers["1"]
    assert (row.kind, row.calls) == ("relu", 1)
    assert row.mean == pytest.approx(relu_out.mean(), rel=1e-6)
    assert row.std == pytest.approx(relu_out.std(), rel=1e-6)
    assert row.dead_fraction == pytest.approx(float((relu_out == 0).all(axis=0).mean()))
    assert monitor.layers["0"].kind == "other" and monitor.layers["0"].dead_fraction is None


def test_dead_relu_fraction_and_flag():
    model = healthy_net()
    nn.init.constant_(model[0].bias, 0.0)
    model[0].bias.data[:16] = -100.0  # half the units can never fire
    monitor = ActivationMonitor(model, dead_threshold=0.4)
    model(gw.randn(32, 8))
    model(gw.randn(32, 8))
    report = monitor.report()
    assert monitor.layers["1"].dead_fraction == pytest.approx(0.5)
    assert report.flagged("dead_relu") == ["1"]
    finding = report.findings[0]
    assert finding.evidence["1"] == pytest.approx(0.5) and "LeakyReLU" in finding.fix
    monitor.dead_threshold = 0.6  # half dead is below this threshold: no flag
    assert monitor.report().flagged("dead_relu") == []
    monitor.remove()


def test_a_unit_active_in_any_batch_is_alive():
    model = nn.Sequential(nn.Identity(), nn.ReLU())
    monitor = ActivationMonitor(model, modules=["1"])
    model(gw.tensor([[1.0, -1.0], [2.0, -3.0]]))
    assert monitor.layers["1"].dead_fraction == 0.5
    model(gw.tensor([[-1.0, 1.0]]))  # the second unit fires once: not dead
    assert monitor.layers["1"].dead_fraction == 0.0


@pytest.mark.parametrize(
    "activation, kind, values, saturated",
    [
        (nn.Tanh, "tanh", [[-10.0, 0.0, 10.0, 0.1]], 0.5),
        (nn.Sigmoid, "sigmoid", [[-10.0, 0.0, 10.0, 0.1]], 0.5),
        (nn.Sigmoid, "sigmoid", [[-3.0, 0.0, 3.0, 4.0]], 0.0),  # 0.047 .. 0.982: not saturated
    ],
)
def test_saturation_fraction_by_hand(activation, kind, values, saturated):
    model = nn.Sequential(activation())
    with ActivationMonitor(model) as monitor:
        model(gw.tensor(values))
    assert monitor.layers["0"].kind == kind
    assert monitor.layers["0"].saturated_fraction == pytest.approx(saturated)


def test_saturated_layers_are_flagged_by_name():
    model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 32), nn.Sigmoid())
    nn.init.normal_(model[0].weight, std=5.0)
    nn.init.normal_(model[2].weight, std=5.0)
    with ActivationMonitor(model) as monitor:
        model(gw.randn(32, 8))
    report = monitor.report()
    fractions = {name: monitor.layers[name].saturated_fraction for name in ("1", "3")}
    assert all(f > 0.5 for f in fractions.values())
    assert sorted(report.flagged("saturated_activations")) == ["1", "3"]
    assert "Glorot" in report.findings[0].fix


def test_healthy_network_raises_no_flag():
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 16), nn.Tanh(),
                          nn.Linear(16, 1), nn.Sigmoid())  # fmt: skip
    with ActivationMonitor(model) as monitor:
        model(gw.randn(64, 8))
    report = monitor.report()
    assert report.findings == [] and report.ok
    assert monitor.layers["1"].dead_fraction < 0.1
    assert monitor.layers["3"].saturated_fraction < 0.05
    assert "healthy" in str(report)


def test_hooks_are_removed():
    model = healthy_net()
    monitor = ActivationMonitor(model)
    assert _hooks(model) == 5  # every leaf module
    monitor.remove()
    assert _hooks(model) == 0
    model(gw.randn(4, 8))
    assert all(row.calls == 0 for row in monitor.layers.values())
    with ActivationMonitor(model, modules=[model[1], "3"]) as chosen:
        assert _hooks(model) == 2 and list(chosen.layers) == ["1", "3"]
    assert _hooks(model) == 0
    with pytest.raises(RuntimeError), ActivationMonitor(model):
        raise RuntimeError("an error inside the block still removes the hooks")
    assert _hooks(model) == 0


def test_reset_keeps_hooks_and_forgets_records():
    model = healthy_net()
    monitor = ActivationMonitor(model)
    model(gw.randn(4, 8))
    monitor.reset()
    assert monitor.layers["1"].calls == 0
    model(gw.randn(4, 8))
    assert monitor.layers["1"].calls == 1
    monitor.remove()


def test_errors_name_the_fix():
    model = healthy_net()
    with pytest.raises(ValueError, match="no module named 'nope'"):
        ActivationMonitor(model, modules=["nope"])
    with pytest.raises(ValueError, match="not a submodule"):
        ActivationMonitor(model, modules=[nn.ReLU()])
    with ActivationMonitor(model) as monitor, pytest.raises(RuntimeError, match="forward"):
        monitor.report()


def test_a_disabled_monitor_keeps_its_hooks_but_records_nothing():
    model = healthy_net()
    with ActivationMonitor(model) as monitor:
        monitor.enabled = False
        model(gw.randn(4, 8))
        assert monitor.layers["1"].calls == 0 and _hooks(model) == 5
        monitor.enabled = True
        model(gw.randn(4, 8))
        assert monitor.layers["1"].calls == 1
