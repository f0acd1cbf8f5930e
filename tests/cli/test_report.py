"""`gradwork report RUN_DIR [--doctor]` on tiny run folders, and `[callbacks.monitor]`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from gradwork import train
from gradwork.cli import main
from gradwork.cli._report import history_section, sparkline
from tests.cli.test_cli import TINY, only_run, write

MONITORED = TINY.replace("epochs = 3", "epochs = 4") + (
    "[callbacks.monitor]\ngradients = true\nactivations = true\nevery = 3\n"
)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A trained tiny run whose sealed test set was also re-opened once with --force."""
    folder = tmp_path_factory.mktemp("report")
    config = write(folder, MONITORED)
    assert main(["train", str(config), "--output", str(folder / "runs")]) == 0
    path = only_run(folder / "runs")
    assert main(["evaluate", str(path), "--data", "test", "--force"]) == 0
    return path


def report(capsys, *argv) -> str:
    capsys.readouterr()
    assert main(["report", *map(str, argv)]) == 0
    return capsys.readouterr().out


def history_rows(path: Path) -> list[dict]:
    with open(path / "history.csv", newline="") as stream:
        return list(csv.DictReader(stream))


def test_monitor_config_wires_the_callbacks_into_training(run):
    rows = history_rows(run)
    assert len(rows) == 4
    assert {"grad_norm", "update_ratio", "dead_relu_fraction"} <= set(rows[0])
    assert all(float(row["grad_norm"]) > 0 for row in rows)
    saved = json.loads((run / "diagnostics.json").read_text())
    assert set(saved) == {"gradient monitor", "activation monitor"}
    assert saved["gradient monitor"]["recorded_steps"] == 14  # 40 steps, one in 3
    assert json.loads((run / "config.json").read_text())["callbacks"]["monitor"] == {
        "gradients": True,
        "activations": True,
        "every": 3,
    }


def test_report_shows_config_history_tests_checkpoints_and_monitors(run, capsys):
    out = report(capsys, run)
    rows = history_rows(run)
    assert out.startswith(f"run {run.name} (moons)\nstatus: completed  ·  4 epochs, 40 steps")
    assert "  optimizer  Adam(lr=0.05)" in out and "  seeds      seed 3, split_seed 3" in out
    assert "loss       auto → CrossEntropyLoss" in out
    assert "monitor(gradients, activations, every 3)" in out
    losses = [float(r["val_loss"]) for r in rows]
    best = losses.index(min(losses))
    assert f"val_loss {min(losses):.4g} (epoch {best + 1})" in out
    table = out.split("history (4 epochs; * = best val_loss)\n")[1].splitlines()
    assert table[0].split() == ["epoch", *list(rows[0])[1:]]
    assert [line.split()[0] for line in table[1:5]] == [
        f"{i + 1}{'*' if i == best else ''}" for i in range(4)
    ]
    assert table[1].split()[1] == f"{float(rows[0]['loss']):.4g}"
    spark = next(line for line in table if line.startswith("loss "))
    assert spark.split()[1] == sparkline([float(r["loss"]) for r in rows])
    tests = json.loads((run / "tests.json").read_text())
    assert "test set: evaluated 2 times" in out
    assert f"  {tests[0]['time']}  after epoch 4  loss" in out
    assert out.count("FORCED") == 1 and tests[1]["forced"]
    best_weights = train.load_checkpoint(run / "checkpoints" / "best.npz")["position"]["epoch"]
    assert tests[1]["epoch"] == best_weights >= 1  # evaluate records the checkpoint's epoch
    assert f"  {tests[1]['time']}  after epoch {best_weights}  loss" in out
    assert "checkpoints: best.npz (" in out and "last.npz (" in out
    assert "  gradient monitor (14 of 40 training steps recorded):" in out


def test_report_doctor_rebuilds_the_setup_and_prints_the_checklist(run, capsys):
    out = report(capsys, run, "--doctor")
    doctor = out.split("doctor (the run's setup rebuilt from config.json, one training batch)\n")
    assert len(doctor) == 2
    lines = doctor[1].splitlines()
    assert lines[0] == "gradwork doctor: all checks passed"
    checks = [line.split(":")[0] for line in lines[1:]]
    assert "✓ label_range" in checks and "✓ overfit_one_batch" in checks
    assert "✓ update_ratio" in checks  # the run's own Adam was given to the doctor
    assert "initial loss" in doctor[1] and "log(2)" in doctor[1]


def test_bad_input_exits_2_with_a_clear_message(tmp_path, capsys):
    cases = [
        (tmp_path / "missing", "no such folder"),
        (tmp_path, "not a run folder (no config.json)"),
        (write(tmp_path, "x", "file.txt"), "not a folder"),
    ]
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    cases.append((broken, "config.json is not valid JSON"))
    for path, message in cases:
        assert main(["report", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("gradwork report: error: ") and message in err
    with pytest.raises(SystemExit) as exit_info:
        main(["report", str(tmp_path), "--doctr"])
    assert exit_info.value.code == 2


def test_a_run_folder_without_history_still_reports(tmp_path, capsys):
    (tmp_path / "config.json").write_text(json.dumps({"name": "early"}))
    out = report(capsys, tmp_path)
    assert "status: no summary.json yet" in out
    assert "history: no epoch finished yet" in out
    assert "test set: not evaluated (sealed)" in out and "checkpoints: none" in out


def test_long_histories_show_the_ends_and_the_best_epoch(tmp_path):
    lines = ["epoch,loss,val_loss"]
    lines += [f"{i},{1 / (i + 1)},{abs(i - 14) + 0.5}" for i in range(30)]
    (tmp_path / "history.csv").write_text("\n".join(lines) + "\n")
    text = history_section(tmp_path / "history.csv", "val_loss")
    epochs = [line.split()[0] for line in text.splitlines()[2:14] if line.startswith("  ")]
    assert epochs == ["1", "2", "3", "4", "…", "15*", "…", "26", "27", "28", "29", "30"]
    assert "val_loss 0.5 (epoch 15)" in text and "loss 0.03333 (epoch 30)" in text


def test_sparkline_scales_and_buckets():
    assert sparkline([1.0, 2.0, 3.0]) == "▁▅█"
    assert sparkline([2.0, 2.0]) == "▁▁"  # flat: no division by zero
    assert (
        sparkline([float(i) for i in range(100)], width=10) == "▁▂▃▃▄▅▆▆▇█"
    )  # bucket means 4.5, 14.5, ..., 94.5
