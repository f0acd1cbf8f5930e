"""Each examples/mistakes/ pair: the broken script is flagged at its MISTAKE line, its twin not."""

import runpy
import warnings
from pathlib import Path

import pytest

from gradwork.diagnose import TrainingMistakeWarning, Watcher

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "mistakes"

CHECKS = {
    "softmax_cross_entropy": "softmax_into_cross_entropy",
    "log_softmax_cross_entropy": "log_softmax_into_cross_entropy",
    "sigmoid_bce_with_logits": "sigmoid_into_bce_with_logits",
    "params_unreached": "params_unreached",
    "params_frozen": "params_frozen",
    "zero_grad_missing": "zero_grad_missing",
    "zero_grad_before_step": "zero_grad_before_step",
    "running_total": "graph_kept_alive",
    "eval_train_mode": "eval_in_train_mode",
    "eval_with_grad": "eval_with_grad",
    "loader_not_shuffled": "loader_not_shuffled",
    "same_batch": "same_batch",
    "labels_constant": "labels_constant",
    "normalisation_leak": "normalisation_leak",
    "scheduler_per_batch": "scheduler_per_batch",
    "scheduler_per_epoch": "scheduler_per_epoch",
}


def run(path: Path) -> tuple[Watcher, list]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        namespace = runpy.run_path(str(path), run_name="__main__")
    shown = [w for w in caught if issubclass(w.category, TrainingMistakeWarning)]
    return namespace["watcher"], shown


def test_every_example_has_a_twin_and_a_check():
    names = {p.stem.rsplit("_", 1)[0] for p in EXAMPLES.glob("*_broken.py")}
    twins = {p.stem.rsplit("_", 1)[0] for p in EXAMPLES.glob("*_fixed.py")}
    assert names == twins == set(CHECKS)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_broken_is_flagged_at_its_line(name, capsys):
    path = EXAMPLES / f"{name}_broken.py"
    marked = [i for i, line in enumerate(path.read_text().splitlines(), 1) if "# MISTAKE" in line]
    watcher, shown = run(path)
    assert watcher.errors == []
    findings = [f for f in watcher.findings if f.check == CHECKS[name]]
    assert len(findings) == 1, [str(f) for f in watcher.findings]
    finding = findings[0]
    assert Path(finding.evidence["file"]).resolve() == path
    assert finding.evidence["line"] == marked[0]
    assert finding.fix and not finding.passed
    # shown once, as a warning at the user's line
    at_line = [w for w in shown if w.lineno == marked[0] and CHECKS[name] in str(w.message)]
    assert len(at_line) == 1
    assert CHECKS[name] in capsys.readouterr().out  # the script prints its findings


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_fixed_twin_is_not_flagged(name):
    watcher, shown = run(EXAMPLES / f"{name}_fixed.py")
    assert watcher.findings == [] and shown == [] and watcher.errors == []
    assert not watcher.active
