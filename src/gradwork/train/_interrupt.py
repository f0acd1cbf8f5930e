"""`InterruptHandler`: Ctrl-C finishes the step in flight, saves a checkpoint, then stops."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

from gradwork.train.callbacks import Callback


class _ImmediateInterrupt(KeyboardInterrupt):
    """A second Ctrl-C: raised at once, possibly in the middle of a step."""


def is_exact_interrupt(exception: BaseException) -> bool:
    """Whether `exception` stopped training where a checkpoint resumes exactly.

    A KeyboardInterrupt raised at a batch boundary (a deferred Ctrl-C, or one a
    callback raised) is exact; a second Ctrl-C, served at once, is not.

    Example:
        >>> is_exact_interrupt(KeyboardInterrupt()), is_exact_interrupt(ValueError())
        (True, False)
    """
    return isinstance(exception, KeyboardInterrupt) and not isinstance(
        exception, _ImmediateInterrupt
    )


class InterruptHandler(Callback):
    """Defer Ctrl-C to the next batch boundary, then save a checkpoint (if given a path).

    The first Ctrl-C (SIGINT) only sets `trainer.interrupt_requested`: the trainer
    finishes the step in flight and raises KeyboardInterrupt at the batch boundary,
    and this callback then saves the whole training state to `checkpoint` (set in
    `trainer.interrupt_checkpoint`), from which `Trainer.resume` continues bit for
    bit. A second Ctrl-C interrupts at once and saves nothing. The handler is
    installed only in the main thread, and only over Python's default one; it is
    restored when training ends, however it ends. The Trainer adds one (saving to
    its run folder's `checkpoints/last.npz`, or nothing without a run folder)
    unless `callbacks` holds one, and calls it first.

    Args:
        checkpoint: where to save on an interrupt; None: save nothing.

    Example:
        >>> import tempfile
        >>> from gradwork import data, nn, optim, train
        >>> class PressCtrlC(train.Callback):  # does what the SIGINT handler does
        ...     def on_batch_end(self, batch, logs=None):
        ...         self.trainer.interrupt_requested = True
        >>> model = nn.Linear(2, 2)
        >>> trainer = train.Trainer(model, optim.SGD(model.parameters(), lr=0.1),
        ...                         nn.CrossEntropyLoss(), callbacks=[PressCtrlC()],
        ...                         run_dir=tempfile.mkdtemp())
        >>> try:
        ...     trainer.fit(data.DataLoader(data.make_moons(40, seed=0), batch_size=10))
        ... except KeyboardInterrupt:
        ...     print("interrupted after step", trainer.global_step)
        interrupted after step 1
        >>> trainer.interrupt_checkpoint.name
        'last.npz'
    """

    def __init__(self, checkpoint: str | os.PathLike | None = None) -> None:
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        self._previous: Any = None

    def on_train_begin(self, logs=None):
        is_main = threading.current_thread() is threading.main_thread()
        # NOTE: a handler someone else installed is theirs to keep; only the default is replaced.
        if is_main and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        # NOTE: an interrupt in the middle of a step would leave the loader one batch
        # ahead of the optimizer; deferring it to the boundary keeps the checkpoint exact.
        if self.trainer.interrupt_requested:
            raise _ImmediateInterrupt
        self.trainer.interrupt_requested = True

    def on_train_end(self, logs=None):
        self._restore()

    def on_exception(self, exception, logs=None):
        try:
            if self.checkpoint is not None and is_exact_interrupt(exception):
                self.trainer.interrupt_checkpoint = self.trainer.save(self.checkpoint)
        finally:
            # A second Ctrl-C during the save must still give the default handler back.
            self._restore()

    def _restore(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
