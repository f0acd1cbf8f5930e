"""`gradwork train --device` and `[train] device`: the CUDA path on the CPU stand-in for CuPy.

Without a GPU, `--device cuda` must stop with exit code 2 and say how to get
CuPy; with the stand-in registered as the CUDA backend the same run trains on
"the GPU", agrees with the CPU run epoch for epoch, and its checkpoints (host
arrays) evaluate and predict on either device.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

import gradwork as gw
from gradwork import train
from gradwork.cli import main

TINY = """
name = "moons"
seed = 3
[data]
name = "moons"
n_samples = 120
batch_size = 16
[model]
arch = "mlp"
hidden = [8]
dropout = 0.0
[optimizer]
name = "Adam"
lr = 0.05
[train]
epochs = 2
progress = false
metrics = ["accuracy"]
"""


@pytest.fixture
def no_cuda(monkeypatch):
    """A machine without CuPy or a GPU (and without the stand-in), whatever runs the tests."""
    monkeypatch.setattr(gw.cuda, "is_available", lambda: False)


def _config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY + extra)
    return path


def _train(tmp_path: Path, folder: str, *extra: str) -> Path:
    output = tmp_path / folder
    assert main(["train", str(_config(tmp_path)), "--output", str(output), *extra]) == 0
    (run,) = output.iterdir()
    return run


def _losses(run: Path) -> list[float]:
    with open(run / "history.csv") as stream:
        return [float(row["loss"]) for row in csv.DictReader(stream)]


def test_train_on_cuda_runs_on_the_standin_and_matches_the_cpu_run(tmp_path, cuda_standin):
    on_gpu = _train(tmp_path, "gpu", "--device", "cuda")
    on_cpu = _train(tmp_path, "cpu", "--device", "cpu")
    assert json.loads((on_gpu / "config.json").read_text())["train"]["device"] == "cuda"
    np.testing.assert_allclose(_losses(on_gpu), _losses(on_cpu), rtol=1e-5)
    state = train.load_checkpoint(on_gpu / "checkpoints" / "last.npz")
    weights = list(state["model"].values())
    assert weights and all(isinstance(w, np.ndarray) for w in weights)  # host arrays
    exp_avg = [s["exp_avg"] for s in state["optimizer"]["state"].values()]
    assert exp_avg and all(isinstance(a, np.ndarray) for a in exp_avg)


def test_a_cuda_run_evaluates_and_predicts_on_either_device(tmp_path, cuda_standin, capsys):
    run = _train(tmp_path, "runs", "--device", "cuda")
    capsys.readouterr()
    for device in ("cpu", "cuda"):
        assert main(["evaluate", str(run), "--device", device]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("val:")]
    assert len(lines) == 2 and "accuracy" in lines[0]
    assert lines[0] == lines[1]  # the same figures on both devices
    samples = tmp_path / "x.npy"
    np.save(samples, np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32))
    outputs = []
    for device in ("cpu", "cuda"):
        path = tmp_path / f"p_{device}.npy"
        assert (
            main(["predict", str(run), str(samples), "--output", str(path), "--device", device])
            == 0
        )
        outputs.append(np.load(path))
    np.testing.assert_allclose(outputs[1], outputs[0], rtol=1e-5, atol=1e-6)


def test_resume_a_cuda_run_on_the_cpu(tmp_path, cuda_standin):
    run = _train(tmp_path, "runs", "--device", "cuda")
    assert main(["train", "--resume", str(run), "--epochs", "3", "--device", "cpu"]) == 0
    assert len(_losses(run)) == 3


def test_device_cuda_without_a_backend_exits_2_naming_the_option_and_the_install(
    tmp_path, no_cuda, capsys
):
    code = main(["train", str(_config(tmp_path)), "--output", str(tmp_path), "--device", "cuda"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--device" in err and 'pip install "gradwork[cuda12]"' in err
    assert '"gradwork[cuda13]"' in err
    assert list(tmp_path.iterdir()) == [tmp_path / "tiny.toml"]  # nothing written


def test_config_device_cuda_without_a_backend_exits_2_naming_the_key(tmp_path, no_cuda, capsys):
    path = _config(tmp_path, 'device = "cuda"\n')  # appended to [train]
    assert main(["train", str(path), "--output", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert 'train.device = "cuda"' in err and 'pip install "gradwork[cuda12]"' in err


def test_device_auto_trains_on_the_cpu_without_a_backend(tmp_path, no_cuda):
    run = _train(tmp_path, "runs", "--device", "auto")
    assert len(_losses(run)) == 2


def test_an_unknown_device_in_a_config_is_refused(tmp_path, capsys):
    path = _config(tmp_path, 'device = "gpu"\n')
    assert main(["train", str(path), "--output", str(tmp_path / "runs")]) == 2
    assert "train.device = 'gpu' is not one of auto, cpu, cuda" in capsys.readouterr().err


def test_several_processes_train_on_the_cpu(monkeypatch, cuda_standin):
    from gradwork.cli import _commands, _launch

    monkeypatch.setattr(_launch, "world_size", lambda: 4)  # as on a rank of --nproc 4
    config = {"train": {"device": "auto"}}
    _commands._cpu_when_distributed(config)
    assert config["train"]["device"] == "cpu"  # auto: DDP's reducer lives on the host
    with pytest.raises(train.config.ConfigError, match="--device cpu"):
        _commands._cpu_when_distributed({"train": {"device": "cuda"}})
