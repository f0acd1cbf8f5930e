"""`gradwork lr-find`, `gradwork diff` and `gradwork train --check-determinism`."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradwork.cli import _diagnose_commands, main
from tests.cli.test_cli import TINY, only_run, write


def test_lr_find_prints_a_suggestion_and_changes_nothing(tmp_path, capsys):
    config = write(tmp_path)
    assert main(["lr-find", str(config), "--steps", "30", "--start-lr", "1e-5"]) == 0
    out = capsys.readouterr().out
    assert "lr_find: suggested lr" in out or "lr_find: no suggestion" in out
    assert list(tmp_path.iterdir()) == [config]  # no run folder, no plot unless asked


def test_lr_find_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "lr.png"
    assert main(["lr-find", str(write(tmp_path)), "--steps", "20", "--plot", str(plot)]) == 0
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_check_determinism_passes_and_names_the_first_tensor_that_differs(
    tmp_path, capsys, monkeypatch
):
    config = write(tmp_path)
    assert main(["train", str(config), "--check-determinism", "--steps", "3"]) == 0
    assert "deterministic: 3 step(s) from seed 3" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == [config]  # nothing written

    built = []

    def build_with_noise(config):  # the second build's first weight is off by a hair
        session = real_build(config)
        built.append(session)
        if len(built) == 2:
            weight = next(iter(session.model.parameters()))
            weight.array[0, 0] += 1e-3
        return session

    real_build = _diagnose_commands.build
    monkeypatch.setattr(_diagnose_commands, "build", build_with_noise)
    assert main(["train", str(config), "--check-determinism", "--steps", "3"]) == 1
    out = capsys.readouterr().out
    assert "not deterministic: step 1 of 3, model output differs" in out


def test_diff_shows_config_seeds_and_where_the_curves_part(tmp_path, capsys):
    runs = []
    for name, text in (("a", TINY), ("b", TINY.replace("lr = 0.05", "lr = 0.02"))):
        config = write(tmp_path, text, f"{name}.toml")
        assert main(["train", str(config), "--output", str(tmp_path / name), "--epochs", "2"]) == 0
        runs.append(only_run(tmp_path / name))
    capsys.readouterr()
    assert main(["diff", str(runs[0]), str(runs[1])]) == 0
    out = capsys.readouterr().out
    assert "optimizer.lr: 0.05 -> 0.02" in out
    assert "seeds: the same" in out and "versions: the same" in out
    assert "they part at epoch 1 on loss" in out
    assert main(["diff", str(runs[0]), str(runs[0])]) == 0
    assert "identical over the 2 shared epoch(s)" in capsys.readouterr().out
    assert main(["diff", str(runs[0]), str(Path(tmp_path / "nowhere"))]) == 2
