"""`watch()`: the training-code mistakes that no framework catches, found from the graph.

Softmax into CrossEntropyLoss, sigmoid into BCEWithLogitsLoss, parameters the
loss never reaches, a missing or misplaced `zero_grad()`, a running total that
keeps every step's graph, evaluation in training mode or with gradients on, a
loader that never shuffles, the same batch every step, sorted labels, data
standardised before the split, and a schedule stepped at the wrong cadence.
Each is reported once, as a `Finding` naming the line of your code that made
it (`evidence["file"]`, `evidence["line"]`) and the fix, and as a
`TrainingMistakeWarning` at that line.

Example:
    >>> import gradwork as gw
    >>> from gradwork import nn, optim
    >>> from gradwork.diagnose import watch
    >>> model = nn.Linear(4, 3)
    >>> optimizer = optim.SGD(model.parameters(), lr=0.1)
    >>> x, y = gw.randn(16, 4), gw.randint(0, 3, (16,))
    >>> with watch(warn=False) as watcher:
    ...     for step in range(3):
    ...         loss = nn.functional.cross_entropy(model(x).softmax(dim=1), y)
    ...         optimizer.zero_grad()
    ...         loss.backward()
    ...         optimizer.step()
    >>> [finding.check for finding in watcher.findings]
    ['softmax_into_cross_entropy']
"""

from __future__ import annotations

from typing import Any

from gradwork.diagnose.findings import Finding
from gradwork.diagnose.mistakes._watcher import TrainingMistakeWarning, Watcher
from gradwork.train.callbacks import Callback


def watch(warn: bool = True) -> Watcher:
    """Start watching the training loop for mistakes; a context manager, or call `.stop()`.

    Args:
        warn: also issue each finding as a `TrainingMistakeWarning` at the user's line.

    Returns:
        The running `Watcher`; its `findings` fill in as mistakes are seen.
    """
    return Watcher(warn=warn).start()


class WatchCallback(Callback):
    """`watch()` as a Trainer callback, on by default (`Trainer(..., watch=False)` turns it off).

    The findings are printed as warnings when they happen, kept in
    `trainer.mistakes`, and returned by `findings`.
    """

    def __init__(self, warn: bool = True) -> None:
        self.warn = warn
        self.watcher: Watcher | None = None
        self.findings: list[Finding] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.watcher = Watcher(warn=self.warn).start()
        self.watcher.findings = self.findings  # one list across fit() calls
        self.trainer.mistakes = self.findings

    def on_train_end(self, logs: dict | None = None) -> None:
        self._stop()

    def on_exception(self, exception: BaseException, logs: dict | None = None) -> None:
        self._stop()

    def _stop(self) -> Any:
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None


__all__ = ["watch", "Watcher", "WatchCallback", "TrainingMistakeWarning"]
