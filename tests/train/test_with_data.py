"""The loop on gradwork.data's DataLoader: Dataset wrapping and bit-exact resume."""

from __future__ import annotations

import numpy as np

import gradwork as gw
from gradwork import data, train
from tests.train.tiny import TinyLinear, TinySGD, mse, regression_data


class StopAt(train.Callback):
    def __init__(self, step):
        self.step = step

    def on_batch_end(self, batch, logs=None):
        if self.trainer.global_step == self.step:
            self.trainer.stop_training = True


def build(stop=-1):
    model = TinyLinear(3, 1, dropout=0.2)
    trainer = train.Trainer(model, TinySGD(model.parameters(), lr=0.05, momentum=0.9), mse,
                            metrics=["r2"], callbacks=[StopAt(stop)])  # fmt: skip
    x, y = regression_data(60)
    part_train, part_val, _ = data.train_val_test_split(data.TensorDataset(x, y), seed=0)
    loader = data.DataLoader(part_train, batch_size=5, shuffle=True)  # seeded from gw's stream
    return trainer, loader, data.DataLoader(part_val, batch_size=4)


def test_dataset_is_wrapped_in_a_default_loader():
    model = TinyLinear(3, 1)
    trainer = train.Trainer(model, TinySGD(model.parameters()), mse, batch_size=16)
    x, y = regression_data(48)
    history = trainer.fit(data.TensorDataset(x, y), epochs=2)
    assert trainer.steps_per_epoch == 3 and trainer.global_step == 6
    assert history.history["loss"][1] < history.history["loss"][0]


def test_resume_mid_epoch_with_shuffling_loader_is_bit_exact(tmp_path):
    for stop in (7, 10):  # 10 batches per epoch: mid-epoch, and on the last batch of one
        gw.manual_seed(4)
        reference, loader, val = build()
        full = reference.fit(loader, val, epochs=3)
        gw.manual_seed(4)
        first, loader, val = build(stop)
        first.fit(loader, val, epochs=3)
        first.save(tmp_path / "c.npz")
        gw.manual_seed(123)  # a different stream: the checkpoint must restore everything
        second, loader, val = build()
        resumed = second.resume(tmp_path / "c.npz").fit(loader, val, epochs=3)
        for name, value in reference.model.state_dict().items():
            assert np.array_equal(second.model.state_dict()[name], value), (stop, name)
        assert resumed.history == full.history
