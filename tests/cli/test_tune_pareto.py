"""`gradwork tune` with several objectives: accuracy against parameter count."""

from __future__ import annotations

import json

import pytest

from gradwork.cli import main
from gradwork.cli._tune_config import resolve_tune
from gradwork.train.config import load_toml
from tests.cli.test_cli import only_run
from tests.cli.test_tune_cli import read_csv, run_tune

PARETO = """
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
epochs = 3
progress = false
metrics = ["accuracy"]
[tune]
algorithm = "ga"
n_trials = 8
metric = ["val_accuracy", "n_parameters"]
directions = ["maximize", "minimize"]
[tune.space]
"optimizer.lr" = {type = "float", low = 1e-3, high = 0.3, log = true}
"model.hidden" = {type = "categorical", choices = [[2], [4], [16], [8, 8], [32, 32]]}
"""


def mlp_parameters(hidden: list[int], inputs: int = 2, outputs: int = 2) -> int:
    sizes = [inputs, *hidden, outputs]
    return sum(a * b + b for a, b in zip(sizes, sizes[1:], strict=False))


def dominated(row: dict, rows: list[dict]) -> bool:
    """Whether another row has accuracy >= and parameters <=, one of them strictly."""
    accuracy, size = float(row["val_accuracy"]), float(row["n_parameters"])
    for other in rows:
        a, s = float(other["val_accuracy"]), float(other["n_parameters"])
        if a >= accuracy and s <= size and (a > accuracy or s < size):
            return True
    return False


def test_two_objectives_give_the_pareto_front_and_runnable_configs(tmp_path, capsys):
    code, runs = run_tune(tmp_path, PARETO)
    assert code == 0
    study = only_run(runs)
    rows = read_csv(study / "trials.csv")
    assert len(rows) == 8 and {"val_accuracy", "n_parameters"} <= set(rows[0])
    assert "value" not in rows[0]
    complete = [row for row in rows if row["state"] == "COMPLETE"]
    assert len(complete) == 8  # no pruner with several objectives
    for row in complete:  # the cost really is the model's parameter count
        assert float(row["n_parameters"]) == mlp_parameters(json.loads(row["model.hidden"]))
    summary = json.loads((study / "summary.json").read_text())
    assert summary["metrics"] == ["val_accuracy", "n_parameters"]
    assert summary["directions"] == ["maximize", "minimize"]
    on_front = {row["trial"] for row in summary["pareto_front"]}
    expected = {int(row["number"]) for row in complete if not dominated(row, complete)}
    assert on_front == expected and on_front
    out = capsys.readouterr().out
    assert f"Pareto front ({len(on_front)} trials; maximize val_accuracy, minimize " in out
    accuracies = [row["values"]["val_accuracy"] for row in summary["pareto_front"]]
    assert accuracies == sorted(accuracies, reverse=True)  # best accuracy first
    assert not (study / "final").exists()  # nothing retrained: the test set stays sealed
    report = (study / "report.html").read_text()
    assert f"{len(on_front)} trials on the Pareto front (maximize val_accuracy" in report
    assert "no configuration was retrained or tested" in report
    capsys.readouterr()
    assert main(["report", str(study)]) == 0
    text = capsys.readouterr().out
    assert "Pareto front (maximize val_accuracy, minimize n_parameters):" in text
    assert text.count("  trial ") == len(on_front)
    first = summary["pareto_front"][0]
    config = load_toml(study / "pareto" / f"trial-{first['trial']}.toml")
    assert config["optimizer"]["lr"] == first["params"]["optimizer.lr"]
    assert json.dumps(config["model"]["hidden"]) == first["params"]["model.hidden"]
    assert sorted(p.name for p in (study / "pareto").iterdir()) == sorted(
        f"trial-{n}.toml" for n in on_front
    )
    assert main(["tune", "--resume", str(study), "--n-trials", "10"]) == 0
    assert len(read_csv(study / "trials.csv")) == 10


def test_several_objectives_default_to_auto_and_no_pruner():
    section = load_toml_text(PARETO)["tune"]
    del section["algorithm"]
    settings, _ = resolve_tune(section)
    assert settings["algorithm"] == "auto" and settings["pruner"] == "none"
    assert settings["direction"] == "maximize"
    assert settings["metric"] == ["val_accuracy", "n_parameters"]
    one, _ = resolve_tune({**section, "metric": ["val_loss"], "directions": []})
    assert one["metric"] == "val_loss" and one["pruner"] == "asha"


def load_toml_text(text: str) -> dict:
    import tomllib

    return tomllib.loads(text)


BAD = [
    ('"n_params"]', '"n_parameters"]', "one of n_parameters, latency_ms"),
    ('directions = ["maximize"]', 'directions = ["maximize", "minimize"]', "1 entries for 2"),
    (
        'directions = ["maximize", "maximize"]',
        'directions = ["maximize", "minimize"]',
        "'n_parameters' is a cost and is minimised",
    ),  # fmt: skip
    ('algorithm = "tpe"', 'algorithm = "ga"', "optimises one objective"),
    ('algorithm = "ga"\npruner = "asha"', 'algorithm = "ga"', 'set pruner = "none"'),
    ('algorithm = "ga"\ncv = 3\npruner = "none"', 'algorithm = "ga"', "cross-validation ranks"),
    ('algorithm = "ga"\ndirection = "minimize"', 'algorithm = "ga"', "keep one of them"),
    ("metric = []", 'metric = ["val_accuracy", "n_parameters"]', "names no metric"),
    (
        'metric = ["val_acc", "n_parameters"]',
        'metric = ["val_accuracy", "n_parameters"]',
        "tune.metric = 'val_acc'",
    ),  # fmt: skip
]


@pytest.mark.parametrize("new, old, message", BAD, ids=[case[2][:30] for case in BAD])
def test_bad_multi_objective_configs_exit_2_and_write_nothing(tmp_path, capsys, new, old, message):
    assert old in PARETO, old
    code, runs = run_tune(tmp_path, PARETO.replace(old, new, 1))
    assert code == 2
    assert message in capsys.readouterr().err
    assert not runs.exists()
