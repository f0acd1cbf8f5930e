"""`gradwork train --nproc 2`: one run folder written by rank 0, exact resume on 2 ranks."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from gradwork.cli import main
from gradwork.train import load_checkpoint
from tests.distributed.conftest import needs_mpi

CONFIG = """
name = "moons2"
seed = 0
[data]
name = "moons"
n_samples = 240
batch_size = 16
[model]
arch = "mlp"
hidden = [8]
[optimizer]
name = "Adam"
lr = 0.01
[train]
epochs = 2
metrics = ["accuracy", "f1"]
"""


def _gradwork(*arguments, cwd) -> subprocess.CompletedProcess:
    environment = {**os.environ, "GRADWORK_DISTRIBUTED_TIMEOUT": "60"}
    command = [sys.executable, "-m", "gradwork.cli", *arguments]
    try:
        return subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True,
                              timeout=240)  # fmt: skip
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"{' '.join(command)} hung:\n{error.stdout}\n{error.stderr}")


def _runs(folder):
    return sorted(p for p in folder.iterdir() if p.is_dir())


@needs_mpi
def test_train_on_two_processes_then_resume_exactly(tmp_path):
    (tmp_path / "c.toml").write_text(CONFIG)
    first = _gradwork("train", "c.toml", "--nproc", "2", "--output", "a", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stdout.count("epoch 2/2") == 1  # only rank 0 prints
    (run,) = _runs(tmp_path / "a")
    rows = (run / "history.csv").read_text().splitlines()
    assert len(rows) == 3, rows  # a header and one row per epoch: one writer
    assert json.loads((run / "distributed.json").read_text()) == {"nproc": 2}
    assert "model" in load_checkpoint(run / "checkpoints" / "last.npz")  # plain model keys
    resumed = _gradwork("train", "--resume", str(run), "--epochs", "3", "--nproc", "2",
                        cwd=tmp_path)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    straight = _gradwork("train", "c.toml", "--nproc", "2", "--output", "b", "--epochs", "3",
                         cwd=tmp_path)  # fmt: skip
    assert straight.returncode == 0, straight.stderr[-3000:]
    (other,) = _runs(tmp_path / "b")
    one, two = (load_checkpoint(r / "checkpoints" / "last.npz")["model"] for r in (run, other))
    assert one.keys() == two.keys() and not any(k.startswith("module.") for k in one)
    for key in one:
        np.testing.assert_array_equal(one[key], two[key], err_msg=key)
    single = _gradwork("train", "--resume", str(run), "--epochs", "4", cwd=tmp_path)
    assert single.returncode == 2 and "resume with --nproc 2" in single.stderr


def test_nproc_without_mpi_says_how_to_install(monkeypatch, capsys, tmp_path):
    from gradwork import distributed

    monkeypatch.setattr(distributed, "is_available", lambda: False)
    assert main(["train", "--nproc", "2", "--output", str(tmp_path)]) == 2
    assert 'pip install "gradwork[mpi]"' in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing written
