"""Bad input to `gradwork train`: a clear message on stderr, exit code 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradwork.cli import main
from gradwork.train.config import ConfigError, resolve

BAD_CONFIGS = [
    # (id, TOML text, fragments the message must contain)
    ("unknown top key", 'nmae = "x"', ["unknown key 'nmae'", "Did you mean 'name'?", "seed"]),
    (
        "unknown nested key",
        "[train]\nepoch = 3",
        [
            "unknown key 'train.epoch'",
            "Did you mean 'epochs'?",
            "Valid keys in [train]: device, epochs",
        ],
    ),
    (
        "unknown callback key",
        "[callbacks.early_stopping]\npatince = 3",
        ["callbacks.early_stopping.patince", "Did you mean 'patience'?"],
    ),
    (
        "string for int",
        '[data]\nbatch_size = "32"',
        ["data.batch_size = '32'", "has type string", "expected an integer"],
    ),
    ("float for int", "[train]\nepochs = 2.5", ["train.epochs = 2.5", "expected an integer"]),
    ("bool for number", "[optimizer]\nlr = true", ["optimizer.lr = True", "expected a number"]),
    ("list of strings", "[train]\nmetrics = [1]", ["train.metrics = [1]", "a list of strings"]),
    ("table expected", "data = 3", ["data must be a table"]),
    ("bad choice", '[data]\nname = "digit"', ["data.name = 'digit'", "Did you mean 'digits'?"]),
    ("bad split", "[data]\nsplit = [0.5, 0.1]", ["data.split", "sum to 1"]),
    ("zero epochs", "[train]\nepochs = 0", ["train.epochs = 0 must be at least 1"]),
    (
        "missing data file",
        '[data]\nname = "npz"\npath = "nowhere.npz"',
        ["data.path: file or folder not found: 'nowhere.npz'"],
    ),
    ("mnist without path", '[data]\nname = "mnist"', ["needs data.path"]),
    ("not toml", "[train\nepochs = 1", ["not valid TOML"]),
    (
        "monitor every as string",
        '[callbacks.monitor]\nevery = "10"',
        ["callbacks.monitor.every = '10'", "has type string", "expected an integer"],
    ),
    (
        "monitor flag as number",
        "[callbacks.monitor]\ngradients = 1",
        ["callbacks.monitor.gradients = 1", "expected true or false"],
    ),
    (
        "monitor every zero",
        "[callbacks.monitor]\nevery = 0",
        ["monitor.every = 0 must be at least 1"],
    ),
    (
        "unknown monitor key",
        "[callbacks.monitor]\ngradient = true",
        ["callbacks.monitor.gradient", "Did you mean 'gradients'?"],
    ),
]


@pytest.mark.parametrize(
    "text,fragments", [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS]
)
def test_bad_config_exits_2_and_writes_nothing(tmp_path, capsys, monkeypatch, text, fragments):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bad.toml"
    path.write_text(text)
    code = main(["train", str(path), "--output", str(tmp_path / "runs")])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    for fragment in fragments:
        assert fragment in captured.err
    assert captured.err.startswith("gradwork train: error: ")
    assert not (tmp_path / "runs").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


def test_missing_config_file(tmp_path, capsys):
    code = main(["train", str(tmp_path / "absent.toml")])
    assert code == 2
    assert f"config file not found: '{tmp_path / 'absent.toml'}'" in capsys.readouterr().err


def test_resolve_fills_defaults_and_enables_written_tables():
    config = resolve({"callbacks": {"early_stopping": {"patience": 2}}, "optimizer": {"lr": 1}})
    assert config["callbacks"]["early_stopping"] == {
        "enabled": True,
        "monitor": "val_loss",
        "mode": "auto",
        "patience": 2,
        "min_delta": 0.0,
        "restore_best_weights": True,
    }
    assert config["optimizer"] == {"name": "Adam", "lr": 1.0}
    assert resolve({})["callbacks"]["early_stopping"]["enabled"] is False
    # open sections keep extra keyword arguments for the class's own check
    assert resolve({"optimizer": {"name": "SGD", "momentum": 0.9}})["optimizer"]["momentum"] == 0.9
    with pytest.raises(ConfigError):
        resolve({"scheduler": {"interval": "step"}})


def test_the_checkpoint_follows_early_stopping_unless_told_otherwise():
    # One meaning of "best": best.npz (used by evaluate, predict and the printed test
    # figure) and the weights early stopping restores are picked by the same monitor.
    stopping = {"early_stopping": {"monitor": "val_accuracy"}}
    checkpoint = resolve({"callbacks": stopping})["callbacks"]["checkpoint"]
    assert (checkpoint["monitor"], checkpoint["mode"]) == ("val_accuracy", "auto")
    own = {**stopping, "checkpoint": {"monitor": "val_loss", "mode": "min"}}
    checkpoint = resolve({"callbacks": own})["callbacks"]["checkpoint"]
    assert (checkpoint["monitor"], checkpoint["mode"]) == ("val_loss", "min")
    mode_only = {"early_stopping": {"monitor": "val_f1", "mode": "max"},
                 "checkpoint": {"mode": "max"}}  # fmt: skip
    checkpoint = resolve({"callbacks": mode_only})["callbacks"]["checkpoint"]
    assert (checkpoint["monitor"], checkpoint["mode"]) == ("val_f1", "max")
    off = {"early_stopping": {"enabled": False, "monitor": "val_accuracy"}}
    assert resolve({"callbacks": off})["callbacks"]["checkpoint"]["monitor"] == "val_loss"


def test_commands_without_their_inputs_exit_2(capsys):
    assert main(["tune", "anything"]) == 2  # tune exists now: a missing file is bad input
    assert "gradwork tune: error: config file not found: 'anything'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:  # report exists now, and needs RUN_DIR
        main(["report"])
    assert exit_info.value.code == 2


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["fly"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        main(["evaluate"])


EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "configs").glob("*.toml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_configs_are_valid(path):
    from gradwork.train.config import load_toml

    user = load_toml(path)
    if "tune" in user:  # a `gradwork tune` config: [tune] is checked by its own schema
        from gradwork.cli._tune_config import resolve_tune

        settings, space = resolve_tune(user.pop("tune"))
        assert settings["n_trials"] >= 1 and space
    if user["data"]["name"] == "mnist":  # needs files the user downloads
        with pytest.raises(ConfigError, match="data.path: file or folder not found"):
            resolve(user)
        user["data"]["path"] = str(path)
    assert resolve(user)["name"] == user["name"]


def test_there_are_example_configs():
    assert len(EXAMPLES) >= 3
