"""`ActivationMonitor`: forward hooks that watch each layer's outputs.

Per layer it records the activation mean and standard deviation; after ReLU
layers the fraction of dead units (zero for every sample of every recorded
batch); after Sigmoid/Tanh layers the fraction of saturated outputs, where
the derivative is nearly zero. Only module outputs are seen: a `x.relu()`
written inside a `forward` has no module to hook, so use `nn.ReLU()` layers
(or pass the enclosing modules) to have it watched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradwork.diagnose.findings import Finding, FindingsReport, format_number
from gradwork.tensor import Tensor
from gradwork.train.devices import to_host

DEAD_FIX = (
    "use He initialisation (gw.nn.init.kaiming_normal_), a smaller learning rate, "
    "LeakyReLU/ELU/GELU instead of ReLU, or normalisation before the activation; "
    "check for a large negative bias"
)
SATURATION_FIX = (
    "scale the inputs to mean 0 / std 1, initialise with Glorot (xavier_uniform_) "
    "instead of large weights, add normalisation before the activation, or use ReLU-family "
    "activations in hidden layers"
)


@dataclass
class LayerActivations:
    """What one layer's outputs looked like over the recorded calls."""

    layer: str
    kind: str  # "relu", "sigmoid", "tanh" or "other"
    means: list[float] = field(default_factory=list)
    stds: list[float] = field(default_factory=list)
    saturation: list[float] = field(default_factory=list)
    alive: Any = None  # bool array per unit: ever non-zero so far (ReLU layers)

    @property
    def calls(self) -> int:
        return len(self.means)

    @property
    def mean(self) -> float:
        return float(np.mean(self.means))

    @property
    def std(self) -> float:
        return float(np.mean(self.stds))

    @property
    def dead_fraction(self) -> float | None:
        """The fraction of units that were zero for every sample seen (ReLU layers)."""
        return None if self.alive is None else float(1.0 - self.alive.mean())

    @property
    def saturated_fraction(self) -> float | None:
        """The mean fraction of saturated outputs (Sigmoid/Tanh layers)."""
        return float(np.mean(self.saturation)) if self.saturation else None

    def observe(self, data: Any) -> None:
        self.means.append(float(data.mean(dtype=np.float64)))
        self.stds.append(float(data.std(dtype=np.float64)))
        if self.kind == "relu":
            # A unit is one position of the output (feature, or channel-pixel of
            # a conv map); it is alive if any sample of the batch activates it.
            active = (data != 0).reshape(data.shape[0], -1).any(axis=0) if data.ndim else data != 0
            same_shape = self.alive is not None and self.alive.shape == active.shape
            self.alive = (self.alive | active) if same_shape else active
        elif self.kind == "tanh":
            self.saturation.append(float((np.abs(data) > 0.99).mean()))
        elif self.kind == "sigmoid":
            self.saturation.append(float(((data < 0.01) | (data > 0.99)).mean()))


@dataclass
class ActivationReport(FindingsReport):
    """Per-layer activation statistics and the flags raised on them."""

    rows: list[LayerActivations]
    findings: list[Finding]

    def __str__(self) -> str:
        header = ["layer", "kind", "mean", "std", "dead", "saturated"]
        table = [header] + [
            [row.layer, row.kind, format_number(row.mean), format_number(row.std),
             format_number(row.dead_fraction), format_number(row.saturated_fraction)]
            for row in self.rows if row.calls
        ]  # fmt: skip
        widths = [max(len(line[i]) for line in table) for i in range(len(header))]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=False))
            for line in table
        ]
        verdict = [str(f) for f in self.findings] or ["✓ activations look healthy"]
        return "\n".join(["Activations", *lines, *verdict])


class ActivationMonitor:
    """Forward hooks recording per-layer activation statistics; a context manager.

    Args:
        model: the nn.Module to watch.
        modules: the modules to hook, as objects or names from
            `model.named_modules()`; default: every leaf module.
        dead_threshold: flag a ReLU layer when more than this fraction of its
            units never activated.
        saturation_threshold: flag a Sigmoid/Tanh layer when more than this
            fraction of its outputs is saturated (|tanh| > 0.99, sigmoid < 0.01 or > 0.99).

    Set `monitor.enabled = False` to keep the hooks attached but record nothing
    (e.g. between sampled batches, or during validation).

    Example:
        >>> import gradwork as gw
        >>> from gradwork import nn
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
        >>> with ActivationMonitor(model) as monitor:
        ...     _ = model(gw.randn(16, 4))
        >>> report = monitor.report()
        >>> [row.layer for row in report.rows], report.ok
        (['0', '1', '2'], True)
        >>> model._modules["1"]._forward_hooks   # removed on leaving the block
        OrderedDict()
    """

    def __init__(
        self,
        model: Any,
        modules: Any = None,
        dead_threshold: float = 0.5,
        saturation_threshold: float = 0.5,
    ) -> None:
        self.model = model
        self.dead_threshold = dead_threshold
        self.saturation_threshold = saturation_threshold
        self.layers: dict[str, LayerActivations] = {}
        self.enabled = True  # False: the hooks stay attached but record nothing
        self._handles = []
        for name, module in _targets(model, modules):
            stats = LayerActivations(name, _kind(module))
            self.layers[name] = stats
            self._handles.append(module.register_forward_hook(_hook(self, name)))

    def remove(self) -> None:
        """Detach every hook (the records stay readable)."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def reset(self) -> None:
        """Forget what was recorded; the hooks stay."""
        for name, stats in self.layers.items():
            self.layers[name] = LayerActivations(name, stats.kind)

    def __enter__(self) -> ActivationMonitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def report(self) -> ActivationReport:
        """The statistics per layer, and flags for dead-ReLU and saturated layers."""
        rows = list(self.layers.values())
        if not any(row.calls for row in rows):
            raise RuntimeError(
                "ActivationMonitor.report: no forward pass recorded; run the model on a "
                "batch while the monitor is attached"
            )
        findings = []
        dead = [r for r in rows if (r.dead_fraction or 0.0) > self.dead_threshold]
        if dead:
            findings.append(_flag("dead_relu", dead, "dead_fraction", "units never active",
                                  self.dead_threshold, DEAD_FIX))  # fmt: skip
        saturated = [r for r in rows if (r.saturated_fraction or 0.0) > self.saturation_threshold]
        if saturated:
            findings.append(_flag("saturated_activations", saturated, "saturated_fraction",
                                  "outputs saturated", self.saturation_threshold,
                                  SATURATION_FIX))  # fmt: skip
        return ActivationReport(rows, findings)


def _flag(check: str, rows: list, attribute: str, what: str, limit: float, fix: str) -> Finding:
    rows = sorted(rows, key=lambda r: -getattr(r, attribute))
    shown = ", ".join(f"{r.layer} ({getattr(r, attribute):.0%})" for r in rows)
    evidence = {f"{r.layer}": getattr(r, attribute) for r in rows}
    message = f"{what} above {limit:.0%} in {shown}"
    return Finding(check, "warning", message, evidence, fix, [r.layer for r in rows])


def _targets(model: Any, modules: Any) -> list[tuple[str, Any]]:
    named = list(model.named_modules())
    if modules is None:
        leaves = [(n, m) for n, m in named if not m._modules]
        return leaves or [("(model)", model)]
    by_id = {id(m): n for n, m in named}
    by_name = dict(named)
    chosen = []
    for item in modules:
        if isinstance(item, str):
            if item not in by_name:
                raise ValueError(
                    f"ActivationMonitor: no module named {item!r} in {type(model).__name__}; "
                    f"names are {[n for n, _ in named if n]}"
                )
            chosen.append((item, by_name[item]))
        elif id(item) in by_id:
            chosen.append((by_id[id(item)] or "(model)", item))
        else:
            raise ValueError(
                f"ActivationMonitor: {type(item).__name__} is not a submodule of "
                f"{type(model).__name__}; pass modules of the model (or their names)"
            )
    return chosen


def _kind(module: Any) -> str:
    name = type(module).__name__
    return {"ReLU": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh"}.get(name, "other")


def _hook(monitor: ActivationMonitor, name: str) -> Any:
    # looks the record up at call time, so reset() can replace it
    def record(module: Any, inputs: tuple, output: Any) -> None:
        if not monitor.enabled:
            return
        if isinstance(output, Tensor) and output.dtype.kind == "f" and output.numel():
            monitor.layers[name].observe(to_host(output))  # statistics on the host

    return record
