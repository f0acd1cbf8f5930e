"""`gradwork tune CONFIG.toml` end to end on a tiny moons study."""

from __future__ import annotations

import csv
import json
import struct
from pathlib import Path

import pytest

from gradwork.cli import main
from gradwork.train.config import load_toml
from tests.cli.test_cli import only_run

TUNE = """
name = "tiny"
seed = 2
[data]
name = "moons"
n_samples = 200
split = [0.6, 0.2, 0.2]
batch_size = 32
[model]
arch = "mlp"
hidden = [8]
[train]
epochs = 4
progress = false
metrics = ["accuracy"]
[tune]
algorithm = "random"
n_trials = 6
metric = "val_accuracy"
pruner = "asha"
reduction_factor = 4
[tune.space]
"optimizer.lr" = {type = "float", low = 1e-4, high = 0.3, log = true}
"optimizer.name" = {type = "categorical", choices = ["Adam", "SGD"]}
"optimizer.momentum" = {type = "float", low = 0.0, high = 0.9, when = ["optimizer.name", "SGD"]}
"model.hidden" = {type = "categorical", choices = [[4], [16, 16]]}
"""


def run_tune(tmp_path: Path, text: str = TUNE, *extra: str) -> tuple[int, Path]:
    config = tmp_path / "tune.toml"
    config.write_text(text)
    code = main(["tune", str(config), "--output", str(tmp_path / "runs"), *extra])
    return code, tmp_path / "runs"


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_tune_writes_a_consistent_study_folder(tmp_path, capsys):
    code, runs = run_tune(tmp_path)
    assert code == 0
    study = only_run(runs)
    assert study.name.endswith("-tiny-tune")
    out = capsys.readouterr().out
    rows = read_csv(study / "trials.csv")
    assert [int(row["number"]) for row in rows] == list(range(6))
    assert {"optimizer.lr", "model.hidden", "duration", "pruned_at_epoch"} <= set(rows[0])
    pruned = [row for row in rows if row["state"] == "PRUNED"]
    assert pruned and all(row["pruned_at_epoch"] in ("1", "4") for row in pruned)
    complete = [row for row in rows if row["state"] == "COMPLETE"]
    summary = json.loads((study / "summary.json").read_text())
    assert summary["best_value"] == max(float(row["value"]) for row in complete)
    best_row = rows[summary["best_trial"]]
    assert float(best_row["optimizer.lr"]) == summary["best_params"]["optimizer.lr"]
    importance = json.loads((study / "importance.json").read_text())
    assert importance["completed"] == len(complete) < importance["needed"]
    assert importance["shares"] == {}  # too few completed trials to mean anything
    best = load_toml(study / "best_config.toml")
    assert "tune" not in best
    assert best["optimizer"]["lr"] == summary["best_params"]["optimizer.lr"]
    assert json.dumps(best["model"]["hidden"]) == summary["best_params"]["model.hidden"]
    tests = json.loads((study / "final" / "tests.json").read_text())
    assert len(tests) == 1  # the sealed test set, opened exactly once
    final = summary["final"]
    assert final["value"] == tests[0]["metrics"]["accuracy"]
    assert final["ci_low"] <= final["value"] <= final["ci_high"]
    assert final["train_examples"] == 160
    assert f"test accuracy = {final['value']:.4f} (95% bootstrap CI" in out
    assert "test set evaluated once" in out


def test_best_config_trains_with_gradwork_train(tmp_path):
    code, runs = run_tune(tmp_path, TUNE.replace("n_trials = 6", "n_trials = 2"))
    assert code == 0
    study = only_run(runs)
    output = tmp_path / "again"
    assert main(["train", str(study / "best_config.toml"), "--output", str(output)]) == 0
    run = only_run(output)
    trained = json.loads((run / "config.json").read_text())
    best = json.loads((study / "summary.json").read_text())["best_params"]
    assert trained["optimizer"]["lr"] == best["optimizer.lr"]


def test_study_pictures_are_pngs(tmp_path):
    pytest.importorskip("matplotlib")
    assert run_tune(tmp_path, TUNE.replace("n_trials = 6", "n_trials = 3"))[0] == 0
    study = only_run(tmp_path / "runs")
    assert (study / "report.html").is_file() and (study / "final" / "report.html").is_file()
    for name in ("history.png", "final/plots/learning_curves.png"):  # importance: >= 10 trials
        data = (study / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        width, height = struct.unpack(">II", data[16:24])
        assert width > 400 and height > 150, (name, width, height)


def interrupting(original, number):
    """The objective's __call__, raising KeyboardInterrupt (Ctrl-C) when trial `number` starts."""

    def call(objective, trial, fold=None):
        if trial.number == number:
            raise KeyboardInterrupt
        return original(objective, trial, fold)

    return call


def test_interrupted_study_resumes_from_its_journal(tmp_path, capsys, monkeypatch):
    from gradwork.tune.training import TrainingObjective

    original = TrainingObjective.__call__
    monkeypatch.setattr(TrainingObjective, "__call__", interrupting(original, 3))
    code, runs = run_tune(tmp_path)
    assert code == 130
    study = only_run(runs)
    assert f"resume with: gradwork tune --resume {study}" in capsys.readouterr().err
    assert not (study / "final").exists() and not (study / "trials.csv").exists()
    before = [json.loads(line) for line in (study / "journal.jsonl").read_text().splitlines()]
    asked = [e["params"] for e in before if e.get("event") == "ask"]
    monkeypatch.setattr(TrainingObjective, "__call__", original)
    assert main(["tune", "--resume", str(study)]) == 0
    rows = read_csv(study / "trials.csv")
    assert len(rows) == 7  # 6 finished + the one cut off (failed, "interrupted", then retried)
    assert rows[3]["state"] == "FAILED"
    assert sum(row["state"] != "FAILED" for row in rows) == 6
    for number in range(3):
        assert float(rows[number]["optimizer.lr"]) == asked[number]["optimizer.lr"]
    assert float(rows[4]["optimizer.lr"]) == asked[3]["optimizer.lr"]  # retried first
    assert len(json.loads((study / "final" / "tests.json").read_text())) == 1
    assert main(["tune", "--resume", str(study)]) == 0  # done already: no second test
    assert "not evaluated again" in capsys.readouterr().out
    assert len(json.loads((study / "final" / "tests.json").read_text())) == 1


BAD = [
    ("n_trial = 3", "[tune]", "unknown key 'tune.n_trial'. Did you mean 'n_trials'?"),
    ('n_trials = "6"', "n_trials = 6", "tune.n_trials = '6' has type string; expected an integer"),
    ('algorithm = "tpee"', 'algorithm = "random"', "Did you mean 'tpe'?"),
    ('pruner = "ashaa"', 'pruner = "asha"', "Did you mean 'asha'?"),
    ('metric = "val_acc"', 'metric = "val_accuracy"', "tune.metric = 'val_acc'"),
    ("low = 0.3, high = 1e-4", "low = 1e-4, high = 0.3", "low=0.3 is greater than high=0.0001"),
    ('"model.hiden" = ', '"model.hidden" = ', "Did you mean 'model.hidden'?"),
    ('"optimizer.lrr" = ', '"optimizer.lr" = ', "unknown key 'optimizer.lrr'"),
    ('type = "flot"', 'type = "float"', "Did you mean 'float'?"),
    ("lo = 1e-4", "low = 1e-4", "unknown key 'lo'"),
    ('"data.batch_size" = {type = "float", low = 8, high = 64}\n', "", "expected an integer"),
    (
        '"optimizer.momentum" = {type = "float", low = 0.0, high = 0.9}\n',
        '"optimizer.momentum" = {type = "float", low = 0.0, high = 0.9, '
        'when = ["optimizer.name", "SGD"]}\n',
        "momentum",
    ),
    ("epochs = 0", "epochs = 4", "train.epochs = 0 must be at least 1"),
    ("cv = 3", "[tune]", "epoch pruning does not apply across folds"),
    ('executor = "threads"', "[tune]", 'use executor = "processes"'),
    ("", "[tune.space]", "[tune.space] is missing or empty"),
]


@pytest.mark.parametrize("new, old, message", BAD, ids=[case[2][:30] for case in BAD])
def test_bad_configs_exit_2_and_write_nothing(tmp_path, capsys, new, old, message):
    if old in ("[tune]",):
        text = TUNE.replace(old, f"{old}\n{new}")
    elif old == "[tune.space]":
        text = TUNE[: TUNE.index(old)]
    elif old == "":
        text = TUNE + new
    else:
        assert old in TUNE, old
        text = TUNE.replace(old, new, 1)
    if new.startswith('"optimizer.momentum"'):
        text = text.replace(
            '"optimizer.name" = {type = "categorical", choices = ["Adam", "SGD"]}', ""
        )
    code, runs = run_tune(tmp_path, text)
    assert code == 2
    assert message in capsys.readouterr().err
    assert not runs.exists()  # nothing written
