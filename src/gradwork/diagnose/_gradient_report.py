"""The gradient report: per-layer statistics over time, and the VANISHING/EXPLODING flags."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from gradwork.diagnose.findings import Finding, FindingsReport, format_number

VANISHING_FIX = (
    "initialise with He (gw.nn.init.kaiming_normal_) for ReLU layers or Glorot "
    "(xavier_uniform_) for tanh/sigmoid, not with tiny weights; use ReLU-family "
    "activations in hidden layers instead of sigmoid/tanh; add normalisation "
    "(BatchNorm/LayerNorm) and residual connections; for recurrent nets use LSTM/GRU "
    "instead of a vanilla RNN"
)
EXPLODING_FIX = (
    "clip gradients with gw.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0) "
    "before optimizer.step(); lower the learning rate; initialise with He/Glorot "
    "instead of large weights; add normalisation (BatchNorm/LayerNorm); for recurrent "
    "nets use LSTM/GRU with clipping"
)


@dataclass
class LayerGradients:
    """One layer's series over the recorded steps (None where it had no gradient)."""

    layer: str
    grad_norms: list[float | None]
    weight_norms: list[float]
    update_ratios: list[float | None]

    def _present(self) -> list[float]:
        return [n for n in self.grad_norms if n is not None]

    @property
    def last(self) -> float | None:
        """The gradient norm at the last recorded step."""
        return self.grad_norms[-1]

    @property
    def mean(self) -> float | None:
        """The mean gradient norm over the steps where the layer had a gradient."""
        present = self._present()
        return sum(present) / len(present) if present else None

    @property
    def max(self) -> float | None:
        """The largest gradient norm (NaN if any step had a NaN gradient)."""
        present = self._present()
        if any(math.isnan(n) for n in present):
            return math.nan
        return max(present) if present else None

    @property
    def finite(self) -> bool:
        return all(math.isfinite(n) for n in self._present())

    @property
    def update_ratio(self) -> float | None:
        """The mean update/weight ratio over the steps where one was measured or estimated."""
        ratios = [r for r in self.update_ratios if r is not None]
        return sum(ratios) / len(ratios) if ratios else None


@dataclass
class GradientReport(FindingsReport):
    """Per-layer gradient statistics and the flags raised on them.

    `rows` are in the order the layers' parameters are registered (input side
    first for a Sequential); `findings` holds the flags (empty when healthy).
    """

    rows: list[LayerGradients]
    total_norms: list[float]
    findings: list[Finding] = field(default_factory=list)

    def __str__(self) -> str:
        marks = {layer: "VANISHING" for layer in self.flagged("vanishing_gradients")}
        marks.update({layer: "EXPLODING" for layer in self.flagged("exploding_gradients")})
        header = ["layer", "grad norm", "mean", "max", "weight norm", "update/weight", "flag"]
        table = [header] + [
            [
                row.layer,
                format_number(row.last),
                format_number(row.mean),
                format_number(row.max),
                format_number(row.weight_norms[-1]),
                format_number(row.update_ratio),
                marks.get(row.layer, ""),
            ]
            for row in self.rows
        ]
        widths = [max(len(line[i]) for line in table) for i in range(len(header))]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=False))
            for line in table
        ]
        steps = f"{len(self.total_norms)} recorded step(s)"
        verdict = [str(f) for f in self.findings] or ["✓ gradient norms look healthy"]
        return "\n".join([f"Gradient flow over {steps}", *lines, *verdict])


def build_report(rows: list[LayerGradients], totals: list[float], limits: dict) -> GradientReport:
    """Tabulate and flag: exploding first (it makes the ratios meaningless), then vanishing."""
    report = GradientReport(rows, totals)
    exploding = _exploding(rows, totals, limits)
    if exploding is not None:
        report.findings.append(exploding)
    vanishing = _vanishing(rows, limits)
    if vanishing is not None:
        report.findings.append(vanishing)
    missing = [row.layer for row in rows if row.mean is None]
    if missing:
        report.findings.append(
            Finding(
                "missing_gradients",
                "warning",
                f"no gradient at any recorded step for {', '.join(missing)}",
                {"layers_without_gradient": len(missing)},
                fix="these layers are unused in forward or cut off by .detach()/no_grad; "
                "use them, or freeze them with requires_grad_(False)",
                layers=missing,
            )
        )
    return report


def _exploding(rows: list[LayerGradients], totals: list[float], limits: dict) -> Finding | None:
    threshold = limits["exploding_norm"]
    large = [row for row in rows if not row.finite or (row.max or 0.0) > threshold]
    large.sort(key=lambda row: -(row.max if row.finite else math.inf))
    growth = _geometric_growth(totals, limits["growth_factor"])
    if not large and growth is None:
        return None
    evidence = {"threshold": threshold, "largest_norm": max((r.max or 0.0) for r in rows)}
    if large:
        shown = ", ".join(f"{r.layer} (max {format_number(r.max)})" for r in large[:4])
        message = f"gradient norm above {threshold:g} or not finite in {shown}"
        layers = [row.layer for row in large]
    else:
        message, layers = "", []
    if growth is not None:
        evidence["growth_factor"] = growth
        grown = f"total gradient norm grew {growth:.3g}x over {len(totals)} recorded steps"
        message = f"{message}; {grown}" if message else grown
        layers = layers or _grown_layers(rows, limits["growth_factor"])
    return Finding("exploding_gradients", "error", message, evidence, EXPLODING_FIX, layers)


def _geometric_growth(totals: list[float], factor: float) -> float | None:
    """The growth factor of the total norm when it rose steadily by at least `factor`."""
    if len(totals) < 4 or not all(math.isfinite(t) for t in totals) or totals[0] <= 0:
        return None
    rises = sum(later > earlier for earlier, later in zip(totals, totals[1:], strict=False))
    growth = totals[-1] / totals[0]
    # NOTE: "steadily" = at least 3 of 4 steps rise, so one noisy step does not hide it.
    if growth >= factor and rises >= 0.75 * (len(totals) - 1):
        return growth
    return None


def _grown_layers(rows: list[LayerGradients], factor: float) -> list[str]:
    grown = []
    for row in rows:
        present = [n for n in row.grad_norms if n is not None]
        if len(present) >= 2 and present[0] > 0 and present[-1] / present[0] >= factor:
            grown.append(row.layer)
    return grown or [row.layer for row in rows]


def _vanishing(rows: list[LayerGradients], limits: dict) -> Finding | None:
    measured = [row for row in rows if row.mean is not None and row.finite]
    if not measured:
        return None
    reference = measured[-1]
    small = []
    for row in measured:
        ratio = row.mean / reference.mean if reference.mean > 0 else 0.0
        below_ratio = row is not reference and ratio < limits["vanishing_ratio"]
        if below_ratio or row.mean < limits["vanishing_norm"]:
            small.append((ratio, row))
    if not small:
        return None
    small.sort(key=lambda pair: pair[0])
    shown = ", ".join(
        f"{row.layer} ({format_number(row.mean)}, {format_number(ratio)}x)"
        for ratio, row in small[:4]
    )
    message = (
        f"mean gradient norm in {shown} is below {limits['vanishing_ratio']:g}x the last "
        f"layer's ({reference.layer}: {format_number(reference.mean)}) or below "
        f"{limits['vanishing_norm']:g}"
    )
    evidence = {
        "smallest_ratio_to_last": small[0][0],
        "smallest_norm": min(row.mean for _, row in small),
        "last_layer_norm": reference.mean,
    }
    layers = [row.layer for _, row in small]
    return Finding("vanishing_gradients", "warning", message, evidence, VANISHING_FIX, layers)
