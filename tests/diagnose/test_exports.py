"""Meta-test: every export of gradwork.diagnose is exercised by a test of this folder."""

from pathlib import Path

import pytest

import gradwork.diagnose as diagnose
from gradwork.diagnose import (
    ActivationMonitor,
    ActivationReport,
    DoctorReport,
    Finding,
    GradientMonitor,
    GradientRecord,
    GradientReport,
    LayerActivations,
    LayerGradients,
    doctor,
)
from tests.diagnose._nets import classification_batch, healthy_net, step

HERE = Path(__file__).parent
# gradcheck predates this folder; its tests live with the core (tests/core).
TESTED_ELSEWHERE = {"gradcheck", "GradcheckError", "GradcheckReport"}


def test_every_export_has_a_test():
    # used = named in a test file beyond its import: twice in the whole file, or once
    # in this file's tests below this one
    texts = [path.read_text() for path in HERE.glob("test_*.py") if path.name != "test_exports.py"]
    below = Path(__file__).read_text().split("def test_every_export_has_a_test")[-1]
    untested = [
        name
        for name in diagnose.__all__
        if name not in TESTED_ELSEWHERE
        and name not in below
        and not any(text.count(name) >= 2 for text in texts)
    ]
    assert untested == [], f"exports without a test in tests/diagnose: {untested}"


def test_report_types():
    model = healthy_net()
    monitor = GradientMonitor(model)
    step(model, *classification_batch())
    monitor.record()
    report = monitor.report()
    assert isinstance(report, GradientReport) and isinstance(report.rows[0], LayerGradients)
    assert isinstance(monitor.history[0], GradientRecord)
    with ActivationMonitor(model) as activations:
        model(classification_batch()[0])
    assert isinstance(activations.report(), ActivationReport)
    assert isinstance(activations.layers["1"], LayerActivations)
    assert isinstance(doctor(model, lambda o, t: (o**2).mean(), (classification_batch()[0],
                                                                 classification_batch()[1])),
                      DoctorReport)  # fmt: skip


def test_finding_rendering_and_validation():
    bad = Finding("input_scale", "error", "std 73", {"std": 73.0}, fix="standardise")
    assert (bad.passed, str(bad)) == (False, "✗ input_scale [error]: std 73\n    fix: standardise")
    good = Finding("input_scale", "ok", "std 1", fix="never shown")
    assert (good.passed, str(good)) == (True, "✓ input_scale: std 1")
    assert str(Finding("update_ratio", "info", "skipped")) == "· update_ratio: skipped"
    with pytest.raises(ValueError, match="severity"):
        Finding("x", "fatal", "no such severity")
