"""`on_after_backward`: between backward and the optimizer step; History sees callbacks' logs."""

from __future__ import annotations

import numpy as np

from gradwork import train
from tests.helpers import to_numpy
from tests.train.tiny import TinyLinear, TinyLoader, TinySGD, mse, regression_data


def make(*callbacks, lr=0.05):
    model = TinyLinear(3, 1)
    trainer = train.Trainer(
        model, TinySGD(model.parameters(), lr=lr), mse, callbacks=list(callbacks)
    )
    x, y = regression_data()
    return model, trainer, TinyLoader(x[:32], y[:32], 8)


class Spy(train.Callback):
    """Logs every batch hook with what the model looks like at that moment."""

    def __init__(self):
        self.events = []

    def _look(self):
        weight = self.trainer.model.weight
        grad = None if weight.grad is None else weight.grad.array.copy()
        return weight.array.copy(), grad

    def on_batch_begin(self, batch, logs=None):
        self.events.append(("batch_begin", batch, *self._look()))

    def on_after_backward(self, batch, logs=None):
        self.events.append(("after_backward", batch, *self._look(), dict(logs)))

    def on_batch_end(self, batch, logs=None):
        self.events.append(("batch_end", batch, *self._look()))


def test_after_backward_runs_between_backward_and_step_with_the_batch_logs():
    spy = Spy()
    model, trainer, loader = make(spy)
    trainer.fit(loader, epochs=2)
    assert spy.events[0][3] is None  # no gradient before the first backward
    names = [(event[0], event[1]) for event in spy.events]
    expected = [
        (hook, b) for b in range(4) for hook in ("batch_begin", "after_backward", "batch_end")
    ]
    assert names == expected * 2
    for begin, after, end in zip(spy.events[0::3], spy.events[1::3], spy.events[2::3], strict=True):
        assert after[3] is not None and np.abs(to_numpy(after[3])).sum() > 0  # gradients are there
        assert np.array_equal(
            to_numpy(after[2]), to_numpy(begin[2])
        )  # ... and the weights not yet updated
        np.testing.assert_allclose(
            to_numpy(end[2]), to_numpy(after[2] - 0.05 * after[3]), rtol=1e-6
        )
        assert set(after[4]) == {"loss"} and np.isfinite(after[4]["loss"])


class FreezeGradients(train.Callback):
    def on_after_backward(self, batch, logs=None):
        self.trainer.model.weight.grad.array[...] = 0.0


def test_a_gradient_changed_in_after_backward_is_what_the_optimizer_uses():
    model, trainer, loader = make(FreezeGradients())
    weight = to_numpy(model.weight).copy()
    trainer.fit(loader, epochs=1)
    assert np.array_equal(to_numpy(model.weight), weight)
    assert not np.array_equal(to_numpy(model.bias), np.zeros(1))  # the bias still trained


def test_the_hook_is_a_no_op_by_default_and_skipped_for_callbacks_without_it():
    assert train.Callback().on_after_backward(0, {"loss": 1.0}) is None
    spy = Spy()
    _, trainer, _ = make(train.TerminateOnNaN(), spy)
    assert trainer.callbacks._after_backward == [spy.on_after_backward]


class AddsToEpochLogs(train.Callback):
    def on_epoch_end(self, epoch, logs=None):
        logs["extra"] = 10.0 + epoch


def test_history_records_numbers_other_callbacks_add_to_the_epoch_logs():
    _, trainer, loader = make(AddsToEpochLogs())
    history = trainer.fit(loader, epochs=3)
    assert history.history["extra"] == [10.0, 11.0, 12.0]
    assert isinstance(trainer.callbacks.callbacks[-1], train.History)
