"""`Trainer`: the training loop and nothing else; callbacks do the rest."""

from __future__ import annotations

import copy
import importlib
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from gradwork import autograd
from gradwork.tensor import Tensor
from gradwork.train import _distributed, _state
from gradwork.train._accumulators import Metric, get_metric
from gradwork.train._interrupt import InterruptHandler
from gradwork.train._model_checkpoint import ModelCheckpoint
from gradwork.train._progress import ProgressBar
from gradwork.train._sealed_test import SealedTest
from gradwork.train._summary import RunSummary
from gradwork.train.callbacks import Callback, CallbackList, CSVLogger, History, LRSchedulerCallback
from gradwork.train.checkpoint import load_checkpoint, save_checkpoint
from gradwork.train.devices import model_device, to_device, to_host


class Trainer:
    """Fit a model with an optimizer and a loss; evaluate, predict, test once.

    The model may live on the GPU (`model.to("cuda")` before the optimizer is
    made): each batch from the loader (host tensors) is sent to the model's
    device; losses are read with `.item()` and metrics count on the host, and
    `predict` returns a host tensor.

    Args:
        model: a module (`parameters()`, `state_dict()`, `train()`, `eval()`, callable).
        optimizer: an optimizer over the model's parameters.
        loss: `loss(output, target)` returning a scalar Tensor, or a dict of named
            scalar terms that are summed (each term is logged as `loss_<name>`).
        metrics: names (see `gradwork.train.METRIC_NAMES`) or `Metric` objects.
        callbacks: extra callbacks, called in order (`InterruptHandler` first,
            checkpoints and `RunSummary` last).
        scheduler: a learning-rate scheduler, stepped each `scheduler_interval`
            (ReduceLROnPlateau gets `scheduler_monitor`).
        run_dir: a run folder; the trainer then logs history.csv, keeps
            checkpoints/last.npz and best.npz (also on Ctrl-C), records test
            evaluations and writes summary.json.
        batch_size: the batch size used when `fit`/`evaluate` get a Dataset.
        progress: add a `ProgressBar`.
        watch: watch the loop for training mistakes (`gradwork.diagnose.watch`): each is
            warned about once and kept in `trainer.mistakes`. False turns it off.

    Example:
        >>> import gradwork as gw
        >>> from gradwork import data, nn, optim, train
        >>> _ = gw.manual_seed(0)
        >>> moons = data.make_moons(200, seed=0)
        >>> model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
        >>> trainer = train.Trainer(model, optim.Adam(model.parameters(), lr=0.02),
        ...                         nn.CrossEntropyLoss(), metrics=["accuracy"])
        >>> history = trainer.fit(data.DataLoader(moons, batch_size=20, shuffle=True), epochs=20)
        >>> trainer.evaluate(moons)["accuracy"] > 0.85
        True

    """

    def __init__(
        self,
        model: Any,
        optimizer: Any,
        loss: Any,
        metrics: list | None = None,
        callbacks: list[Callback] | None = None,
        scheduler: Any = None,
        run_dir: str | os.PathLike | None = None,
        batch_size: int = 32,
        progress: bool = False,
        scheduler_interval: str = "epoch",
        scheduler_monitor: str = "val_loss",
        monitor: str = "val_loss",
        watch: bool = True,
    ) -> None:
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss
        self.metrics: list[Metric] = [get_metric(m) for m in metrics or []]
        self.batch_size, self.monitor = batch_size, monitor
        self.run = _distributed.run_folder(run_dir)  # ranks other than 0 never write
        self.history = History()
        extra = list(callbacks or [])
        if scheduler is not None:
            extra.append(LRSchedulerCallback(scheduler, scheduler_interval, scheduler_monitor))
        if progress and _distributed.is_writer():
            extra.append(ProgressBar())
        if watch and _distributed.is_writer():  # rank 0 speaks for all ranks
            extra.append(_mistake_watch())
        self._auto_checkpoint = self._add_defaults(extra)
        self.callbacks = CallbackList(sorted([*extra, self.history], key=self._call_order))
        self.callbacks.set_trainer(self)
        self.epoch = self.batch = self.global_step = 0
        self.epochs: int | None = None
        self.steps_per_epoch: int | None = None
        # The flags callbacks set: stop after this batch, or raise KeyboardInterrupt there.
        self.stop_training = self.interrupt_requested = False
        self.interrupt_checkpoint: Path | None = None  # where InterruptHandler saved
        self.train_seconds = 0.0
        self.mistakes: list = []  # findings of the mistake watch (filled during fit)
        self._sealed_test = SealedTest(self.run)
        self._epoch_finished = False
        self._sums = _state.EpochSums()
        self._pending: dict | None = None
        self._loader: Any = None

    def _add_defaults(self, extra: list) -> ModelCheckpoint | None:
        """Ctrl-C handling; with a run folder, history.csv, checkpoints and summary.json.

        A kind the user passed is not added again. Returns the checkpoint added, if any.
        """
        path = self.run.last_checkpoint if self.run else None
        if not any(isinstance(c, InterruptHandler) for c in extra):
            extra.append(InterruptHandler(path))
        if self.run is None:
            return None
        if _distributed.is_writer():
            extra.append(CSVLogger(self.run.history_csv, append=True))
        if not any(isinstance(c, RunSummary) for c in extra):
            extra.append(RunSummary(self.run))
        if any(isinstance(c, ModelCheckpoint) for c in extra):
            return None
        extra.append(ModelCheckpoint(self.run.checkpoints, monitor=self.monitor))
        return extra[-1]

    def _call_order(self, callback: Callback) -> int:
        # Ctrl-C is deferred from the start and the handler restored first at the end;
        # History follows the other callbacks, so it records the numbers they add to the
        # epoch logs; checkpoints capture everything done this epoch; the summary, all of it.
        if isinstance(callback, InterruptHandler):
            return 0
        if callback is self.history or getattr(callback, "runs_after_others", False):
            return 2  # (TensorBoardLogger: it logs what the others add and find)
        if isinstance(callback, ModelCheckpoint):
            return 3
        return 4 if isinstance(callback, RunSummary) else 1

    # ------------------------------------------------------------------ fitting
    def fit(self, train: Any, val: Any = None, epochs: int = 1) -> History:
        """Train until `epochs` epochs are complete (counting epochs done before a resume).

        Stopping (a callback sets `stop_training`) is checked after every batch and
        every epoch; a stop in the middle of an epoch skips that epoch's end-of-epoch
        hooks, and a checkpoint then resumes from the same batch. So is
        `interrupt_requested`, which raises KeyboardInterrupt there: Ctrl-C finishes
        the current batch, saves `last.npz` in the run folder (`InterruptHandler`),
        and raises KeyboardInterrupt.
        """
        self._loader = self._as_loader(train, shuffle=True)
        val_loader = None if val is None else self._as_loader(val, shuffle=False)
        self.epochs, self.steps_per_epoch = epochs, _length(self._loader)
        self.stop_training = self.interrupt_requested = False
        if val is None and self._auto_checkpoint and self.monitor.startswith("val_"):
            # No validation data: the run folder's "best" follows the training quantity.
            self._auto_checkpoint.set_monitor(self.monitor[len("val_") :])
        self._apply_pending()
        try:
            self.callbacks.on_train_begin()
            self._run_epochs(val_loader)
        except BaseException as exception:
            self.callbacks.on_exception(exception)
            raise
        self.callbacks.on_train_end()
        return self.history

    def _run_epochs(self, val_loader: Any) -> None:
        start = time.perf_counter()
        try:
            while self.epoch < self.epochs and not self.stop_training:
                self._run_epoch(val_loader)
        finally:
            # Counted before callbacks hear of an interrupt: the checkpoint they save holds it.
            self.train_seconds += time.perf_counter() - start

    def _run_epoch(self, val_loader: Any) -> None:
        if self.batch == 0:
            self._sums = _state.EpochSums()
            for metric in self.metrics:
                metric.reset()
        self._epoch_finished = False
        self.callbacks.on_epoch_begin(self.epoch)
        _distributed.set_epoch(self._loader, self.epoch)  # a DistributedSampler's shuffle
        self.model.train()
        device = model_device(self.model)  # batches come from the loader as host tensors
        for batch in self._loader:
            index = self.batch
            self.callbacks.on_batch_begin(index)
            logs = self._train_step(index, *to_device(_state.split_batch(batch), device))
            self.batch += 1
            self.global_step += 1
            self.callbacks.on_batch_end(index, logs)
            self._raise_if_interrupted()
            if self.stop_training:
                return
        logs = self._epoch_logs(val_loader)
        self._epoch_finished = True
        self.callbacks.on_epoch_end(self.epoch, logs)
        self.epoch, self.batch, self._epoch_finished = self.epoch + 1, 0, False
        self._raise_if_interrupted()

    def _raise_if_interrupted(self) -> None:
        # Raised only here, between steps, so a checkpoint saved on the way out is exact.
        # On several ranks, any rank's stop or Ctrl-C stops all of them at this step.
        self.stop_training, self.interrupt_requested = _distributed.agree(
            self.stop_training, self.interrupt_requested
        )
        if self.interrupt_requested:
            raise KeyboardInterrupt

    def _train_step(self, index: int, x: Any, y: Any) -> dict:
        self.optimizer.zero_grad()
        output = self.model(x)
        loss, logs = self._compute_loss(output, y)
        loss.backward()
        self.callbacks.on_after_backward(index, logs)  # gradients present, weights not yet updated
        self.optimizer.step()
        self._sums.add(logs, _state.batch_size_of(y))
        if self.metrics:
            # Metrics count on the host: one explicit copy of the outputs per batch.
            output_data, target = to_host(output), to_host(y)
            for metric in self.metrics:
                metric.update(output_data, target)
        return logs

    def _compute_loss(self, output: Any, target: Any) -> tuple[Tensor, dict]:
        """The total loss and the batch logs (the loss and, for a dict of terms, each term)."""
        result = self.loss_fn(output, target)
        # .item(): the one read of the loss a step makes (on a GPU it waits for the step).
        if not isinstance(result, dict):
            return result, {"loss": result.item()}
        total = None
        logs = {}
        for name, term in result.items():
            total = term if total is None else total + term
            logs[f"loss_{name}"] = term.item()
        logs["loss"] = total.item()
        return total, logs

    def _epoch_logs(self, val_loader: Any) -> dict:
        # Over every rank's shard when the data is sharded (DistributedSampler).
        logs = _distributed.reduced_sums(self._sums, self._loader).means()
        metrics = _distributed.reduced_metrics(self.metrics, self._loader)
        logs.update({m.name: m.compute() for m in metrics})
        if val_loader is not None:
            logs.update({f"val_{k}": v for k, v in self.evaluate(val_loader).items()})
        groups = getattr(self.optimizer, "param_groups", None)
        if groups:
            logs["lr"] = float(groups[0]["lr"])
        return logs

    # --------------------------------------------------------------- evaluation
    def evaluate(self, data: Any) -> dict:
        """The mean loss and the metrics over `data`, in eval mode without gradients."""
        loader = self._as_loader(data, shuffle=False)
        metrics = [copy.deepcopy(m) for m in self.metrics]
        for metric in metrics:
            metric.reset()
        sums = _state.EpochSums()
        was_training = getattr(self.model, "training", True)
        self.model.eval()
        device = model_device(self.model)
        try:
            with autograd.no_grad():
                for batch in loader:
                    x, y = to_device(_state.split_batch(batch), device)
                    output = self.model(x)
                    sums.add(self._compute_loss(output, y)[1], _state.batch_size_of(y))
                    if metrics:
                        output_data, target = to_host(output), to_host(y)
                    for metric in metrics:
                        metric.update(output_data, target)
        finally:
            self.model.train(was_training)
        sums = _distributed.reduced_sums(sums, loader)
        metrics = _distributed.reduced_metrics(metrics, loader)
        return {**sums.means(), **{m.name: m.compute() for m in metrics}}

    def predict(self, data: Any) -> Tensor:
        """The model's outputs for every sample of `data`, concatenated (eval mode, no grad).

        `data` is a loader or dataset (inputs are the first item of each batch), or
        a Tensor/array of inputs that is cut into batches of `batch_size`.
        """
        if isinstance(data, Tensor | np.ndarray):
            array = getattr(data, "array", data)
            batches = (
                array[i : i + self.batch_size] for i in range(0, len(array), self.batch_size)
            )
            inputs = (Tensor(b) for b in batches)
        else:
            loader = self._as_loader(data, shuffle=False)
            inputs = (b[0] if isinstance(b, tuple | list) else b for b in loader)
        was_training = getattr(self.model, "training", True)
        self.model.eval()
        device = model_device(self.model)
        try:
            with autograd.no_grad():
                # Back on the host batch by batch: predictions are for the caller to read.
                outputs = [to_host(self.model(to_device(x, device))) for x in inputs]
        finally:
            self.model.train(was_training)
        return Tensor(np.concatenate(outputs) if outputs else np.empty((0,), np.float32))

    def test(self, data: Any, force: bool = False) -> dict:
        """Evaluate the sealed test set: once per run, recorded in the run folder.

        Raises:
            RuntimeError: on a second call without `force=True` (see `SealedTest`).
        """
        return self._sealed_test.evaluate(self.evaluate, data, epoch=self.epoch, force=force)

    @property
    def tests(self) -> list[dict]:
        """Every evaluation of the sealed test set in this run, oldest first."""
        return self._sealed_test.records

    @tests.setter
    def tests(self, records: list[dict]) -> None:
        self._sealed_test.records = list(records)

    # -------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        """Everything needed to continue training bit for bit."""
        finished = self._epoch_finished
        loader_state = getattr(self._loader, "state_dict", None)
        return {
            "position": {
                "epoch": self.epoch + finished,
                "batch": 0 if finished else self.batch,
                "global_step": self.global_step,
            },
            "model": _distributed.unwrap(self.model).state_dict(),  # without DDP's "module."
            "optimizer": self.optimizer.state_dict(),
            "callbacks": _state.callback_states(self.callbacks.callbacks),
            "rng": _state.rng_state(),
            "loader": loader_state() if loader_state else None,
            "epoch_sums": None if finished else self._sums.state_dict(),
            "metrics": None if finished else [m.state_dict() for m in self.metrics],
            "train_seconds": self.train_seconds,
            "tests": self.tests,
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write a resumable checkpoint (atomically) to `path`."""
        if not _distributed.is_writer():
            return Path(path)  # rank 0 writes it
        return save_checkpoint(self.state_dict(), path)

    def resume(self, path: str | os.PathLike) -> Trainer:
        """Load a checkpoint; the next `fit` continues exactly where it was saved.

        The model and optimizer states are loaded now; the random streams and the
        loader position are applied when `fit` starts (after the loader exists).
        """
        state = load_checkpoint(path)
        _distributed.unwrap(self.model).load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        _state.load_callback_states(self.callbacks.callbacks, state["callbacks"])
        position = state["position"]
        self.epoch, self.batch = int(position["epoch"]), int(position["batch"])
        self.global_step = int(position["global_step"])
        self.train_seconds = float(state["train_seconds"])
        self._sealed_test.load(state["tests"])
        if state["epoch_sums"] is not None:
            self._sums.load_state_dict(state["epoch_sums"])
            for metric, metric_state in zip(self.metrics, state["metrics"], strict=False):
                metric.load_state_dict(metric_state)
        self._pending = {"rng": state["rng"], "loader": state["loader"]}
        return self

    def _apply_pending(self) -> None:
        if self._pending is None:
            return
        if self._pending["loader"] is not None:
            if not hasattr(self._loader, "load_state_dict"):
                raise TypeError(
                    "Trainer.fit: the checkpoint holds a loader position but this training "
                    "data has no load_state_dict(); pass a gradwork.data.DataLoader"
                )
            self._loader.load_state_dict(self._pending["loader"])
        _state.set_rng_state(self._pending["rng"])
        self._pending = None

    # ------------------------------------------------------------------ helpers
    def _as_loader(self, data: Any, shuffle: bool) -> Any:
        """A DataLoader, an iterable of batches, or a Dataset wrapped in a default loader."""
        if hasattr(data, "batch_size") or not hasattr(data, "__getitem__"):
            return data
        if isinstance(data, list | tuple):
            return data  # a list of (x, y) batches
        from gradwork.data import DataLoader

        return DataLoader(data, batch_size=self.batch_size, shuffle=shuffle)


def _mistake_watch() -> Callback:
    # gradwork.diagnose sits right of train (DESIGN.md), so the loop names it rather
    # than importing it: the watch reads the loop from outside (wrapped backward, step,
    # zero_grad), and the loop never calls into it.
    return importlib.import_module("gradwork.diagnose.mistakes").WatchCallback()


def _length(loader: Any) -> int | None:
    try:
        return len(loader)
    except TypeError:
        return None
