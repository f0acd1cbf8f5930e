"""Issue 17: bad input never crashes or lies. One regression test (or more) per reported case.

Every refusal is exit code 2 with a message naming the config key or the file, and
nothing written; a diverged run is exit code 1 with its last good checkpoint kept
and the sealed test set unopened.
"""

from __future__ import annotations

import csv
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gradwork import train
from gradwork.data import write_idx
from gradwork.serialization import FileFormatError
from tests.cli.bad_inputs import (
    broken_checkpoints,
    config_text,
    files_under,
    only_run,
    run_cli,
    save_npz,
    tiny_arrays,
    umask,
    write_config,
)


def refused(tmp_path: Path, x, y, extra: str = "", *fragments: str) -> str:
    """Train on (x, y): exit 2, each fragment in the message, no output folder."""
    data = save_npz(tmp_path / "data.npz", x, y)
    config = write_config(tmp_path, config_text(data, extra))
    code, out, err = run_cli("train", config, "--output", tmp_path / "runs")
    assert code == 2, out + err
    assert err.startswith("gradwork train: error: ") and "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err
    assert not (tmp_path / "runs").exists()
    return err


@pytest.fixture(scope="module")
def good_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("good")
    data = save_npz(folder / "data.npz", *tiny_arrays())
    config = write_config(folder, config_text(data, "[train]\nepochs = 3\nprogress = true\n"))
    code, out, err = run_cli("train", config, "--output", folder / "runs")
    assert code == 0, out + err
    run = only_run(folder / "runs")
    (run / "stdout.txt").write_text(out)  # for the tests that read what train printed
    return run


# --------------------------------------------------------------- the dry run
def test_layers_that_do_not_fit_the_data(tmp_path):
    layers = '[[model.layers]]\ntype = "Linear"\nin_features = 7\nout_features = 3\n'
    refused(tmp_path, *tiny_arrays(), layers, "[model] fails", "in_features=4")


def test_too_few_outputs_for_the_labels(tmp_path):
    layers = '[[model.layers]]\ntype = "Linear"\nin_features = 4\nout_features = 2\n'
    refused(tmp_path, *tiny_arrays(), layers, "out_features = 3")


@pytest.mark.parametrize("loss", ["MSELoss", "L1Loss", "SmoothL1Loss"])
def test_a_regression_loss_on_a_classification_task(tmp_path, loss):
    refused(tmp_path, *tiny_arrays(), f'[loss]\nname = "{loss}"\n', f"loss.name = '{loss}'",
            "classification", "CrossEntropyLoss")  # fmt: skip


def test_a_classification_loss_on_a_regression_task(tmp_path):
    x, y = tiny_arrays()
    refused(tmp_path, x, y.astype(np.float32), '[loss]\nname = "NLLLoss"\n', "loss.name")


@pytest.mark.parametrize("shape", [(60,), (60, 0)])
def test_x_without_a_feature_axis(tmp_path, shape):
    _, y = tiny_arrays()
    refused(tmp_path, np.zeros(shape, np.float32), y, "", "x has shape", "data.path")


def test_x_and_y_of_different_lengths(tmp_path):
    x, y = tiny_arrays()
    refused(tmp_path, x, y[:-5], "", "data.path", "y has shape (55,)")


def test_two_dimensional_integer_labels(tmp_path):
    x, y = tiny_arrays()
    refused(tmp_path, x, y[:, None], "", "y.reshape(-1)")


@pytest.mark.parametrize("label", [-1, -5, -100])
def test_negative_labels(tmp_path, label):
    x, y = tiny_arrays()
    y[7] = label
    refused(tmp_path, x, y, "", f"label {label} (sample 7)", "data.path")


def test_a_label_the_loss_ignores_explicitly_is_allowed(tmp_path):
    x, y = tiny_arrays()
    y[7] = -100
    data = save_npz(tmp_path / "data.npz", x, y)
    config = write_config(tmp_path, config_text(data, "[loss]\nname = 'CrossEntropyLoss'\n"
                                                      "ignore_index = -100\n"))  # fmt: skip
    code, out, err = run_cli("train", config, "--output", tmp_path / "runs")
    assert code == 0, out + err


@pytest.mark.parametrize("label", [1_000_000, 50, 2**40, 10, 4])
def test_one_stray_huge_label(tmp_path, label):
    x, y = tiny_arrays()
    y[5] = label
    refused(tmp_path, x, y, "", f"label {label} (sample 5)", "data.classes")


def test_data_classes_is_honoured_and_checked(tmp_path):
    x, y = tiny_arrays()
    data = save_npz(tmp_path / "data.npz", x, y)
    config = write_config(
        tmp_path, config_text(data).replace("batch_size", "classes = 5\nbatch_size")
    )
    code, out, err = run_cli("train", config, "--output", tmp_path / "runs")
    assert code == 0, out + err
    assert json.loads((only_run(tmp_path / "runs") / "data.json").read_text())["outputs"] == 5
    y[0] = 5
    save_npz(tmp_path / "data.npz", x, y)
    code, _, err = run_cli("train", config, "--output", tmp_path / "runs2")
    assert code == 2 and "data.classes = 5" in err and not (tmp_path / "runs2").exists()


def test_a_single_class_is_refused(tmp_path):
    x, _ = tiny_arrays()
    refused(tmp_path, x, np.zeros(60, np.int64), "", "at least two classes")


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["x", "regression y"])
def test_non_finite_data(tmp_path, value, where):
    x, y = tiny_arrays()
    if where == "x":
        x[11, 2] = value
    else:
        y = y.astype(np.float32)
        y[11] = value
    refused(tmp_path, x, y, "", "non-finite", "index (11", "data.path")


def test_values_beyond_float32(tmp_path):
    x, y = tiny_arrays()
    refused(tmp_path, x.astype(np.float64) * 1e300, y, "", "non-finite", "float32")


@pytest.mark.parametrize("dtype", ["complex64", "U3", "datetime64[s]"])
def test_inputs_that_are_not_numbers(tmp_path, dtype):
    x, y = tiny_arrays()
    refused(tmp_path, x.astype(dtype), y, "", "dtype")


def test_an_npz_without_x_and_y(tmp_path):
    np.savez(tmp_path / "data.npz", a=np.zeros(3))
    config = write_config(tmp_path, config_text(tmp_path / "data.npz"))
    code, _, err = run_cli("train", config, "--output", tmp_path / "runs")
    assert code == 2 and "'x' and 'y'" in err and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("kind", ["empty", "truncated-half", "random-bytes", "pickle", "npy"])
def test_a_malformed_npz_data_file(tmp_path, kind):
    save_npz(tmp_path / "good.npz", *tiny_arrays())
    (tmp_path / "data.npz").write_bytes(
        broken_checkpoints((tmp_path / "good.npz").read_bytes())[kind]
    )
    config = write_config(tmp_path, config_text(tmp_path / "data.npz"))
    code, _, err = run_cli("train", config, "--output", tmp_path / "runs")
    assert code == 2, err
    assert "data.npz" in err and "Traceback" not in err and not (tmp_path / "runs").exists()


# --------------------------------------------------------------------- MNIST
def _mnist(folder: Path, labels: np.ndarray) -> Path:
    folder.mkdir()
    images = np.zeros((len(labels), 28, 28), np.uint8)
    write_idx(folder / "train-images-idx3-ubyte.gz", images)
    write_idx(folder / "train-labels-idx1-ubyte.gz", labels)
    return folder


@pytest.mark.parametrize("bad", [10, 255])
def test_mnist_labels_are_range_checked(tmp_path, bad):
    labels = np.arange(40, dtype=np.uint8) % 10
    labels[3] = bad
    root = _mnist(tmp_path / "mnist", labels)
    text = f'name = "m"\n[data]\nname = "mnist"\npath = "{root.as_posix()}"\n[train]\nepochs = 1\n'
    code, _, err = run_cli("train", write_config(tmp_path, text), "--output", tmp_path / "runs")
    assert code == 2 and f"label {bad} at position 3" in err and "train-labels" in err
    assert not (tmp_path / "runs").exists()


def test_missing_mnist_tells_cli_users_about_the_config_key(tmp_path):
    (tmp_path / "empty").mkdir()
    text = f'[data]\nname = "mnist"\npath = "{(tmp_path / "empty").as_posix()}"\n'
    code, _, err = run_cli("train", write_config(tmp_path, text), "--output", tmp_path / "runs")
    assert code == 2 and "data.download = true" in err and "download=True" not in err


# ---------------------------------------------- divergence and the test number
def test_a_diverged_run_exits_1_keeps_its_last_good_checkpoint_and_tests_nothing(tmp_path):
    data = save_npz(tmp_path / "data.npz", *tiny_arrays())
    extra = '[optimizer]\nname = "SGD"\nlr = 1e6\n[train]\nepochs = 5\nprogress = false\n'
    config = write_config(tmp_path, config_text(data, extra))
    code, out, err = run_cli("train", config, "--output", tmp_path / "runs")
    assert code == 1, out + err
    assert "training diverged" in err and "sealed test set was not evaluated" in err
    run = only_run(tmp_path / "runs")
    assert not (run / "tests.json").exists() and "test:" not in out
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["tests"] == []
    for name in ("last.npz", "best.npz"):
        path = run / "checkpoints" / name
        if path.exists():  # whatever was kept holds finite weights
            weights = train.load_checkpoint(path)["model"].values()
            assert all(np.isfinite(w).all() for w in weights)
    code, _, err = run_cli("evaluate", run, "--data", "test")
    assert code in (0, 2) and "Traceback" not in err


def test_nan_data_caught_by_the_loss_never_reaches_the_test_set(tmp_path, monkeypatch):
    """A NaN that slips past the data check (here: made by the loss) stops with exit 1."""
    from gradwork.cli import _build

    original = _build.build_callbacks

    class PoisonAfterFirstEpoch(train.Callback):
        def on_epoch_end(self, epoch, logs=None):
            for parameter in self.trainer.model.parameters():
                parameter.array[...] = np.nan

    monkeypatch.setattr(
        _build, "build_callbacks", lambda spec: [*original(spec), PoisonAfterFirstEpoch()]
    )
    data = save_npz(tmp_path / "data.npz", *tiny_arrays())
    config = write_config(tmp_path, config_text(data, epochs=3))
    code, out, err = run_cli("train", config, "--output", tmp_path / "runs")
    assert code == 1 and "training diverged" in err, out + err
    assert not (only_run(tmp_path / "runs") / "tests.json").exists()


def test_the_printed_test_number_is_the_models_that_predict_uses(good_run):
    printed = (good_run / "stdout.txt").read_text()
    record = json.loads((good_run / "tests.json").read_text())[0]
    best = train.load_checkpoint(good_run / "checkpoints" / "best.npz")
    assert record["epoch"] == int(best["position"]["epoch"])
    assert f"best checkpoint, checkpoints/best.npz after epoch {record['epoch']}" in printed
    code, out, _ = run_cli("evaluate", good_run, "--data", "test", "--force")
    assert code == 0
    again = json.loads((good_run / "tests.json").read_text())[-1]["metrics"]
    assert again == record["metrics"]  # the same weights: predict's default, best.npz
    line = next(ln for ln in printed.splitlines() if ln.startswith("test: "))
    assert line == out.strip().splitlines()[0].replace("test: ", "test: ", 1)


# ---------------------------------------------------------------- checkpoints
@pytest.mark.parametrize("kind", sorted(broken_checkpoints(b"0" * 300)))
def test_malformed_checkpoints_are_one_clear_error(good_run, tmp_path, kind):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(good_run, run)
    good = (run / "checkpoints" / "best.npz").read_bytes()
    bad = broken_checkpoints(good)[kind]
    for name in ("best.npz", "last.npz"):
        (run / "checkpoints" / name).write_bytes(bad)
    np.save(tmp_path / "x.npy", np.zeros((2, 4), np.float32))
    for argv in (("evaluate", run), ("predict", run, tmp_path / "x.npy"),
                 ("train", "--resume", run), ("report", run)):  # fmt: skip
        before = sorted(p.name for p in files_under(run))
        code, out, err = run_cli(*argv)
        assert code in (0, 2) and "Traceback" not in err, (argv, out, err)
        if code == 2:
            assert "checkpoints/" in err and ".npz" in err, err
        assert sorted(p.name for p in files_under(run)) == before
    with pytest.raises(FileFormatError, match="best.npz"):
        train.load_checkpoint(run / "checkpoints" / "best.npz")


def test_a_checkpoint_of_another_model_is_refused(good_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(good_run, run)
    train.save_checkpoint({"model": {"0.weight": np.zeros((2, 2))}, "position": {"epoch": 1}},
                          run / "checkpoints" / "best.npz")  # fmt: skip
    code, _, err = run_cli("evaluate", run)
    assert code == 2 and "does not fit this run's model" in err and "best.npz" in err


def test_damaged_run_folder_json(good_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(good_run, run)
    (run / "data.json").write_text("{not json")
    code, _, err = run_cli("evaluate", run)
    assert code == 2 and "data.json" in err
    (run / "config.json").write_text("[1, 2]")
    code, _, err = run_cli("evaluate", run)
    assert code == 2 and "config.json" in err


# -------------------------------------------------------------------- predict
@pytest.mark.parametrize("kind", ["all-nan", "one-inf", "object", "npz", "random", "empty", "0-d"])
def test_predict_refuses_inputs_it_cannot_answer(good_run, tmp_path, kind):
    path = tmp_path / "x.npy"
    samples = np.zeros((3, 4), np.float32)
    if kind == "all-nan":
        np.save(path, np.full((3, 4), np.nan, np.float32))
    elif kind == "one-inf":
        samples[1, 1] = np.inf
        np.save(path, samples)
    elif kind == "object":
        np.save(path, np.array([{}, 1], dtype=object), allow_pickle=True)
    elif kind == "npz":
        np.savez(path, x=samples)
        path.with_suffix(".npy.npz").rename(path)
    elif kind == "random":
        path.write_bytes(np.random.default_rng(0).bytes(300))
    elif kind == "empty":
        np.save(path, np.zeros((0, 4), np.float32))
    else:
        np.save(path, np.float32(1.0))
    code, out, err = run_cli("predict", good_run, path)
    assert code == 2 and "INPUT" in err and "x.npy" in err and out == "", (out, err)


# ------------------------------------------------------------------ run names
@pytest.mark.parametrize(
    "name", ["x/../../../foo", "../escape", "/abs/path", "a\\\\b", "", "..", "tab\\there"]
)
@pytest.mark.parametrize("command", ["train", "tune"])
def test_run_names_cannot_leave_the_output_folder(tmp_path, name, command):
    work = tmp_path / "work"
    work.mkdir()
    data = save_npz(work / "data.npz", *tiny_arrays())
    text = config_text(data, name=None).replace("seed = 0\n", f'name = "{name}"\nseed = 0\n', 1)
    if command == "tune":
        text += '[tune]\nn_trials = 1\n[tune.space]\n"optimizer.lr" = {type = "float", ' \
                "low = 0.001, high = 0.1}\n"  # fmt: skip
    config = write_config(work, text)
    before = files_under(tmp_path)
    code, _, err = run_cli(command, config, "--output", work / "runs")
    assert code == 2 and "name = " in err, err
    assert files_under(tmp_path) == before  # nothing written, inside or outside runs/


# ------------------------------------------------ temp files, modes, numbering
def test_stale_temporaries_are_removed_when_a_run_resumes(good_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(good_run, run)
    stale = [run / "checkpoints" / ".last.npz.1a2b3c4d.tmp", run / ".summary.json.ffffeeee.tmp"]
    for path in stale:
        path.write_bytes(b"half a file")
    code, out, err = run_cli("train", "--resume", run, "--epochs", "4")
    assert code == 0, out + err
    assert not any(path.exists() for path in stale)
    assert not list(run.rglob("*.tmp"))


def test_every_file_of_a_run_folder_has_the_same_mode(good_run):
    expected = 0o666 & ~umask()
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in good_run.rglob("*") if p.is_file()}
    assert set(modes.values()) == {expected}, modes


def test_epochs_are_numbered_from_1_everywhere(good_run):
    printed = (good_run / "stdout.txt").read_text()
    rows = list(csv.DictReader(open(good_run / "history.csv")))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    summary = json.loads((good_run / "summary.json").read_text())
    assert {b["epoch"] for b in summary["best"].values()} <= {1, 2, 3}
    best = summary["best"]["val_loss"]["epoch"]
    assert json.loads((good_run / "tests.json").read_text())[0]["epoch"] == best
    assert "epoch 1/3" in printed and "epoch 0" not in printed


def test_early_stopping_says_that_it_stopped(tmp_path):
    x, y = tiny_arrays()
    data = save_npz(tmp_path / "data.npz", x, y)
    extra = (
        "[train]\nepochs = 30\nprogress = false\n"
        "[callbacks.early_stopping]\nmonitor = 'loss'\npatience = 1\nmin_delta = 10.0\n"
    )
    code, out, err = run_cli("train", write_config(tmp_path, config_text(data, extra)),
                             "--output", tmp_path / "runs")  # fmt: skip
    assert code == 0, out + err
    assert "early stopping: loss did not improve for 1 epoch(s); stopped after epoch 2 of 30" in out


# ------------------------------------------------------- the command line itself
def test_version_and_python_dash_m(tmp_path):
    from gradwork import __version__

    with pytest.raises(SystemExit) as exit_:
        run_cli("--version")
    assert exit_.value.code == 0
    result = subprocess.run([sys.executable, "-m", "gradwork", "--version"],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0 and result.stdout.strip().startswith("gradwork ")
    assert __version__.split(".")[0] in result.stdout
    result = subprocess.run([sys.executable, "-m", "gradwork", "evaluate", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_the_scipy_hint_fits_a_clone_install():
    from gradwork.tune.algorithms import _simple

    source = Path(_simple.__file__).read_text()
    assert "gradwork[tune]" not in source and "pip install scipy" in source


def test_report_on_a_study_folder(tmp_path):
    study = tmp_path / "20250101-000000-s-tune"
    study.mkdir()
    (study / "tune.toml").write_text("[tune]\n")
    (study / "trials.csv").write_text("number,state,value\n0,COMPLETE,0.5\n1,COMPLETE,0.75\n")
    summary = {"metric": "val_accuracy", "direction": "maximize", "n_trials": 2,
               "states": {"COMPLETE": 2}, "best_trial": 1, "best_value": 0.75,
               "best_params": {"optimizer.lr": 0.0123456}}  # fmt: skip
    (study / "summary.json").write_text(json.dumps(summary))
    code, out, err = run_cli("report", study)
    assert code == 0, err
    assert "best trial 1: val_accuracy = 0.75" in out and "optimizer.lr = 0.01235" in out
    assert "top trials: #1 0.75, #0 0.5" in out
    (study / "summary.json").unlink()
    code, out, _ = run_cli("report", study)
    assert code == 0 and "gradwork tune --resume" in out


def test_no_traceback_from_a_subprocess_on_bad_data(tmp_path):
    x, y = tiny_arrays()
    y[0] = -1
    data = save_npz(tmp_path / "data.npz", x, y)
    config = write_config(tmp_path, config_text(data))
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(
        [sys.executable, "-m", "gradwork", "train", str(config), "--output", str(tmp_path / "r")],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "label -1" in result.stderr and not (tmp_path / "r").exists()
