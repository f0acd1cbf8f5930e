"""`gradwork train` on the text data source with arch = "transformer-lm", end to end."""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

import pytest

from gradwork.cli import main
from gradwork.data import load_pydoc_text
from gradwork.train.config import ConfigError, resolve

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SHIPPED = Path(__file__).resolve().parents[2] / "examples" / "configs" / "char_transformer.toml"


def toml_text(config: dict) -> str:
    """A tiny TOML writer for the flat tables of these configs (strings, numbers, lists)."""

    def value(v):
        return json.dumps(v) if isinstance(v, str | list) else str(v).lower()

    lines = [f"{k} = {value(v)}" for k, v in config.items() if not isinstance(v, dict)]
    for section, table in config.items():
        if isinstance(table, dict):
            plain = {k: v for k, v in table.items() if not isinstance(v, dict)}
            lines += [f"[{section}]"] + [f"{k} = {value(v)}" for k, v in plain.items()]
            for name, sub in table.items():
                if isinstance(sub, dict):
                    lines += [f"[{section}.{name}]"] + [f"{k} = {value(v)}" for k, v in sub.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def tiny_config(tmp_path):
    """The shipped config, shrunk: 20,000 characters, a one-block model, 2 epochs."""
    (tmp_path / "tiny.txt").write_text(load_pydoc_text()[:20_000], encoding="utf-8")
    config = tomllib.loads(SHIPPED.read_text())
    config["data"].update(path=str(tmp_path / "tiny.txt"), batch_size=16)
    config["model"].update(d_model=16, nhead=2, num_layers=1, block_size=16, dim_feedforward=32)
    config["train"].update(epochs=2, progress=False)
    config["scheduler"]["T_max"] = 2
    path = tmp_path / "tiny.toml"
    path.write_text(toml_text(config))
    return path


def test_shipped_config_resolves_with_the_language_model_keys():
    config = resolve(tomllib.loads(SHIPPED.read_text()))
    assert config["data"]["name"] == "text" and config["model"]["arch"] == "transformer-lm"
    assert {k: config["model"][k] for k in ("d_model", "nhead", "num_layers", "block_size")} == {
        "d_model": 64, "nhead": 4, "num_layers": 2, "block_size": 64,
    }  # fmt: skip


def test_train_a_tiny_language_model_from_the_command_line(tiny_config, tmp_path, capsys):
    assert main(["train", str(tiny_config), "--output", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    (run,) = list((tmp_path / "runs").iterdir())
    info = json.loads((run / "data.json").read_text())
    assert info["task"] == "language-model" and info["input_shape"] == [16]
    assert info["outputs"] == len(info["vocabulary"]) == len(set(load_pydoc_text()[:20_000]))
    rows = list(csv.DictReader(open(run / "history.csv")))
    assert len(rows) == 2 and {"val_loss", "val_perplexity", "val_accuracy"} <= set(rows[0])
    assert float(rows[1]["val_loss"]) < float(rows[0]["val_loss"])
    for row in rows:  # perplexity is exp of the mean token cross-entropy
        assert float(row["val_perplexity"]) == pytest.approx(math.exp(float(row["val_loss"])))
        assert 0 <= float(row["val_accuracy"]) <= 1  # counted per character, not per window
    assert float(rows[-1]["val_perplexity"]) < info["outputs"]
    assert "perplexity" in out and f"run folder: {run}" in out
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", "val"]) == 0
    assert capsys.readouterr().out.startswith("val: loss ")


@pytest.mark.parametrize(
    "change, fragments",
    [
        ({"model": {"arch": "transformer-lm", "d_modle": 8}}, ["model.d_modle", "d_model"]),
        ({"model": {"arch": "transformer-lm", "nhead": "4"}}, ["model.nhead", "an integer"]),
        ({"model": {"arch": "transformer-lm", "block_size": 0}}, ["model.block_size = 0"]),
        ({"data": {"name": "txt"}}, ["data.name", "text"]),
        ({"model": {"arch": "transformer_lm"}}, ["model.arch", "transformer-lm"]),
    ],
)
def test_bad_language_model_keys_are_explained(change, fragments):
    with pytest.raises(ConfigError) as error:
        resolve(change)
    assert all(fragment in str(error.value) for fragment in fragments), str(error.value)


def test_transformer_lm_on_images_and_too_short_text_exit_2(tmp_path, capsys):
    images = tmp_path / "images.toml"
    images.write_text('[data]\nname = "digits"\n[model]\narch = "transformer-lm"\n')
    assert main(["train", str(images), "--output", str(tmp_path / "runs")]) == 2
    assert "sequences of token ids" in capsys.readouterr().err
    (tmp_path / "short.txt").write_text("too short")
    short = tmp_path / "short.toml"
    short.write_text(f'[data]\nname = "text"\npath = "{tmp_path / "short.txt"}"\n')
    assert main(["train", str(short), "--output", str(tmp_path / "runs")]) == 2
    assert "block_size = 64" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
