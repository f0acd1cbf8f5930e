"""Callbacks: everything around the loop that is not the loop (Keras 3 style).

A callback overrides any of the no-op hooks below; each receives a `logs` dict
(batch hooks: the batch's `loss` and loss terms; epoch hooks: the epoch's means
and metrics, `val_*` entries after validation, and `lr`). A training step runs
`on_batch_begin`, forward, backward, `on_after_backward` (the gradients are
there and the weights not yet updated: the place to read or change gradients),
`optimizer.step()`, then `on_batch_end`. Numbers a callback adds to the epoch
logs in `on_epoch_end` reach `History` and the run folder's summary too. A callback stops
training by setting `self.trainer.stop_training = True`, or asks for a
KeyboardInterrupt by setting `self.trainer.interrupt_requested = True` (what
`InterruptHandler` does on Ctrl-C); both flags are checked after every batch and
every epoch. When training fails or is interrupted, `on_exception` runs instead of
`on_train_end`, and the exception is raised again. A callback with state that
matters for resuming returns it from `state_dict()`, and the checkpoint carries it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from gradwork.train.devices import to_host


class Callback:
    """Base class with no-op hooks; `self.trainer` is set before training begins."""

    trainer: Any = None

    def set_trainer(self, trainer: Any) -> None:
        self.trainer = trainer

    def on_train_begin(self, logs: dict | None = None) -> None:
        pass

    def on_train_end(self, logs: dict | None = None) -> None:
        pass

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        pass

    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        pass

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        pass

    def on_after_backward(self, batch: int, logs: dict | None = None) -> None:
        """After `loss.backward()`, before `optimizer.step()`: gradients are populated."""

    def on_exception(self, exception: BaseException, logs: dict | None = None) -> None:
        """Training failed or was interrupted (instead of `on_train_end`); it raises again."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class CallbackList(Callback):
    """Calls the same hook on every callback, in order."""

    def __init__(self, callbacks: list[Callback]) -> None:
        self.callbacks = list(callbacks)
        self._batch_begin = self._overriding("on_batch_begin")
        self._batch_end = self._overriding("on_batch_end")
        self._after_backward = self._overriding("on_after_backward")

    def set_trainer(self, trainer: Any) -> None:
        for callback in self.callbacks:
            callback.set_trainer(trainer)
        # The batch hooks run every step: call only the callbacks that override them.
        self._batch_begin = self._overriding("on_batch_begin")
        self._batch_end = self._overriding("on_batch_end")
        self._after_backward = self._overriding("on_after_backward")

    def _overriding(self, hook: str) -> list:
        base = getattr(Callback, hook)
        return [getattr(c, hook) for c in self.callbacks if getattr(type(c), hook) is not base]

    def on_train_begin(self, logs=None):
        for callback in self.callbacks:
            callback.on_train_begin(logs)

    def on_train_end(self, logs=None):
        for callback in self.callbacks:
            callback.on_train_end(logs)

    def on_epoch_begin(self, epoch, logs=None):
        for callback in self.callbacks:
            callback.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        for callback in self.callbacks:
            callback.on_epoch_end(epoch, logs)

    def on_exception(self, exception, logs=None):
        for callback in self.callbacks:
            callback.on_exception(exception, logs)

    def on_batch_begin(self, batch, logs=None):
        for hook in self._batch_begin:
            hook(batch, logs)

    def on_batch_end(self, batch, logs=None):
        for hook in self._batch_end:
            hook(batch, logs)

    def on_after_backward(self, batch, logs=None):
        for hook in self._after_backward:
            hook(batch, logs)


class History(Callback):
    """Records every epoch's logs: `history.history["val_loss"]` is a list per epoch.

    Example:
        >>> history = History()
        >>> history.on_epoch_end(0, {"loss": 0.5}); history.on_epoch_end(1, {"loss": 0.25})
        >>> history.history["loss"], history.epoch
        ([0.5, 0.25], [0, 1])
    """

    def __init__(self) -> None:
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def state_dict(self) -> dict:
        return {"history": self.history, "epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        self.history = {k: list(v) for k, v in state["history"].items()}
        self.epoch = list(state["epoch"])

    def __repr__(self) -> str:
        last = {k: v[-1] for k, v in self.history.items()}
        return f"History(epochs={len(self.epoch)}, last={last})"


def monitor_mode(monitor: str, mode: str) -> str:
    """'min' or 'max' for a monitored quantity; 'auto' maximises accuracy-like scores."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"callbacks: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    higher_is_better = ("acc", "precision", "recall", "f1", "r2", "auc")
    return "max" if any(word in monitor for word in higher_is_better) else "min"


class _Monitor:
    """Tracks the best value of one logged quantity."""

    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0) -> None:
        self.monitor = monitor
        self.mode = monitor_mode(monitor, mode)
        self.min_delta = abs(min_delta)
        self.best = math.inf if self.mode == "min" else -math.inf

    def value(self, logs: dict | None, owner: str) -> float:
        if not logs or self.monitor not in logs:
            available = ", ".join(sorted(logs or {})) or "none"
            raise KeyError(
                f"{owner}: monitored quantity {self.monitor!r} is not in the logs (available: "
                f"{available}). Pass validation data to fit() for 'val_*' quantities, or "
                "choose one of the available names."
            )
        return float(logs[self.monitor])

    def improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by `min_delta` for `patience` epochs.

    Args:
        monitor: the logged quantity to watch, e.g. "val_loss" or "val_accuracy".
        mode: "min", "max" or "auto" (max for accuracy/F1/precision/recall/R², else min).
        patience: epochs without improvement tolerated before stopping.
        min_delta: the smallest change that counts as an improvement.
        restore_best_weights: at the end of training (stopped early or not), load the
            model weights from the best epoch.

    Example:
        >>> stopper = EarlyStopping(monitor="val_loss", patience=2)
        >>> stopper.mode
        'min'
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: str = "auto",
        patience: int = 0,
        min_delta: float = 0.0,
        restore_best_weights: bool = False,
    ) -> None:
        self._monitor = _Monitor(monitor, mode, min_delta)
        self.monitor, self.mode = monitor, self._monitor.mode
        self.patience = patience
        self.restore_best_weights = restore_best_weights
        self.wait, self.best_epoch, self.stopped_epoch = 0, -1, -1
        self.best_weights: dict | None = None

    @property
    def best(self) -> float:
        return self._monitor.best

    def on_epoch_end(self, epoch, logs=None):
        value = self._monitor.value(logs, "EarlyStopping")
        if self._monitor.improved(value):
            self._monitor.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                # Kept on the host (an explicit copy): no second model in GPU memory.
                self.best_weights = {
                    k: np.array(to_host(v), copy=True)
                    for k, v in self.trainer.model.state_dict().items()
                }
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.trainer.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict:
        return {
            "best": self.best,
            "wait": self.wait,
            "best_epoch": self.best_epoch,
            "stopped_epoch": self.stopped_epoch,
            "best_weights": self.best_weights,
        }

    def load_state_dict(self, state: dict) -> None:
        self._monitor.best = float(state["best"])
        self.wait, self.best_epoch = int(state["wait"]), int(state["best_epoch"])
        self.stopped_epoch = int(state["stopped_epoch"])
        self.best_weights = state["best_weights"]


class TerminateOnNaN(Callback):
    """Stop as soon as the loss (or one of its terms) is NaN or infinite, and say where.

    The message names the epoch, the batch, the value and, when the loss function
    returns a dict of terms, which term went non-finite first. It is kept in
    `self.message` and printed.
    """

    def __init__(self) -> None:
        self.message: str | None = None

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(loss):
            return
        epoch = self.trainer.epoch + 1  # numbered from 1, as on the console
        terms = {k[len("loss_") :]: v for k, v in logs.items() if k.startswith("loss_")}
        bad = [f"{name}={value}" for name, value in terms.items() if not math.isfinite(value)]
        culprit = f"; non-finite loss term(s): {', '.join(bad)}" if bad else ""
        self.message = (
            f"TerminateOnNaN: loss is {loss} at epoch {epoch}, batch {batch + 1}{culprit}. "
            "Stopping. Usual fixes: lower the learning rate, clip gradients, check the data "
            "for NaN/inf, or use a numerically stable loss (e.g. BCEWithLogitsLoss)."
        )
        print(self.message)
        self.trainer.stop_training = True


class LRSchedulerCallback(Callback):
    """Step a learning-rate scheduler every epoch or every batch.

    `ReduceLROnPlateau` (any scheduler whose class is named so) is stepped at the
    end of each epoch with the monitored metric; the others with `step()`.

    Args:
        scheduler: a `gradwork.optim.lr_scheduler` scheduler.
        interval: "epoch" or "batch".
        monitor: the logged quantity given to ReduceLROnPlateau.
    """

    def __init__(self, scheduler: Any, interval: str = "epoch", monitor: str = "val_loss"):
        if interval not in ("epoch", "batch"):
            raise ValueError(
                f"LRSchedulerCallback: interval must be 'epoch' or 'batch', got {interval!r}"
            )
        self.scheduler, self.interval, self.monitor = scheduler, interval, monitor
        self.needs_metric = any(c.__name__ == "ReduceLROnPlateau" for c in type(scheduler).mro())

    def on_batch_end(self, batch, logs=None):
        if self.interval == "batch" and not self.needs_metric:
            self.scheduler.step()

    def on_epoch_end(self, epoch, logs=None):
        if self.needs_metric:
            self.scheduler.step(_Monitor(self.monitor, "min").value(logs, "LRSchedulerCallback"))
        elif self.interval == "epoch":
            self.scheduler.step()

    def state_dict(self) -> dict:
        return {"scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.scheduler.load_state_dict(state["scheduler"])


class CSVLogger(Callback):
    """Append one row per epoch to a CSV file (the columns of the first epoch's logs).

    Args:
        path: the CSV file.
        append: keep existing rows (used when resuming) instead of starting afresh.
    """

    def __init__(self, path: str | os.PathLike, append: bool = False) -> None:
        self.path, self.append = Path(path), append
        self.columns: list[str] | None = None

    def on_train_begin(self, logs=None):
        if self.append and self.path.is_file() and self.path.stat().st_size:
            with open(self.path) as stream:
                self.columns = stream.readline().strip().split(",")
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text("")
            self.columns = None
        self.append = True  # a second fit() on the same trainer continues the file

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        with open(self.path, "a") as stream:
            if self.columns is None:
                self.columns = ["epoch", *logs]
                stream.write(",".join(self.columns) + "\n")
            logs["epoch"] = epoch + 1  # numbered from 1, as on the console
            stream.write(",".join(_format(logs.get(c, "")) for c in self.columns) + "\n")


def _format(value: Any) -> str:
    return repr(float(value)) if isinstance(value, float | np.floating) else str(value)
