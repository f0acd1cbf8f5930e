"""`SealedTest`: the test set is evaluated once per run, and every evaluation is recorded."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from gradwork.train.run import RunFolder


class SealedTest:
    """The bookkeeping behind `Trainer.test`: records, the refusal, the run folder's copy.

    Choosing models or settings on test results overfits the test set, so a
    second evaluation is refused unless forced, and a forced one is recorded as
    such. With a run folder, the records live in its tests.json (a new trainer on
    the same folder sees the seal) and summary.json lists them; without one they
    are kept here. Checkpoints carry them too (`Trainer.state_dict()["tests"]`).

    Args:
        run: the run folder, or None.

    Example:
        >>> def evaluate(data):
        ...     return {"loss": sum(data)}
        >>> seal = SealedTest()
        >>> seal.evaluate(evaluate, [0.5, 0.25], epoch=3)
        {'loss': 0.75}
        >>> seal.evaluate(evaluate, [0.5, 0.25], epoch=3)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        RuntimeError: Trainer.test: the test set is sealed and was already evaluated ...
        >>> _ = seal.evaluate(evaluate, [0.5], epoch=4, force=True)
        >>> [(r["epoch"], r["forced"]) for r in seal.records]
        [(3, False), (4, True)]
    """

    def __init__(self, run: RunFolder | None = None) -> None:
        self.run = run
        self.records: list[dict] = run.test_records() if run is not None else []

    def evaluate(
        self, evaluate: Callable[[Any], dict], data: Any, epoch: int, force: bool = False
    ) -> dict:
        """`evaluate(data)` once (again only with `force`), recorded with `epoch` and the time.

        Raises:
            RuntimeError: on a second evaluation without `force=True`.
        """
        if self.records and not force:
            first = self.records[0]
            raise RuntimeError(
                f"Trainer.test: the test set is sealed and was already evaluated in this run "
                f"(at {first['time']}, epoch {first['epoch']}). Choose models and settings "
                "on validation data (trainer.evaluate(val)); if you really must look again, "
                "call test(data, force=True), which is recorded in the run folder."
            )
        metrics = evaluate(data)
        self.records.append(self._record(metrics, epoch))
        return metrics

    def _record(self, metrics: dict, epoch: int) -> dict:
        forced = bool(self.records)
        if self.run is None:
            return {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "forced": forced,
                "epoch": epoch,
                "metrics": metrics,
            }
        record = self.run.record_test(metrics, forced=forced, epoch=epoch)
        self.run.update_summary()  # summary.json lists the test evaluations too
        return record

    def load(self, records: list[dict]) -> None:
        """Take the records a checkpoint carries (a checkpoint without any changes nothing)."""
        self.records = list(records) or self.records
