"""`ModelCheckpoint`: keep `last.npz` (resume from here) and `best.npz` in a folder."""

from __future__ import annotations

import os
from pathlib import Path

from gradwork.train._weights import export_weights
from gradwork.train.callbacks import Callback, _Monitor


class ModelCheckpoint(Callback):
    """Save full training checkpoints (model, optimizer, callbacks, RNG, loader position).

    The trainer runs checkpoint callbacks after all others, so a checkpoint holds
    the state every other callback reached at the end of the epoch.

    Args:
        directory: the folder for `last.npz` and `best.npz` (a run folder's
            `checkpoints/`, or any folder).
        monitor: the logged quantity that decides "best".
        mode: "min", "max" or "auto".
        save_best_only: write only `best.npz`.
        save_last: write `last.npz` after every epoch (ignored with save_best_only).
        every_n_batches: also refresh `last.npz` every n batches (mid-epoch resume).
        safetensors: also write the model weights alone beside each checkpoint
            (`best.safetensors`, `last.safetensors`), for torch and Hugging Face.

    Example:
        >>> import tempfile
        >>> checkpoint = ModelCheckpoint(tempfile.mkdtemp(), monitor="val_accuracy")
        >>> checkpoint.mode
        'max'
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        monitor: str = "val_loss",
        mode: str = "auto",
        save_best_only: bool = False,
        save_last: bool = True,
        every_n_batches: int | None = None,
        safetensors: bool = False,
    ) -> None:
        self.directory = Path(directory)
        self._monitor = _Monitor(monitor, mode)
        self.monitor, self.mode = monitor, self._monitor.mode
        self.save_last = save_last and not save_best_only
        self.every_n_batches = every_n_batches
        self.safetensors = safetensors
        self.best_epoch = -1

    def set_monitor(self, monitor: str) -> None:
        """Watch another quantity (used when a run has no validation data)."""
        self._monitor = _Monitor(monitor, "auto")
        self.monitor, self.mode = monitor, self._monitor.mode

    last_path = property(lambda self: self.directory / "last.npz")
    best_path = property(lambda self: self.directory / "best.npz")

    def on_batch_end(self, batch, logs=None):
        if self.every_n_batches and self.trainer.global_step % self.every_n_batches == 0:
            self._save(self.last_path)

    def on_epoch_end(self, epoch, logs=None):
        value = self._monitor.value(logs, "ModelCheckpoint")
        if self._monitor.improved(value):
            self._monitor.best, self.best_epoch = value, epoch
            # The state saved includes this callback's new best, so save after updating it.
            self._save(self.best_path)
        if self.save_last:
            self._save(self.last_path)

    def _save(self, path: Path) -> None:
        self.trainer.save(path)
        if self.safetensors:
            export_weights(self.trainer.model, path.with_suffix(".safetensors"))

    def state_dict(self) -> dict:
        return {"best": self._monitor.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict) -> None:
        self._monitor.best = float(state["best"])
        self.best_epoch = int(state["best_epoch"])
