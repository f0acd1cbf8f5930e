"""The loop and its callbacks on a tiny linear regression."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from gradwork import train
from tests.helpers import to_numpy
from tests.train.tiny import TinyLinear, TinyLoader, TinySGD, mse, regression_data


def make(lr=0.05, dropout=0.0, **kwargs):
    model = TinyLinear(3, 1, dropout=dropout)
    return model, train.Trainer(
        model, TinySGD(model.parameters(), lr=lr, momentum=0.5), mse, **kwargs
    )


def loaders(shuffle=False, seed=0):
    x, y = regression_data()
    return TinyLoader(x[:48], y[:48], 8, shuffle=shuffle, seed=seed), TinyLoader(x[48:], y[48:], 8)


class Recorder(train.Callback):
    def __init__(self):
        self.events = []

    def on_train_begin(self, logs=None):
        self.events.append(("train_begin",))

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(("epoch_begin", epoch))

    def on_batch_begin(self, batch, logs=None):
        self.events.append(("batch_begin", batch))

    def on_batch_end(self, batch, logs=None):
        self.events.append(("batch_end", batch, sorted(logs)))

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch_end", epoch, sorted(logs)))

    def on_train_end(self, logs=None):
        self.events.append(("train_end",))


def test_loss_decreases_and_hooks_run_in_order():
    recorder = Recorder()
    _, trainer = make(callbacks=[recorder], metrics=["mse", "mae"])
    train_loader, val_loader = loaders()
    history = trainer.fit(train_loader, val_loader, epochs=3)
    losses = history.history["loss"]
    assert losses[-1] < losses[0] / 4
    assert history.history["val_loss"][-1] < history.history["val_loss"][0]
    expected = [("train_begin",)]
    for epoch in range(3):
        expected.append(("epoch_begin", epoch))
        for batch in range(6):
            expected += [("batch_begin", batch), ("batch_end", batch, ["loss"])]
        expected.append(
            ("epoch_end", epoch, ["loss", "lr", "mae", "mse", "val_loss", "val_mae", "val_mse"])
        )
    expected.append(("train_end",))
    assert recorder.events == expected
    # the epoch's "mse" metric equals the epoch's mean loss (same quantity, same weights)
    np.testing.assert_allclose(to_numpy(history.history["mse"]), to_numpy(losses), rtol=1e-5)
    assert trainer.global_step == 18 and trainer.epoch == 3


def test_evaluate_and_predict():
    model, trainer = make(metrics=["mse"])
    _, val_loader = loaders()
    x, y = regression_data()
    result = trainer.evaluate(val_loader)
    weight, bias = to_numpy(model.weight), to_numpy(model.bias)
    expected = float(((x[48:] @ weight + bias - y[48:]) ** 2).mean())
    assert result["loss"] == pytest.approx(expected, rel=1e-5)
    assert result["mse"] == pytest.approx(expected, rel=1e-5)
    predictions = trainer.predict(x)
    np.testing.assert_allclose(
        to_numpy(predictions), x @ to_numpy(model.weight) + to_numpy(model.bias), rtol=1e-6
    )
    assert trainer.predict(val_loader).shape == (16, 1)


def test_dict_loss_terms_are_logged_and_nan_term_named(capsys):
    model = TinyLinear(3, 1)
    state = {"calls": 0}

    def loss(output, target):
        state["calls"] += 1
        penalty = (model.weight**2).sum() * (float("nan") if state["calls"] == 4 else 0.0)
        return {"mse": mse(output, target), "penalty": penalty}

    stopper = train.TerminateOnNaN()
    trainer = train.Trainer(model, TinySGD(model.parameters()), loss, callbacks=[stopper])
    history = trainer.fit(loaders()[0], epochs=2)
    assert trainer.global_step == 4 and history.epoch == []
    assert "epoch 1, batch 4" in stopper.message and "penalty=nan" in stopper.message  # from 1
    assert "mse" not in stopper.message.split("term(s):")[1]
    assert "TerminateOnNaN" in capsys.readouterr().out


def test_early_stopping_restores_best_weights():
    snapshots = {}

    class Snapshot(train.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots[epoch] = (logs["val_loss"], self.trainer.model.state_dict())

    stopper = train.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    model, trainer = make(lr=0.3, callbacks=[Snapshot(), stopper])
    x, y = regression_data()
    # validation targets of half the slope: val_loss is best at epoch 1, then worsens
    val = TinyLoader(x[48:], y[48:] * 0.5, 8)
    trainer.fit(loaders()[0], val, epochs=30)
    best_epoch = min(snapshots, key=lambda e: snapshots[e][0])
    assert stopper.best_epoch == best_epoch
    assert stopper.stopped_epoch == best_epoch + 2 == max(snapshots)
    for name, value in model.state_dict().items():
        assert np.array_equal(to_numpy(value), to_numpy(snapshots[best_epoch][1][name]))


def test_early_stopping_mode_and_missing_monitor():
    assert train.EarlyStopping("val_accuracy").mode == "max"
    assert train.EarlyStopping("val_f1", mode="min").mode == "min"
    _, trainer = make(callbacks=[train.EarlyStopping("val_loss")])
    with pytest.raises(KeyError, match="'val_loss' is not in the logs.*Pass validation data"):
        trainer.fit(loaders()[0], epochs=1)


def test_scheduler_callback_steps_per_epoch_and_plateau_gets_metric():
    class Halve:
        def __init__(self, optimizer):
            self.optimizer, self.steps = optimizer, 0

        def step(self):
            self.steps += 1
            self.optimizer.param_groups[0]["lr"] /= 2

        def state_dict(self):
            return {"steps": self.steps}

        def load_state_dict(self, state):
            self.steps = state["steps"]

    class ReduceLROnPlateau(Halve):
        def step(self, metric):
            self.seen = metric

    model, trainer = make(lr=0.08)
    scheduler = Halve(trainer.optimizer)
    trainer = train.Trainer(model, trainer.optimizer, mse, scheduler=scheduler)
    history = trainer.fit(loaders()[0], epochs=3)
    assert history.history["lr"] == [0.08, 0.04, 0.02] and scheduler.steps == 3
    per_batch = Halve(trainer.optimizer)
    trainer = train.Trainer(
        model, trainer.optimizer, mse, scheduler=per_batch, scheduler_interval="batch"
    )
    trainer.fit(loaders()[0], epochs=1)
    assert per_batch.steps == 6
    plateau = ReduceLROnPlateau(trainer.optimizer)
    trainer = train.Trainer(
        model, trainer.optimizer, mse, scheduler=plateau, scheduler_monitor="loss"
    )
    history = trainer.fit(loaders()[0], epochs=1)
    assert plateau.seen == history.history["loss"][0]


def test_progress_bar_plain_and_live(monkeypatch):
    import io

    plain = io.StringIO()
    _, trainer = make(callbacks=[train.ProgressBar(stream=plain)])
    trainer.fit(loaders()[0], loaders()[1], epochs=2)
    lines = plain.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2 loss ") and "val_loss" in lines[0]
    live = io.StringIO()
    monkeypatch.setattr("gradwork.train._progress._REFRESH_SECONDS", 0.0)
    _, trainer = make(callbacks=[train.ProgressBar(stream=live, live=True)])
    trainer.fit(loaders()[0], epochs=1)
    text = live.getvalue()
    assert "\r" in text and "6/6" in text and "ETA" in text and text.endswith("\n")
    monkeypatch.setenv("CI", "true")
    bar = train.ProgressBar(stream=live)
    bar.set_trainer(trainer)
    bar.on_train_begin()
    assert bar.live is False


def test_csv_logger(tmp_path):
    path = tmp_path / "log.csv"
    _, trainer = make(callbacks=[train.CSVLogger(path)], metrics=["mae"])
    history = trainer.fit(loaders()[0], epochs=2)
    rows = list(csv.DictReader(open(path)))
    assert [r["epoch"] for r in rows] == ["1", "2"]  # numbered from 1, as on the console
    assert [float(r["loss"]) for r in rows] == history.history["loss"]
    assert [float(r["mae"]) for r in rows] == history.history["mae"]


def test_model_checkpoint_best_and_last(tmp_path):
    checkpoint = train.ModelCheckpoint(tmp_path, monitor="val_loss")
    values = []

    class Watch(train.Callback):
        def on_epoch_end(self, epoch, logs=None):
            values.append((logs["val_loss"], self.trainer.model.state_dict()))

    x, y = regression_data()
    model, trainer = make(lr=0.3, callbacks=[checkpoint, Watch()])
    trainer.fit(loaders()[0], TinyLoader(x[48:], y[48:] * 0.5, 8), epochs=6)
    best = min(range(len(values)), key=lambda e: values[e][0])
    assert best < 5 and checkpoint.best_epoch == best
    saved_best = train.load_checkpoint(tmp_path / "best.npz")
    saved_last = train.load_checkpoint(tmp_path / "last.npz")
    assert np.array_equal(
        to_numpy(saved_best["model"]["weight"]), to_numpy(values[best][1]["weight"])
    )
    assert np.array_equal(saved_last["model"]["weight"], to_numpy(model.weight))
    assert saved_last["position"] == {"epoch": 6, "batch": 0, "global_step": 36}
    only_best = tmp_path / "only"
    _, trainer = make(
        callbacks=[train.ModelCheckpoint(only_best, save_best_only=True, monitor="loss")]
    )
    trainer.fit(loaders()[0], epochs=1)
    assert sorted(p.name for p in only_best.iterdir()) == ["best.npz"]


def test_sealed_test_set(tmp_path):
    _, trainer = make(run_dir=tmp_path / "run", metrics=["mae"])
    train_loader, val_loader = loaders()
    trainer.fit(train_loader, val_loader, epochs=1)
    first = trainer.test(val_loader)
    with pytest.raises(RuntimeError, match="test set is sealed.*force=True"):
        trainer.test(val_loader)
    again = trainer.test(val_loader, force=True)
    assert again == first
    records = json.loads((tmp_path / "run" / "tests.json").read_text())
    assert [r["forced"] for r in records] == [False, True]
    assert records[0]["metrics"]["mae"] == first["mae"] and "T" in records[0]["time"]
    # a new trainer on the same run folder still sees the seal
    _, other = make(run_dir=tmp_path / "run")
    with pytest.raises(RuntimeError, match="sealed"):
        other.test(val_loader)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert len(summary["tests"]) == 2


def test_run_folder_contents(tmp_path):
    run = tmp_path / "run"
    _, trainer = make(run_dir=run, metrics=["mae"])
    history = trainer.fit(*loaders(), epochs=3)
    assert sorted(p.name for p in run.iterdir()) == ["checkpoints", "history.csv", "summary.json"]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.npz", "last.npz"]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_completed"] == 3
    assert summary["last"]["val_loss"] == history.history["val_loss"][-1]
    best = min(history.history["val_loss"])
    assert summary["best"]["val_loss"] == {
        "value": best,
        "mode": "min",
        "epoch": history.history["val_loss"].index(best) + 1,  # numbered from 1
    }
    assert set(summary["versions"]) >= {"gradwork", "numpy", "python"}
    assert summary["durations"]["train_seconds"] > 0
    rows = list(csv.DictReader(open(run / "history.csv")))
    assert len(rows) == 3 and float(rows[2]["val_mae"]) == history.history["val_mae"][2]


def test_run_folder_without_validation_keeps_best_by_training_loss(tmp_path):
    _, trainer = make(run_dir=tmp_path / "run")
    history = trainer.fit(loaders()[0], epochs=2)
    best = train.load_checkpoint(tmp_path / "run" / "checkpoints" / "best.npz")
    assert history.history["loss"][1] < history.history["loss"][0]
    assert best["position"]["epoch"] == 2  # the lower training loss was the second epoch's
