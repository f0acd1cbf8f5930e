"""The gradient-flow chart: log-scale bar lengths, sources, optional PNG."""

import sys

import pytest

from gradwork.diagnose import GradientMonitor, gradient_flow_table, plot_gradient_flow
from tests.diagnose._nets import classification_batch, step, vanishing_net


def _bar_length(line: str) -> float:
    eighths = "▏▎▍▌▋▊▉"
    return sum(1.0 if c == "█" else (eighths.index(c) + 1) / 8 for c in line if c in "█" + eighths)


def test_bars_are_proportional_to_log10_of_the_norm():
    chart = gradient_flow_table({"a": 1e-4, "b": 1e-2, "c": 1.0}, width=40).splitlines()
    lengths = [_bar_length(line) for line in chart[1:]]
    assert lengths == [pytest.approx(0.125), pytest.approx(20), pytest.approx(40)]
    assert chart[2].endswith("0.01")


def test_missing_and_infinite_norms_are_shown():
    chart = gradient_flow_table({"a": None, "b": float("inf"), "c": 1.0, "d": 10.0}, width=8)
    lines = chart.splitlines()
    assert lines[1].endswith("no grad") and _bar_length(lines[1]) == 0
    assert "!" * 8 in lines[2]
    with pytest.raises(ValueError, match="statistic"):
        monitor_chart("median")


def monitor_chart(statistic):
    model = vanishing_net()
    monitor = GradientMonitor(model)
    step(model, *classification_batch())
    monitor.record()
    return monitor, gradient_flow_table(monitor, statistic=statistic, width=30)


def test_a_monitor_chart_shows_vanishing_as_short_bars():
    monitor, chart = monitor_chart("last")
    lines = chart.splitlines()
    assert [line.split()[0] for line in lines[1:]] == [row.layer for row in monitor.report().rows]
    lengths = [_bar_length(line) for line in lines[1:]]
    assert lengths == sorted(lengths)  # the gradient shrinks towards the input
    assert lengths[0] == pytest.approx(0.125) and lengths[-1] == pytest.approx(30)


def test_png_only_with_matplotlib(tmp_path, monkeypatch):
    target = tmp_path / "flow.png"
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    assert plot_gradient_flow({"0": 1e-3, "2": 1.0}, str(target)) is False
    assert not target.exists()
    monkeypatch.undo()
    pytest.importorskip("matplotlib")
    assert plot_gradient_flow({"0": 1e-3, "2": 1.0}, str(target)) is True
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
