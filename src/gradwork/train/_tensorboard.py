"""`TensorBoardLogger`: scalars, histograms and diagnostic findings for TensorBoard.

Written with tensorboardX rather than the `tensorboard` package's writer:
tensorboardX is a small pure-Python package needing only NumPy and protobuf,
while `tensorboard` brings the whole server (grpcio, werkzeug, markdown, ...)
and its writer lives behind TensorFlow-shaped APIs. TensorBoard (or any reader
of event files) shows what tensorboardX writes. Install with
`pip install "gradwork[tensorboard]"` (from a clone: `pip install -e ".[tensorboard]"`).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from gradwork.train import _state
from gradwork.train.callbacks import Callback

INSTALL_HINT = (
    'TensorBoardLogger needs the tensorboardX package: pip install "gradwork[tensorboard]" '
    '(from a clone of gradwork: pip install -e ".[tensorboard]")'
)


def _summary_writer() -> Any:
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return SummaryWriter


class TensorBoardLogger(Callback):
    """Write training curves, weight and gradient histograms and findings for TensorBoard.

    Scalars: every number in the epoch logs (`loss`, `val_loss`, metrics, `lr`)
    under its own name at step = epoch (1 for the first), and with
    `update_freq=n` the batch loss as `batch/loss` every n steps. Histograms:
    `weights/<name>` and `gradients/<name>` for every parameter, every
    `histogram_freq` epochs (0: never). Text: the doctor's findings before
    training (`doctor=True`), and at the end the findings of the monitors and of
    the trainer's mistake watch; `log_findings` writes any report.

    Args:
        log_dir: the folder of the event files; default `tensorboard/` in the
            trainer's run folder (or `runs/tensorboard` without one).
        histogram_freq: histograms every this many epochs (0: none).
        update_freq: "epoch", or log the batch loss every this many steps.
        doctor: run `gradwork.diagnose.doctor` on the first batch before training
            (on copies: the model, optimizer and random streams are left as they were).

    Example:
        >>> import gradwork as gw, tempfile  # doctest: +SKIP
        >>> logger = gw.train.TensorBoardLogger(tempfile.mkdtemp())  # doctest: +SKIP
        >>> trainer = gw.train.Trainer(model, optimizer, loss, callbacks=[logger])  # doctest: +SKIP
    """

    # Runs with History, after the other callbacks: it sees the numbers and findings they add.
    runs_after_others = True

    def __init__(
        self,
        log_dir: str | os.PathLike | None = None,
        histogram_freq: int = 1,
        update_freq: str | int = "epoch",
        doctor: bool = False,
    ) -> None:
        self._writer_class = _summary_writer()  # fails now, before training, when missing
        if update_freq != "epoch" and not (isinstance(update_freq, int) and update_freq > 0):
            raise ValueError(
                f"TensorBoardLogger: update_freq must be 'epoch' or a positive number of "
                f"steps, got {update_freq!r}"
            )
        if histogram_freq < 0:
            raise ValueError(
                f"TensorBoardLogger: histogram_freq must be >= 0, got {histogram_freq}"
            )
        self.log_dir = None if log_dir is None else Path(log_dir)
        self.histogram_freq, self.update_freq, self.doctor = histogram_freq, update_freq, doctor
        self.writer: Any = None

    # -- the writer ------------------------------------------------------------------
    def _open(self) -> Any:
        if self.writer is None:
            if self.log_dir is None:
                run = getattr(self.trainer, "run", None)
                self.log_dir = Path(run.path if run is not None else "runs") / "tensorboard"
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self.writer = self._writer_class(logdir=str(self.log_dir))
        return self.writer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    # -- hooks -----------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._open()
        if self.doctor:
            self._run_doctor()

    def on_batch_end(self, batch, logs=None):
        step = self.trainer.global_step
        if self.update_freq != "epoch" and logs and step % self.update_freq == 0:
            for key, value in logs.items():
                if _is_number(value):
                    self._open().add_scalar(f"batch/{key}", float(value), step)

    def on_epoch_end(self, epoch, logs=None):
        writer, step = self._open(), epoch + 1
        for key, value in (logs or {}).items():
            if _is_number(value):
                writer.add_scalar(key, float(value), step)
        if self.histogram_freq and step % self.histogram_freq == 0:
            self._histograms(step)
        writer.flush()

    def on_train_end(self, logs=None):
        self._collected_findings()
        self.close()

    def on_exception(self, exception, logs=None):
        self.close()

    # -- histograms and text -----------------------------------------------------------
    def _histograms(self, step: int) -> None:
        writer = self._open()
        for name, parameter in self.trainer.model.named_parameters():
            values = _host(parameter.array)
            if values.size and np.isfinite(values).all():
                writer.add_histogram(f"weights/{name}", values, step)
            grad = None if parameter.grad is None else _host(parameter.grad.array)
            if grad is not None and grad.size and np.isfinite(grad).all():
                writer.add_histogram(f"gradients/{name}", grad, step)

    def log_findings(self, findings: Any, tag: str = "doctor", step: int = 0) -> None:
        """Write findings as text: a doctor or monitor report, or a list of findings."""
        findings = list(getattr(findings, "findings", findings))
        lines = [str(f).replace("\n", "  \n") for f in findings] or ["✓ no findings"]
        self._open().add_text(tag, "\n\n".join(lines), step)

    def _collected_findings(self) -> None:
        """The verdicts of the monitors (any callback with `findings`) and the mistake watch."""
        step, mistakes = self.trainer.epoch, getattr(self.trainer, "mistakes", None)
        sources = [
            (getattr(callback, "name", "") or type(callback).__name__, callback.findings)
            for callback in self.trainer.callbacks.callbacks
            if callback is not self and isinstance(getattr(callback, "findings", None), list)
        ]
        if isinstance(mistakes, list) and not any(found is mistakes for _, found in sources):
            sources.append(("mistakes", mistakes))
        for name, found in sources:
            name = "mistakes" if found is mistakes else name.replace(" ", "_")
            self.log_findings(found, f"findings/{name}", step)

    def _run_doctor(self) -> None:
        # gradwork.diagnose sits right of train (DESIGN.md): named at run time, as the
        # trainer names its mistake watch. The doctor is advice: its failure is logged,
        # not raised, and it leaves the random streams as they were.
        trainer, saved = self.trainer, _state.rng_state()
        try:
            doctor = importlib.import_module("gradwork.diagnose").doctor
            batch = _first_batch(trainer._loader)
            report = doctor(trainer.model, trainer.loss_fn, batch, optimizer=trainer.optimizer)
            self.log_findings(report, "doctor", 0)
        except Exception as error:  # noqa: BLE001 - any failure of the advice is reported
            self._open().add_text("doctor", f"the doctor could not run: {error}", 0)
        finally:
            _state.set_rng_state(saved)


def _first_batch(loader: Any) -> Any:
    """The first batch of a loader's data set, without moving the loader on."""
    dataset = getattr(loader, "dataset", None)
    if dataset is None:
        raise ValueError("the training data has no .dataset to take a batch from")
    size = min(len(dataset), getattr(loader, "batch_size", None) or 32)
    collate = getattr(loader, "collate_fn", None)
    items = [dataset[i] for i in range(size)]
    if collate is not None:
        return collate(items)
    return tuple(
        np.stack([np.asarray(getattr(v, "array", v)) for v in column])
        for column in zip(*items, strict=True)
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool)


def _host(array: Any) -> np.ndarray:
    return np.asarray(
        array.get() if hasattr(array, "get") and not isinstance(array, np.ndarray) else array
    )
