"""The loop with gradwork.nn, gradwork.optim and gradwork.data together."""

from __future__ import annotations

import numpy as np
import pytest

import gradwork as gw
from gradwork import data, nn, optim, train
from tests.helpers import to_numpy
from tests.train.tiny import StopAt

lr_scheduler = optim.lr_scheduler


def build(stop=-1):
    """An MLP with dropout, Adam, a StepLR schedule, early stopping, a shuffling loader."""
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 2))
    optimizer = optim.Adam(model.parameters(), lr=0.02)
    trainer = train.Trainer(
        model, optimizer, nn.CrossEntropyLoss(), metrics=["accuracy", "f1"],
        scheduler=lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7),
        callbacks=[train.EarlyStopping("val_accuracy", patience=10), StopAt(stop)],
    )  # fmt: skip
    part_train, part_val, _ = data.train_val_test_split(data.make_moons(120, seed=1), seed=1)
    loader = data.DataLoader(part_train, batch_size=10, shuffle=True)
    return trainer, loader, data.DataLoader(part_val, batch_size=12)


@pytest.mark.parametrize("stop", [5, 10, 23])  # 10 batches an epoch: mid, end, mid
def test_resume_bit_exact_with_dropout_adam_and_schedule(tmp_path, stop):
    gw.manual_seed(2)
    reference, loader, val = build()
    full = reference.fit(loader, val, epochs=4)
    gw.manual_seed(2)
    first, loader, val = build(stop)
    first.fit(loader, val, epochs=4)
    first.save(tmp_path / "c.npz")
    gw.manual_seed(50)
    second, loader, val = build()
    resumed = second.resume(tmp_path / "c.npz").fit(loader, val, epochs=4)
    for name, value in reference.model.state_dict().items():
        assert np.array_equal(to_numpy(second.model.state_dict()[name]), to_numpy(value)), name
    assert resumed.history == full.history
    assert full.history["lr"] == pytest.approx([0.02, 0.014, 0.0098, 0.00686])


def test_reduce_on_plateau_gets_the_monitored_value():
    model = nn.Linear(2, 2)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    plateau = lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.5)
    trainer = train.Trainer(model, optimizer, nn.CrossEntropyLoss(), scheduler=plateau,
                            scheduler_monitor="val_loss")  # fmt: skip
    moons = data.make_moons(40, seed=0)
    # validation = a fixed batch the model can't fit (labels flipped) -> val_loss plateaus
    x, y = moons.tensors
    flipped = data.DataLoader(data.TensorDataset(to_numpy(x), 1 - to_numpy(y)), batch_size=40)
    history = trainer.fit(data.DataLoader(moons, batch_size=40), flipped, epochs=6)
    assert min(history.history["lr"]) < 0.1
    assert history.history["lr"] == sorted(history.history["lr"], reverse=True)


def test_moons_learns_with_the_trainer():
    gw.manual_seed(0)
    trainer, loader, val = build()
    trainer.fit(loader, val, epochs=15)
    assert trainer.evaluate(val)["accuracy"] >= 0.85
