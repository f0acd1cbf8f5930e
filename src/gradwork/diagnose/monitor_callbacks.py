"""Trainer callbacks over the monitors: watch a real training run, log, and flag at the end.

`GradientMonitorCallback` records in `on_after_backward` (the gradients the
optimizer is about to use) and measures the update in `on_batch_end`;
`ActivationMonitorCallback` switches its forward hooks on for the sampled
batches only (never during validation). Both sample one training step in
`every`, counted over the whole run, add summary numbers to the epoch logs
(so they reach History, history.csv and the progress line), and at the end of
training print their findings with the layer names and, with a run folder,
store them in `diagnostics.json`.
"""

from __future__ import annotations

import math
import sys
from dataclasses import asdict
from typing import Any, TextIO

from gradwork.diagnose import _norms
from gradwork.diagnose.activation_monitor import ActivationMonitor, ActivationReport
from gradwork.diagnose.findings import Finding, format_number
from gradwork.diagnose.flow_plot import activation_rows, gradient_series
from gradwork.diagnose.gradient_monitor import GradientMonitor
from gradwork.train import Callback

DIAGNOSTICS_FILE = "diagnostics.json"


class _MonitorCallback(Callback):
    """Sampling, printing and saving shared by the two monitor callbacks."""

    name = ""

    def __init__(self, every: int, verbose: bool, stream: TextIO | None) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(
                f"{type(self).__name__}: every must be an integer >= 1 (record one training "
                f"step in `every`), got {every!r}"
            )
        self.every, self.verbose, self._stream = every, verbose, stream
        self.findings: list[Finding] = []

    def _sampled(self) -> bool:
        return self.trainer.global_step % self.every == 0

    def _publish(self, findings: list[Finding], healthy: str, detail: dict) -> None:
        """Keep, print and (in a run folder) save the end-of-training verdict."""
        self.findings = findings
        if self.verbose:
            lines = [str(f) for f in findings] or [f"✓ {healthy}"]
            print("\n".join([f"{self.name} ({detail['scope']}):", *lines]), file=self._out())
        run = getattr(self.trainer, "run", None)
        if run is not None:
            saved = run.read_json(DIAGNOSTICS_FILE, {})
            saved[self.name] = {**detail, "findings": [asdict(f) for f in findings]}
            run.write_json(DIAGNOSTICS_FILE, saved)

    def _out(self) -> TextIO:
        return self._stream or sys.stdout


class GradientMonitorCallback(_MonitorCallback):
    """Record gradient flow during `Trainer.fit` and flag vanishing/exploding gradients.

    Epoch logs gain `grad_norm` (the mean norm of all gradients together over
    the epoch's recorded steps) and `update_ratio` (|ΔW| / |W| over all
    parameters, measured around `optimizer.step()`, mean over those steps);
    both are NaN in an epoch without a recorded step. At the end of training
    `self.report` is the `GradientReport` over every recorded step.

    Args:
        every: record one training step in `every` (1 = every step).
        verbose: print the findings at the end of training.
        stream: where to print them (default: sys.stdout).
        **thresholds: `GradientMonitor` thresholds (vanishing_ratio, vanishing_norm,
            exploding_norm, growth_factor).

    Example:
        >>> import gradwork as gw
        >>> from gradwork import data, nn, optim, train
        >>> model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> watch = GradientMonitorCallback(every=2, verbose=False)
        >>> trainer = train.Trainer(model, optim.SGD(model.parameters(), lr=0.1),
        ...                         nn.CrossEntropyLoss(), callbacks=[watch])
        >>> history = trainer.fit(data.DataLoader(data.make_moons(64), batch_size=16), epochs=2)
        >>> len(watch.monitor.history), len(history.history["grad_norm"]), watch.report.ok
        (4, 2, True)
    """

    name = "gradient monitor"

    def __init__(
        self, every: int = 10, verbose: bool = True, stream: TextIO | None = None, **thresholds
    ) -> None:
        super().__init__(every, verbose, stream)
        self.thresholds = thresholds
        self.monitor: GradientMonitor | None = None
        self.report = None
        self._epoch_start = 0

    def on_train_begin(self, logs=None):
        if self.monitor is None:  # a second fit() continues the same record
            self.monitor = GradientMonitor(self.trainer.model, **self.thresholds)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = len(self.monitor.history)

    def on_after_backward(self, batch, logs=None):
        if self._sampled():
            self.monitor.record()

    def on_batch_end(self, batch, logs=None):
        self.monitor.record_update()  # a no-op unless this step was recorded

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        records = self.monitor.history[self._epoch_start :]
        totals = self.monitor.total_grad_norms()[self._epoch_start :]
        ratios = [_update_ratio(r) for r in records if r.update_source == "measured"]
        logs["grad_norm"] = sum(totals) / len(totals) if totals else math.nan
        logs["update_ratio"] = sum(ratios) / len(ratios) if ratios else math.nan

    def on_train_end(self, logs=None):
        steps = len(self.monitor.history)
        scope = f"{steps} of {self.trainer.global_step} training steps recorded"
        if not steps:
            return self._publish([], "nothing recorded", {"scope": scope, "recorded_steps": 0})
        self.report = self.monitor.report()
        totals = self.report.total_norms
        healthy = (
            f"gradient norms healthy across {len(self.report.rows)} layers (total norm "
            f"{format_number(totals[0])} -> {format_number(totals[-1])})"
        )
        # The per-layer series lets `gradwork report` draw gradient flow over training;
        # the monitor counts its own calls, one per sampled training step.
        series = gradient_series(self.monitor)
        series["steps"] = [call * self.every for call in series["steps"]]
        detail = {"scope": scope, "recorded_steps": steps, "series": series}
        self._publish(list(self.report.findings), healthy, detail)


def _update_ratio(record: Any) -> float:
    updates = _norms.combine(list(record.update_norms.values()))
    weights = _norms.combine(list(record.weight_norms.values()))
    return updates / weights if weights > 0 else math.nan


class ActivationMonitorCallback(_MonitorCallback):
    """Watch activations during `Trainer.fit`: dead ReLUs and saturated Sigmoid/Tanh layers.

    The forward hooks record only the sampled training batches. Statistics are
    kept per epoch: epoch logs gain `dead_relu_fraction` (the largest fraction
    of never-active units among the ReLU layers, over the epoch's recorded
    batches) when the model has `nn.ReLU` modules, and `saturated_fraction`
    (the largest among the Sigmoid/Tanh layers) when it has those; NaN in an
    epoch without a recorded batch. At the end of training `self.report` is
    the `ActivationReport` of the last epoch with a recorded batch.

    Args:
        every: record one training batch in `every`.
        verbose: print the findings at the end of training.
        stream: where to print them (default: sys.stdout).
        modules, dead_threshold, saturation_threshold: as for `ActivationMonitor`.

    Example:
        >>> import gradwork as gw
        >>> from gradwork import data, nn, optim, train
        >>> model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> watch = ActivationMonitorCallback(every=1, verbose=False)
        >>> trainer = train.Trainer(model, optim.SGD(model.parameters(), lr=0.1),
        ...                         nn.CrossEntropyLoss(), callbacks=[watch])
        >>> history = trainer.fit(data.DataLoader(data.make_moons(64), batch_size=16), epochs=2)
        >>> watch.report.rows[1].calls, len(history.history["dead_relu_fraction"])
        (4, 2)
    """

    name = "activation monitor"

    def __init__(
        self,
        every: int = 10,
        verbose: bool = True,
        stream: TextIO | None = None,
        modules: Any = None,
        dead_threshold: float = 0.5,
        saturation_threshold: float = 0.5,
    ) -> None:
        super().__init__(every, verbose, stream)
        self.options = {"modules": modules, "dead_threshold": dead_threshold,
                        "saturation_threshold": saturation_threshold}  # fmt: skip
        self.monitor: ActivationMonitor | None = None
        self.report: ActivationReport | None = None
        self._epoch = -1

    def on_train_begin(self, logs=None):
        if self.monitor is None:
            self.monitor = ActivationMonitor(self.trainer.model, **self.options)
        self.monitor.enabled = False

    def on_epoch_begin(self, epoch, logs=None):
        self.monitor.reset()

    def on_batch_begin(self, batch, logs=None):
        self.monitor.enabled = self._sampled()

    def on_after_backward(self, batch, logs=None):
        self.monitor.enabled = False  # the forward pass is over; nothing else is recorded

    def on_epoch_end(self, epoch, logs=None):
        self.monitor.enabled = False
        rows = self.monitor.layers.values()
        recorded = any(row.calls for row in rows)
        if recorded:
            self.report, self._epoch = self.monitor.report(), epoch
        if logs is None:
            return
        kinds = {row.kind for row in rows}
        if "relu" in kinds:
            dead = [row.dead_fraction for row in rows if row.alive is not None]
            logs["dead_relu_fraction"] = max(dead) if recorded and dead else math.nan
        if kinds & {"sigmoid", "tanh"}:
            saturated = [r.saturated_fraction for r in rows if r.saturated_fraction is not None]
            logs["saturated_fraction"] = max(saturated) if recorded and saturated else math.nan

    def on_train_end(self, logs=None):
        self.monitor.remove()  # leave the model as it was; a next fit() hooks afresh
        self.monitor = None
        if self.report is None:
            return self._publish([], "nothing recorded", {"scope": "no batch recorded"})
        watched = [row for row in self.report.rows if row.kind != "other"]
        healthy = f"no dead ReLU or saturated layer among {len(watched)} activation layers"
        scope = f"epoch {self._epoch + 1}, one batch in {self.every}"
        detail = {"scope": scope, "epoch": self._epoch, "layers": activation_rows(self.report)}
        self._publish(list(self.report.findings), healthy, detail)
