"""Checkpoints: the file format, atomic writes, and bit-exact resume."""

from __future__ import annotations

import json
import os
import random

import numpy as np
import pytest

import gradwork as gw
from gradwork import train
from tests.helpers import to_numpy
from tests.train.tiny import StopAt, TinyLinear, TinyLoader, TinySGD, mse, regression_data


def test_round_trip_of_every_kind_of_value(tmp_path):
    state = {
        "array": np.arange(6, dtype=np.float32).reshape(2, 3),
        "scalar": np.int64(7),
        "int_keys": {0: np.ones(2), 3: {"step": 4}},
        "tuple": ("MT19937", np.arange(3, dtype=np.uint32), 5, 0, 0.25),
        "big": 2**100,
        "nested": [1.5, None, "text", True, float("inf")],
        "__weird": 1,
    }
    path = train.save_checkpoint(state, tmp_path / "c.npz")
    loaded = train.load_checkpoint(path)
    np.testing.assert_array_equal(to_numpy(loaded["array"]), to_numpy(state["array"]))
    assert loaded["array"].dtype == np.float32
    assert loaded["scalar"] == 7 and isinstance(loaded["scalar"], np.int64)
    assert set(loaded["int_keys"]) == {0, 3} and loaded["int_keys"][3] == {"step": 4}
    assert isinstance(loaded["tuple"], tuple) and loaded["tuple"][4] == 0.25
    assert loaded["big"] == 2**100 and loaded["nested"] == state["nested"]
    assert loaded["__weird"] == 1
    with np.load(path, allow_pickle=False) as archive:  # pickle-free
        assert "__tree__" in archive.files


def test_unsupported_value_and_foreign_file(tmp_path):
    with pytest.raises(TypeError, match=r"state\['f'\] of type function"):
        train.save_checkpoint({"f": lambda: 0}, tmp_path / "c.npz")
    assert not (tmp_path / "c.npz").exists()
    np.savez(tmp_path / "other.npz", x=np.ones(2))
    with pytest.raises(ValueError, match="not a gradwork checkpoint"):
        train.load_checkpoint(tmp_path / "other.npz")
    with pytest.raises(FileNotFoundError, match="no checkpoint file"):
        train.load_checkpoint(tmp_path / "missing.npz")


def test_atomic_write_keeps_old_file_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    train.save_checkpoint({"step": 1}, path)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        train.save_checkpoint({"step": 2}, path)
    monkeypatch.undo()
    assert train.load_checkpoint(path) == {"step": 1}
    assert os.listdir(tmp_path) == ["c.npz"]  # no temporary left behind


def build(seed_loader=3, callbacks=(), run_dir=None):
    """Fresh model, optimizer, loaders and trainer, with dropout and shuffling."""
    model = TinyLinear(3, 1, dropout=0.3)
    optimizer = TinySGD(model.parameters(), lr=0.05, momentum=0.9)
    stopper = train.EarlyStopping(monitor="val_loss", patience=50)
    trainer = train.Trainer(
        model, optimizer, mse, metrics=["mae"], run_dir=run_dir, callbacks=[stopper, *callbacks]
    )
    x, y = regression_data()
    return (
        trainer,
        TinyLoader(x[:48], y[:48], 5, shuffle=True, seed=seed_loader),
        TinyLoader(x[48:], y[48:], 8),
    )


@pytest.mark.parametrize("stop_step", [17, 20])  # 10 batches per epoch: mid-epoch and boundary
def test_resume_is_bit_exact(tmp_path, stop_step):
    gw.manual_seed(11)
    np.random.seed(1)
    random.seed(1)
    reference, train_loader, val_loader = build()
    full = reference.fit(train_loader, val_loader, epochs=4)

    gw.manual_seed(11)
    np.random.seed(1)
    random.seed(1)
    first, train_loader, val_loader = build(callbacks=[StopAt(stop_step)])
    first.fit(train_loader, val_loader, epochs=4)
    first.save(tmp_path / "mid.npz")
    # Disturb every stream, then resume into fresh objects.
    gw.manual_seed(99)
    np.random.seed(99)
    random.seed(99)
    second, train_loader, val_loader = build(seed_loader=42, callbacks=[StopAt(-1)])
    second.resume(tmp_path / "mid.npz")
    resumed = second.fit(train_loader, val_loader, epochs=4)

    for name, value in reference.model.state_dict().items():
        assert np.array_equal(second.model.state_dict()[name], value), name
    assert np.array_equal(second.optimizer.state[0], reference.optimizer.state[0])
    assert resumed.history == full.history  # epoch means and val metrics identical too
    assert second.global_step == reference.global_step == 40
    assert gw.get_rng_state() == reference_rng(stop_step)


def reference_rng(_):
    """The global stream after a full run: recomputed to compare the resumed run's."""
    gw.manual_seed(11)
    np.random.seed(1)
    random.seed(1)
    trainer, train_loader, val_loader = build()
    trainer.fit(train_loader, val_loader, epochs=4)
    return gw.get_rng_state()


def test_interrupt_saves_resumable_checkpoint(tmp_path):
    class CtrlC(train.Callback):
        def on_batch_end(self, batch, logs=None):
            if self.trainer.global_step == 13:
                raise KeyboardInterrupt

    gw.manual_seed(5)
    reference, train_loader, val_loader = build()
    reference.fit(train_loader, val_loader, epochs=3)

    gw.manual_seed(5)
    run = tmp_path / "run"
    first, train_loader, val_loader = build(run_dir=run, callbacks=[CtrlC()])
    with pytest.raises(KeyboardInterrupt):
        first.fit(train_loader, val_loader, epochs=3)
    assert first.interrupt_checkpoint == run / "checkpoints" / "last.npz"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["global_step"] == 13
    saved = train.load_checkpoint(run / "checkpoints" / "last.npz")
    assert saved["position"] == {"epoch": 1, "batch": 3, "global_step": 13}

    second, train_loader, val_loader = build(run_dir=run, seed_loader=0)
    second.resume(run / "checkpoints" / "last.npz").fit(train_loader, val_loader, epochs=3)
    for name, value in reference.model.state_dict().items():
        assert np.array_equal(second.model.state_dict()[name], value), name
    rows = (run / "history.csv").read_text().splitlines()
    assert len(rows) == 1 + 3  # header + one row per epoch, none duplicated


def test_resume_with_different_callbacks_is_refused(tmp_path):
    trainer, train_loader, _ = build()
    trainer.save(tmp_path / "c.npz")
    model = TinyLinear(3, 1)
    other = train.Trainer(model, TinySGD(model.parameters()), mse)
    with pytest.raises(ValueError, match="same callbacks"):
        other.resume(tmp_path / "c.npz")


def test_real_sigint_is_deferred_to_the_batch_boundary(tmp_path):
    import signal

    class SendSigint(train.Callback):
        def on_batch_begin(self, batch, logs=None):
            if self.trainer.global_step == 12:  # arrives before the 13th step runs
                os.kill(os.getpid(), signal.SIGINT)

    gw.manual_seed(5)
    reference, train_loader, val_loader = build()
    reference.fit(train_loader, val_loader, epochs=3)
    gw.manual_seed(5)
    run = tmp_path / "run"
    first, train_loader, val_loader = build(run_dir=run, callbacks=[SendSigint()])
    with pytest.raises(KeyboardInterrupt):
        first.fit(train_loader, val_loader, epochs=3)
    assert first.global_step == 13  # the step in flight finished first
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    second, train_loader, val_loader = build(run_dir=run)
    second.resume(run / "checkpoints" / "last.npz").fit(train_loader, val_loader, epochs=3)
    for name, value in reference.model.state_dict().items():
        assert np.array_equal(second.model.state_dict()[name], value), name
