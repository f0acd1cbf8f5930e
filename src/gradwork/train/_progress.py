"""`ProgressBar`: a live one-line bar on a terminal, one plain line per epoch elsewhere."""

from __future__ import annotations

import os
import sys
import time
from typing import Any, TextIO

from gradwork.train.callbacks import Callback

_REFRESH_SECONDS = 0.1  # redraws are throttled so the bar costs nothing per batch


class ProgressBar(Callback):
    """Show the epoch, a bar, the running loss and metrics, and the time left.

    On a TTY the line is redrawn in place (at most ten times a second); when the
    stream is not a TTY, or the environment variable `CI` is set, it prints one
    line per epoch instead, so logs stay readable.

    Args:
        stream: where to write (default: sys.stdout at the time of writing).
        live: force the live bar on (True) or off (False); None decides as above.
        width: characters of the bar itself.
    """

    def __init__(self, stream: TextIO | None = None, live: bool | None = None, width: int = 24):
        self._stream, self.width = stream, width
        self.live = live
        self._epoch_start = self._last_draw = 0.0
        self._epochs = None

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stdout

    def on_train_begin(self, logs=None):
        if self.live is None:
            is_tty = getattr(self.stream, "isatty", lambda: False)()
            self.live = bool(is_tty) and not os.environ.get("CI")
        self._epochs = getattr(self.trainer, "epochs", None)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = self._last_draw = time.perf_counter()
        self._running_loss, self._seen = 0.0, 0

    def on_batch_end(self, batch, logs=None):
        if not self.live:
            return
        if logs and "loss" in logs:
            self._running_loss += logs["loss"]
            self._seen += 1
        now = time.perf_counter()
        if now - self._last_draw < _REFRESH_SECONDS:
            return
        self._last_draw = now
        total = getattr(self.trainer, "steps_per_epoch", None)
        done = batch + 1
        self._write("\r" + self._bar_line(done, total, now) + "\033[K")

    def _bar_line(self, done: int, total: int | None, now: float) -> str:
        elapsed = now - self._epoch_start
        loss = self._running_loss / max(self._seen, 1)
        if not total:
            return f"{self._epoch_label()} {done} batches  loss {loss:.4f}  {elapsed:.0f}s"
        filled = int(self.width * done / total)
        bar = "=" * filled + ">" * (filled < self.width) + "." * (self.width - filled - 1)
        eta = elapsed / done * (total - done)
        return (
            f"{self._epoch_label()} [{bar}] {done}/{total}  loss {loss:.4f}  ETA {_duration(eta)}"
        )

    def on_epoch_end(self, epoch, logs=None):
        elapsed = time.perf_counter() - self._epoch_start
        parts = [f"{k} {_number(v)}" for k, v in (logs or {}).items()]
        line = f"{self._epoch_label()} {'  '.join(parts)}  ({_duration(elapsed)})"
        self._write(("\r" + line + "\033[K\n") if self.live else line + "\n")

    def _epoch_label(self) -> str:
        epoch = getattr(self.trainer, "epoch", 0) + 1
        return f"epoch {epoch}/{self._epochs}" if self._epochs else f"epoch {epoch}"

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _duration(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s"
