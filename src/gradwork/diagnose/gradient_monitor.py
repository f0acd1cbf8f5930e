"""`GradientMonitor`: gradient and weight norms per parameter and per layer, over time.

Call `record()` after `loss.backward()` (and `record_update()` after
`optimizer.step()` to measure the update-to-weight ratio). An explicit call
was chosen over tensor hooks: it reads the gradient the optimizer will see,
after any gradient accumulation, clipping or scaling the loop does; it costs
nothing on the steps it skips; and there is nothing to detach afterwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from gradwork.diagnose import _norms
from gradwork.diagnose._gradient_report import GradientReport, LayerGradients, build_report


@dataclass
class GradientRecord:
    """The norms measured at one recorded step (None where a gradient was None)."""

    step: int
    grad_norms: dict[str, float | None]
    weight_norms: dict[str, float]
    update_norms: dict[str, float] = field(default_factory=dict)
    update_source: str = "none"  # "measured", "estimated" or "none"

    def update_ratio(self, name: str) -> float | None:
        """|update| / |weight| of one parameter (None when no update was measured or estimated)."""
        if name not in self.update_norms:
            return None
        return _ratio(self.update_norms[name], self.weight_norms[name])


class GradientMonitor:
    """Records gradient norms, weight norms and update/weight ratios of a model's parameters.

    Args:
        model: an nn.Module (any object with `named_parameters()`).
        every: record one call of `record()` in `every` (1 = every step).
        optimizer: optional; its learning rates give an estimate of the
            update/weight ratio, lr * |grad| / |weight| (exact for plain SGD
            without momentum), used when `record_update()` is not called.
        vanishing_ratio: a layer whose mean gradient norm is below this
            fraction of the last layer's is flagged VANISHING.
        vanishing_norm: a layer whose mean gradient norm is below this is
            flagged VANISHING whatever the other layers do.
        exploding_norm: a layer whose gradient norm ever exceeds this (or is
            inf/NaN) is flagged EXPLODING.
        growth_factor: the total gradient norm growing by this factor over the
            recorded steps, rising at most steps, is flagged EXPLODING too.

    Example:
        >>> import gradwork as gw
        >>> from gradwork import nn
        >>> model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
        >>> monitor = GradientMonitor(model)
        >>> model(gw.randn(8, 3)).pow(2).mean().backward()
        >>> monitor.record()
        True
        >>> report = monitor.report()
        >>> [row.layer for row in report.rows], report.ok
        (['0', '2'], True)
    """

    def __init__(
        self,
        model: Any,
        every: int = 1,
        optimizer: Any = None,
        vanishing_ratio: float = 1e-3,
        vanishing_norm: float = 1e-10,
        exploding_norm: float = 1e3,
        growth_factor: float = 1e2,
    ) -> None:
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"GradientMonitor: every must be an integer >= 1, got {every!r}")
        self.model = model
        self.every = every
        self.optimizer = optimizer
        self.thresholds = {
            "vanishing_ratio": vanishing_ratio,
            "vanishing_norm": vanishing_norm,
            "exploding_norm": exploding_norm,
            "growth_factor": growth_factor,
        }
        self.parameters = {n: p for n, p in model.named_parameters() if p.requires_grad}
        if not self.parameters:
            raise ValueError(
                f"GradientMonitor: {type(model).__name__} has no parameter with "
                "requires_grad=True; nothing to monitor"
            )
        self.layers = _norms.group_by_layer(list(self.parameters))
        self.history: list[GradientRecord] = []
        self.calls = 0
        self._before: dict[str, Any] | None = None

    def record(self) -> bool:
        """Measure the gradients now (after backward); returns whether this call recorded."""
        self.calls += 1
        if (self.calls - 1) % self.every:
            self._before = None
            return False
        grads = {
            name: None if p.grad is None else _norms.norm(p.grad.array)
            for name, p in self.parameters.items()
        }
        weights = {name: _norms.norm(p.array) for name, p in self.parameters.items()}
        record = GradientRecord(self.calls - 1, grads, weights)
        if self.optimizer is not None:
            record.update_norms = self._estimated_updates(grads)
            record.update_source = "estimated"
        self.history.append(record)
        self._before = {name: p.array.copy() for name, p in self.parameters.items()}
        return True

    def record_update(self) -> None:
        """Measure |w_after - w_before| / |w_before| (call after optimizer.step())."""
        if self._before is None or not self.history:
            return  # this step was not recorded
        record = self.history[-1]
        # NOTE: the ratio's denominator is the weight norm measured by record(),
        # i.e. before the step, as in |w_after - w_before| / |w_before|.
        record.update_norms = {
            name: _norms.norm(p.array - self._before[name]) for name, p in self.parameters.items()
        }
        record.update_source = "measured"
        self._before = None

    def layer_grad_norms(self, index: int = -1) -> dict[str, float | None]:
        """Per-layer gradient norms at one recorded step (None when no parameter had a grad)."""
        record = self.history[index]
        result = {}
        for layer, names in self.layers.items():
            present = [record.grad_norms[n] for n in names if record.grad_norms[n] is not None]
            result[layer] = _norms.combine(present) if present else None
        return result

    def total_grad_norms(self) -> list[float]:
        """The norm of all gradients together, one value per recorded step."""
        return [
            _norms.combine([n for n in record.grad_norms.values() if n is not None])
            for record in self.history
        ]

    def reset(self) -> None:
        """Forget every record (the thresholds and parameters stay)."""
        self.history.clear()
        self.calls = 0
        self._before = None

    def report(self) -> GradientReport:
        """A table per layer (grad norm now, mean and max over time) and the flags."""
        if not self.history:
            raise RuntimeError(
                "GradientMonitor.report: nothing recorded yet; call monitor.record() "
                "after loss.backward()"
            )
        rows = [self._layer_row(layer, names) for layer, names in self.layers.items()]
        return build_report(rows, self.total_grad_norms(), self.thresholds)

    def _layer_row(self, layer: str, names: list[str]) -> LayerGradients:
        series = [row[layer] for row in map(self.layer_grad_norms, range(len(self.history)))]
        weights = [_norms.combine([r.weight_norms[n] for n in names]) for r in self.history]
        ratios = [self._layer_ratio(record, names) for record in self.history]
        return LayerGradients(layer, series, weights, ratios)

    def _layer_ratio(self, record: GradientRecord, names: list[str]) -> float | None:
        """|dW| / |W| over all the layer's parameters together."""
        if not record.update_norms:
            return None
        updates = _norms.combine([record.update_norms[n] for n in names])
        return _ratio(updates, _norms.combine([record.weight_norms[n] for n in names]))

    def _estimated_updates(self, grads: dict) -> dict[str, float]:
        rates = {}
        for group in self.optimizer.param_groups:
            for p in group["params"]:
                rates[id(p)] = float(group.get("lr", 0.0))
        return {
            name: rates.get(id(p), 0.0) * (grads[name] or 0.0)
            for name, p in self.parameters.items()
        }


def _ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator; inf for a zero denominator (a zero-initialised bias)."""
    if denominator == 0.0 and not math.isnan(numerator):
        return math.inf if numerator > 0 else 0.0
    return numerator / denominator
