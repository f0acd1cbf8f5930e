"""What the trainer hands to callbacks and small objects: Ctrl-C, summary.json, the sealed test."""

from __future__ import annotations

import json
import os
import signal

import pytest

from gradwork import train
from gradwork.diagnose import WatchCallback
from tests.train.tiny import StopAt, TinyLinear, TinyLoader, TinySGD, mse, regression_data


def build(callbacks=(), run_dir=None):
    """A trainer and loaders with 10 training batches per epoch."""
    model = TinyLinear(3, 1)
    trainer = train.Trainer(
        model, TinySGD(model.parameters(), lr=0.05), mse, callbacks=list(callbacks), run_dir=run_dir
    )
    x, y = regression_data()
    return trainer, TinyLoader(x[:48], y[:48], 5), TinyLoader(x[48:], y[48:], 8)


def summary_of(run):
    return json.loads((run / "summary.json").read_text())


class Sigint(train.Callback):
    """Send SIGINT `times` times just before the step that makes `global_step` step + 1."""

    def __init__(self, step, times=1):
        self.step, self.times = step, times

    def on_batch_begin(self, batch, logs=None):
        if self.trainer.global_step == self.step:
            for _ in range(self.times):
                os.kill(os.getpid(), signal.SIGINT)


class Events(train.Callback):
    def __init__(self, fail_at=None):
        self.fail_at, self.events = fail_at, []

    def on_batch_end(self, batch, logs=None):
        if self.trainer.global_step == self.fail_at:
            raise ValueError("broken callback")

    def on_train_end(self, logs=None):
        self.events.append("train_end")

    def on_exception(self, exception, logs=None):
        self.events.append(type(exception).__name__)


def test_a_second_ctrl_c_interrupts_at_once_and_saves_nothing(tmp_path):
    run = tmp_path / "run"
    trainer, train_loader, val_loader = build([Sigint(12, times=2)], run_dir=run)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(train_loader, val_loader, epochs=3)
    assert trainer.global_step == 12  # the 13th step never ran
    assert trainer.interrupt_checkpoint is None
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    # last.npz is still the end of the first epoch's, and no summary claims an exact stop
    saved = train.load_checkpoint(run / "checkpoints" / "last.npz")
    assert saved["position"] == {"epoch": 1, "batch": 0, "global_step": 10}
    assert not (run / "summary.json").exists()


def test_ctrl_c_without_a_run_folder_is_deferred_and_nothing_is_saved():
    trainer, train_loader, val_loader = build([Sigint(12)])
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(train_loader, val_loader, epochs=3)
    assert (trainer.epoch, trainer.batch, trainer.global_step) == (1, 3, 13)
    assert trainer.interrupt_checkpoint is None
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_interrupt_requested_at_epoch_end_is_raised_after_the_epoch_counts(tmp_path):
    class AtEpochEnd(train.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.trainer.interrupt_requested = True

    run = tmp_path / "run"
    trainer, train_loader, val_loader = build([AtEpochEnd()], run_dir=run)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(train_loader, val_loader, epochs=3)
    assert (trainer.epoch, trainer.batch) == (1, 0)
    saved = train.load_checkpoint(trainer.interrupt_checkpoint)
    assert saved["position"] == {"epoch": 1, "batch": 0, "global_step": 10}
    summary = summary_of(run)
    assert summary["status"] == "interrupted" and summary["epochs_completed"] == 1
    assert (run / "checkpoints" / "best.npz").exists()  # every epoch-end hook ran first


def test_another_error_restores_the_handler_saves_nothing_and_reaches_on_exception(tmp_path):
    events = Events(fail_at=3)
    run = tmp_path / "run"
    trainer, train_loader, val_loader = build([events], run_dir=run)
    with pytest.raises(ValueError, match="broken callback"):
        trainer.fit(train_loader, val_loader, epochs=2)
    assert events.events == ["ValueError"]  # on_exception instead of on_train_end
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert trainer.interrupt_checkpoint is None and not (run / "summary.json").exists()
    assert trainer.train_seconds > 0


def test_a_sigint_handler_someone_else_installed_is_left_alone():
    seen = []

    class Look(train.Callback):
        def on_batch_end(self, batch, logs=None):
            seen.append(signal.getsignal(signal.SIGINT))

    def theirs(signum, frame):
        pass

    previous = signal.signal(signal.SIGINT, theirs)
    try:
        trainer, train_loader, _ = build([Look()])
        trainer.fit(train_loader, epochs=1)
        assert set(seen) == {theirs} and signal.getsignal(signal.SIGINT) is theirs
    finally:
        signal.signal(signal.SIGINT, previous)


def test_an_interrupt_handler_given_a_path_saves_there_and_resumes(tmp_path):
    class Request(train.Callback):
        def on_batch_end(self, batch, logs=None):
            if self.trainer.global_step == 4:
                self.trainer.interrupt_requested = True

    path = tmp_path / "ctrl-c.npz"
    trainer, train_loader, _ = build([Request(), train.InterruptHandler(path)])
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(train_loader, epochs=2)
    assert trainer.interrupt_checkpoint == path
    resumed, train_loader, _ = build()
    resumed.resume(path).fit(train_loader, epochs=2)
    assert resumed.global_step == 20


def test_summary_status_stopped_when_a_callback_stops(tmp_path):
    run = tmp_path / "run"
    trainer, train_loader, val_loader = build([StopAt(7)], run_dir=run)
    trainer.fit(train_loader, val_loader, epochs=3)
    summary = summary_of(run)
    assert summary["status"] == "stopped"
    assert (summary["epochs_completed"], summary["global_step"]) == (0, 7)


def test_callback_order_and_defaults_are_not_duplicated(tmp_path):
    user = Events()
    trainer, _, _ = build([user])
    kinds = [type(c) for c in trainer.callbacks.callbacks]
    # the mistake watch (gradwork.diagnose.watch) is on by default
    assert kinds == [train.InterruptHandler, Events, WatchCallback, train.History]

    run = tmp_path / "run"
    handler, summary = train.InterruptHandler(), train.RunSummary(run)
    trainer, _, _ = build([summary, user, handler], run_dir=run)
    callbacks = trainer.callbacks.callbacks
    assert callbacks[0] is handler and callbacks[-1] is summary
    assert [type(c) for c in callbacks[1:-1]] == [
        Events,
        WatchCallback,
        train.CSVLogger,
        train.History,
        train.ModelCheckpoint,
    ]
    assert handler.checkpoint is None  # the user's, kept as given


def test_run_summary_on_a_trainer_without_a_run_folder(tmp_path):
    trainer, train_loader, _ = build([train.RunSummary(tmp_path / "elsewhere")])
    trainer.fit(train_loader, epochs=2)
    summary = summary_of(tmp_path / "elsewhere")
    assert summary["status"] == "completed" and summary["global_step"] == 20
    assert summary["last"]["loss"] == trainer.history.history["loss"][-1]


def test_sealed_test_without_a_run_folder_travels_in_checkpoints(tmp_path):
    trainer, train_loader, val_loader = build()
    trainer.fit(train_loader, epochs=1)
    first = trainer.test(val_loader)
    with pytest.raises(RuntimeError, match="sealed.*epoch 1"):
        trainer.test(val_loader)
    assert trainer.test(val_loader, force=True) == first
    assert [(r["epoch"], r["forced"]) for r in trainer.tests] == [(1, False), (1, True)]
    trainer.save(tmp_path / "c.npz")

    resumed, _, _ = build()
    resumed.resume(tmp_path / "c.npz")
    assert resumed.tests == trainer.tests
    with pytest.raises(RuntimeError, match="sealed"):
        resumed.test(val_loader)
