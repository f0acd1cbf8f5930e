"""`RunSummary`: write a run folder's summary.json when training ends, however it ends."""

from __future__ import annotations

import os
from pathlib import Path

from gradwork.train._interrupt import is_exact_interrupt
from gradwork.train.callbacks import Callback
from gradwork.train.run import RunFolder, best_and_last


class RunSummary(Callback):
    """Merge the state of training into the run folder's summary.json.

    Written when training ends (status "completed", or "stopped" when a callback
    set `stop_training`) and when Ctrl-C interrupts it at a batch boundary
    ("interrupted"; a second, immediate Ctrl-C writes nothing). The summary holds
    the epochs and steps done, the best and last value of every logged quantity
    (best in the `mode` of the callback monitoring it, else guessed from the name),
    the training time, the sealed test evaluations and the versions. The Trainer
    adds one, called last, when it has a run folder.

    Args:
        run: the run folder (a `RunFolder` or its path).

    Example:
        >>> import json, tempfile
        >>> from gradwork import data, nn, optim, train
        >>> model = nn.Linear(2, 2)
        >>> trainer = train.Trainer(model, optim.SGD(model.parameters(), lr=0.1),
        ...                         nn.CrossEntropyLoss(), run_dir=tempfile.mkdtemp())
        >>> _ = trainer.fit(data.DataLoader(data.make_moons(40, seed=0), batch_size=10), epochs=2)
        >>> summary = json.loads((trainer.run.path / "summary.json").read_text())
        >>> summary["status"], summary["epochs_completed"], summary["global_step"]
        ('completed', 2, 8)
    """

    def __init__(self, run: RunFolder | str | os.PathLike) -> None:
        self.run = run if isinstance(run, RunFolder) else RunFolder(run)

    def on_train_end(self, logs=None):
        self.write("stopped" if self.trainer.stop_training else "completed")

    def on_exception(self, exception, logs=None):
        # NOTE: only an exact interrupt; after any other failure the last summary stands.
        if is_exact_interrupt(exception):
            self.write("interrupted")

    def write(self, status: str) -> Path:
        """Merge `status` and the trainer's numbers into summary.json; return its path."""
        trainer = self.trainer
        modes = {
            c.monitor: c.mode
            for c in trainer.callbacks.callbacks
            if hasattr(c, "monitor") and hasattr(c, "mode")
        }
        best, last = best_and_last(trainer.history.history, modes)
        return self.run.update_summary(
            status=status,
            epochs_completed=trainer.epoch,
            global_step=trainer.global_step,
            best=best,
            last=last,
            durations={"train_seconds": round(trainer.train_seconds, 3)},
        )
