"""TensorBoardLogger: event files that TensorBoard's own reader reads back, from Python
and from `gradwork train` with [callbacks.tensorboard]."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gradwork import data, nn, optim, train
from gradwork.cli import main
from gradwork.train.config import ConfigError, resolve

pytest.importorskip("tensorboardX")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

CONFIG = """
name = "moons"
seed = 1
[data]
name = "moons"
n_samples = 160
batch_size = 16
[model]
arch = "mlp"
hidden = [8]
[optimizer]
name = "Adam"
lr = 0.05
[train]
epochs = 3
progress = false
metrics = ["accuracy"]
[callbacks.tensorboard]
update_freq = 4
[callbacks.monitor]
gradients = true
"""


def read_events(folder: Path) -> event_accumulator.EventAccumulator:
    files = list(folder.glob("events.out.tfevents.*"))
    assert files, f"no event file in {folder}"
    reader = event_accumulator.EventAccumulator(
        str(folder), size_guidance={"scalars": 0, "histograms": 0, "tensors": 0}
    )
    reader.Reload()
    return reader


def steps(reader, tag: str) -> list[int]:
    return [event.step for event in reader.Scalars(tag)]


def test_trainer_logs_scalars_histograms_and_doctor_text(tmp_path):
    moons = data.make_moons(120, noise=0.2, seed=0)
    train_set, val_set = data.random_split(moons, [96, 24])
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    logger = train.TensorBoardLogger(tmp_path / "tb", histogram_freq=2, update_freq=3, doctor=True)
    trainer = train.Trainer(model, optimizer, nn.CrossEntropyLoss(), metrics=["accuracy"],
                            callbacks=[logger],
                            scheduler=optim.lr_scheduler.StepLR(optimizer, 1, 0.5))  # fmt: skip
    trainer.fit(data.DataLoader(train_set, 16, shuffle=True), data.DataLoader(val_set, 24), 4)
    reader = read_events(tmp_path / "tb")
    tags = reader.Tags()
    for tag in ("loss", "val_loss", "accuracy", "val_accuracy", "lr"):
        assert steps(reader, tag) == [1, 2, 3, 4], tag
    history = trainer.history.history
    assert [e.value for e in reader.Scalars("loss")] == pytest.approx(history["loss"], rel=1e-6)
    assert [e.value for e in reader.Scalars("lr")] == pytest.approx([0.1, 0.05, 0.025, 0.0125])
    assert steps(reader, "batch/loss") == [3, 6, 9, 12, 15, 18, 21, 24]  # 6 batches an epoch
    for name in ("0.weight", "0.bias", "2.weight", "2.bias"):
        assert f"weights/{name}" in tags["histograms"]
        assert f"gradients/{name}" in tags["histograms"]
        assert [e.step for e in reader.Histograms(f"weights/{name}")] == [2, 4]
    doctor = reader.Tensors("doctor/text_summary")
    text = doctor[0].tensor_proto.string_val[0].decode()
    for check in ("finite_data", "initial_loss", "overfit_one_batch"):
        assert check in text, text
    (mistakes,) = reader.Tensors("findings/mistakes/text_summary")  # the mistake watch's verdict
    assert mistakes.tensor_proto.string_val[0].decode() == "✓ no findings"


def test_gradwork_train_writes_events_in_the_run_folder(tmp_path):
    config = tmp_path / "tb.toml"
    config.write_text(CONFIG)
    assert main(["train", str(config), "--output", str(tmp_path / "runs")]) == 0
    (run,) = list((tmp_path / "runs").iterdir())
    reader = read_events(run / "tensorboard")
    tags = reader.Tags()
    assert steps(reader, "loss") == [1, 2, 3]
    assert steps(reader, "val_accuracy") == [1, 2, 3]
    assert steps(reader, "lr") == [1, 2, 3]
    assert steps(reader, "batch/loss")[:2] == [4, 8]
    assert "weights/1.weight" in tags["histograms"] and "gradients/4.bias" in tags["histograms"]
    monitor = [tag for tag in tags["tensors"] if tag.startswith("findings/")]
    assert monitor, tags["tensors"]  # the gradient monitor's verdict, written after it ran
    summary_losses = [e.value for e in reader.Scalars("loss")]
    assert summary_losses[-1] < summary_losses[0]


def test_config_keys_are_checked():
    resolved = resolve({"callbacks": {"tensorboard": {}}})
    assert resolved["callbacks"]["tensorboard"]["enabled"] is True
    assert resolve({})["callbacks"]["tensorboard"]["enabled"] is False
    with pytest.raises(ConfigError, match="Did you mean 'histogram_freq'"):
        resolve({"callbacks": {"tensorboard": {"histogram_frequency": 2}}})
    with pytest.raises(ConfigError, match="callbacks.tensorboard.update_freq"):
        resolve({"callbacks": {"tensorboard": {"update_freq": "epoch"}}})
    from gradwork.train.build import build_callbacks

    spec = resolve({"callbacks": {"tensorboard": {"histogram_freq": -1}}})["callbacks"]
    with pytest.raises(ConfigError, match="histogram_freq = -1"):
        build_callbacks(spec)


def test_without_tensorboardx_the_message_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[tensorboard\]"'):
        train.TensorBoardLogger("unused")
    from gradwork.train.build import build_callbacks

    spec = resolve({"callbacks": {"tensorboard": {}}})["callbacks"]
    with pytest.raises(ConfigError, match=r"gradwork\[tensorboard\]"):
        build_callbacks(spec)
