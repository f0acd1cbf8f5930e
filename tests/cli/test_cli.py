"""`gradwork train / evaluate / predict` end to end on tiny configurations."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from gradwork import train
from gradwork.cli import main

TINY = """
name = "moons"
seed = 3
[data]
name = "moons"
n_samples = 200
batch_size = 16
[model]
arch = "mlp"
hidden = [16]
dropout = 0.1
[optimizer]
name = "Adam"
lr = 0.05
[train]
epochs = 3
progress = false
metrics = ["accuracy", "f1"]
[callbacks.early_stopping]
patience = 5
"""


def write(tmp_path: Path, text: str = TINY, name: str = "tiny.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def only_run(parent: Path) -> Path:
    runs = list(parent.iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def train_tiny(tmp_path, *extra) -> Path:
    assert main(["train", str(write(tmp_path)), "--output", str(tmp_path / "runs"), *extra]) == 0
    return only_run(tmp_path / "runs")


def test_train_writes_a_complete_run_folder(tmp_path, capsys):
    run = train_tiny(tmp_path)
    out = capsys.readouterr().out
    assert run.name.endswith("-moons")
    # plots/ (the PNGs of report.html) exists where matplotlib is installed
    assert sorted(p.name for p in run.iterdir() if p.name != "plots") == [
        "checkpoints",
        "config.json",
        "config.toml",
        "data.json",
        "history.csv",
        "report.html",
        "seeds.json",
        "summary.json",
        "tests.json",
    ]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.npz", "last.npz"]
    config = json.loads((run / "config.json").read_text())
    assert config["optimizer"] == {"name": "Adam", "lr": 0.05} and config["seed"] == 3
    assert config["callbacks"]["early_stopping"]["enabled"] is True
    assert json.loads((run / "seeds.json").read_text())["seed"] == 3
    rows = list(csv.DictReader(open(run / "history.csv")))
    assert len(rows) == 3 and {"loss", "accuracy", "f1", "val_loss", "val_f1", "lr"} <= set(rows[0])
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_completed"] == 3
    test = summary["tests"][0]
    assert test["forced"] is False
    assert f"test: loss {test['metrics']['loss']:.4f}" in out
    assert f"accuracy {test['metrics']['accuracy']:.4f}" in out
    assert test["metrics"]["accuracy"] > 0.7  # moons are easy
    assert f"run folder: {run}" in out


def test_evaluate_predict_and_the_sealed_test_set(tmp_path, capsys):
    run = train_tiny(tmp_path)
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", "val"]) == 0
    assert capsys.readouterr().out.startswith("val: loss ")
    assert main(["evaluate", str(run), "--data", "test"]) == 2
    assert "sealed" in capsys.readouterr().err
    assert main(["evaluate", str(run), "--data", "test", "--force"]) == 0
    records = json.loads((run / "tests.json").read_text())
    assert [r["forced"] for r in records] == [False, True]

    samples = np.array([[0.0, 1.0], [1.0, -0.5], [2.0, 0.5]], dtype=np.float32)
    np.save(tmp_path / "x.npy", samples)
    assert (
        main(["predict", str(run), str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")])
        == 0
    )
    labels = np.load(tmp_path / "y.npy")
    assert labels.shape == (3,) and set(labels.tolist()) <= {0, 1}
    capsys.readouterr()
    assert main(["predict", str(run), str(tmp_path / "x.npy")]) == 0
    assert capsys.readouterr().out.split() == [str(v) for v in labels]
    assert main(["predict", str(run), str(tmp_path / "missing.npy")]) == 2
    np.save(tmp_path / "wrong.npy", np.zeros((2, 3), np.float32))
    assert main(["predict", str(run), str(tmp_path / "wrong.npy")]) == 2
    assert "the model expects (2,)" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "nowhere")]) == 2


class CtrlC(train.Callback):
    def on_batch_end(self, batch, logs=None):
        if self.trainer.global_step == 13:
            raise KeyboardInterrupt


def test_ctrl_c_saves_and_resume_is_exact(tmp_path, capsys, monkeypatch):
    (tmp_path / "a").mkdir()
    reference = train_tiny(tmp_path / "a")
    from gradwork.cli import _build

    original = _build.build_callbacks
    monkeypatch.setattr(_build, "build_callbacks", lambda spec: [*original(spec), CtrlC()])
    config = write(tmp_path)
    assert main(["train", str(config), "--output", str(tmp_path / "b")]) == 130
    err = capsys.readouterr().err
    run = only_run(tmp_path / "b")
    assert "interrupted at epoch 2, batch 3" in err
    assert f"resume with: gradwork train --resume {run}" in err
    assert not (run / "tests.json").exists()
    monkeypatch.setattr(_build, "build_callbacks", original)
    assert main(["train", "--resume", str(run)]) == 0
    expected = train.load_checkpoint(reference / "checkpoints" / "last.npz")["model"]
    resumed = train.load_checkpoint(run / "checkpoints" / "last.npz")["model"]
    for name, value in expected.items():
        assert np.array_equal(resumed[name], value), name
    assert len(list(csv.DictReader(open(run / "history.csv")))) == 3


def test_resume_extends_epochs(tmp_path):
    run = train_tiny(tmp_path, "--epochs", "2")
    assert main(["train", "--resume", str(run), "--epochs", "4"]) == 0
    assert len(list(csv.DictReader(open(run / "history.csv")))) == 4
    assert main(["train", "--resume", str(tmp_path / "nothing")]) == 2


BAD_BUILDS = [
    ('[optimizer]\nname = "Adma"', ["optimizer.name = 'Adma'", "Did you mean 'Adam'?"]),
    (
        '[optimizer]\nname = "Adam"\nmomentum = 0.9',
        ["unknown key 'optimizer.momentum' for Adam", "Valid keys: lr, betas"],
    ),
    (
        '[optimizer]\nname = "SGD"\nlr = 0.1\nnesterov = "yes"',
        ["optimizer.nesterov = 'yes'", "expected true or false"],
    ),
    ('[loss]\nname = "CrossEntropy"', ["loss.name = 'CrossEntropy'", "CrossEntropyLoss"]),
    (
        '[scheduler]\nname = "StepLR"\nstep_sise = 2',
        ["unknown key 'scheduler.step_sise' for StepLR", "Did you mean 'step_size'?"],
    ),
    ('[model]\narch = "cnn"', ["needs image inputs", "use 'mlp'"]),
    (
        '[[model.layers]]\ntype = "Linear"\nin_features = 2\nout_feature = 2',
        ["unknown key 'model.layers[0].out_feature' for Linear", "'out_features'"],
    ),
    ('[[model.layers]]\ntype = "Lineer"', ["model.layers[0].type = 'Lineer'", "'Linear'"]),
    (
        '[[model.layers]]\ntype = "Linear"\nin_features = "two"\nout_features = 2',
        ["model.layers[0].in_features = 'two'"],
    ),
    ('[train]\nmetrics = ["acuracy"]', ["unknown metric 'acuracy'", "Did you mean 'accuracy'"]),
    (
        "[data]\nsplit = [0.9, 0.0, 0.1]\n[callbacks.early_stopping]\npatience = 1",
        ["needs validation data"],
    ),
]


@pytest.mark.parametrize(
    "text,fragments", BAD_BUILDS, ids=[b[0].split("\n")[-1] for b in BAD_BUILDS]
)
def test_bad_classes_and_arguments_exit_2_before_any_file(tmp_path, capsys, text, fragments):
    data = '[data]\nname = "moons"\nn_samples = 50\n'
    body = text[len("[data]\n") :] if text.startswith("[data]\n") else text
    config = write(tmp_path, data + body)
    code = main(["train", str(config), "--output", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2, err
    for fragment in fragments:
        assert fragment in err
    assert not (tmp_path / "runs").exists()


def test_subprocess_entry_point(tmp_path):
    config = write(tmp_path, TINY.replace("epochs = 3", "epochs = 1").replace("= false", "= true"))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gradwork.cli",
            "train",
            str(config),
            "--output",
            str(tmp_path / "runs"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "test: loss" in result.stdout and "epoch 1/1" in result.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "gradwork.cli", "train", str(tmp_path / "no.toml")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert bad.returncode == 2 and "config file not found" in bad.stderr


@pytest.mark.slow
def test_default_train_reaches_95_percent_on_digits_within_a_minute(tmp_path):
    """`gradwork train` with no argument: the digits CNN (about 6 s on one idle core).

    NOTE: BLAS is held to one thread: on a loaded 2-core machine, two BLAS threads
    per process oversubscribe the cores and the same run takes minutes.
    """
    threads = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    env = {**os.environ, **threads, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "gradwork.cli", "train"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    seconds = time.perf_counter() - start
    assert result.returncode == 0, result.stderr
    run = only_run(tmp_path / "runs")
    accuracy = json.loads((run / "tests.json").read_text())[0]["metrics"]["accuracy"]
    assert f"accuracy {accuracy:.4f}" in result.stdout
    assert accuracy >= 0.95, result.stdout
    assert seconds < 60, f"took {seconds:.1f} s"
