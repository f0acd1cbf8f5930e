"""Gradient flow at a glance: a log-scale text bar chart per layer, and an optional PNG.

The text chart needs nothing but a terminal. The PNG is drawn by gradwork.plots
(matplotlib, the optional `plot` extra); without it `plot_gradient_flow` returns
False. `gradient_series` and `activation_rows` turn the monitors' records into
the plain lists the plots (and the run folder's diagnostics.json) hold.
"""

from __future__ import annotations

import math
from typing import Any

from gradwork.diagnose.findings import format_number
from gradwork.diagnose.gradient_monitor import GradientMonitor


def _layer_norms(source: Any, statistic: str) -> list[tuple[str, float | None]]:
    """(layer, norm) pairs from a GradientMonitor, its report, or a {layer: norm} mapping."""
    if isinstance(source, dict):
        return list(source.items())
    report = source.report() if isinstance(source, GradientMonitor) else source
    if statistic not in ("last", "mean", "max"):
        raise ValueError(
            f"gradient_flow_table: statistic must be 'last', 'mean' or 'max', got {statistic!r}"
        )
    return [(row.layer, getattr(row, statistic)) for row in report.rows]


def gradient_flow_table(source: Any, statistic: str = "mean", width: int = 40) -> str:
    """A text bar chart of gradient norms per layer, on a log scale.

    Each bar's length is proportional to log10 of the norm between the
    smallest and the largest positive norm shown, so six orders of magnitude
    of vanishing are as visible as a factor of ten.

    Args:
        source: a GradientMonitor, its GradientReport, or a {layer: norm} dict.
        statistic: "last", "mean" or "max" over the recorded steps.
        width: the longest bar, in characters.

    Returns:
        The chart, one line per layer (input side first).

    Example:
        >>> print(gradient_flow_table({"0": 1e-6, "2": 1e-3, "4": 1.0}, width=12))
        layer  grad norm (log10, mean)
        0      ▏             1e-06
        2      ██████        0.001
        4      ████████████  1
    """
    pairs = _layer_norms(source, statistic)
    positive = [n for _, n in pairs if n is not None and math.isfinite(n) and n > 0]
    low = math.log10(min(positive)) if positive else 0.0
    high = math.log10(max(positive)) if positive else 1.0
    span = max(high - low, 1e-12)
    name_width = max([len("layer")] + [len(layer) for layer, _ in pairs])
    lines = [f"{'layer'.ljust(name_width)}  grad norm (log10, {statistic})"]
    for layer, value in pairs:
        shown = format_number(value) if value is not None else "no grad"
        lines.append(f"{layer.ljust(name_width)}  {_bar(value, low, span, width)}  {shown}")
    return "\n".join(lines)


def _bar(value: float | None, low: float, span: float, width: int) -> str:
    if value is None or value == 0:
        return " " * width
    if not math.isfinite(value):
        return "!" * width
    # NOTE: the smallest norm still gets a one-eighth tick, so it is visibly present.
    eighths = max(1, round((math.log10(value) - low) / span * width * 8))
    full, rest = divmod(eighths, 8)
    bar = "█" * full + ("▏▎▍▌▋▊▉"[rest - 1] if rest else "")
    return bar.ljust(width)


def gradient_series(monitor: GradientMonitor) -> dict:
    """Per-layer gradient norms at every recorded step, as plain lists (JSON-ready).

    Returns:
        {"steps": [training step, ...], "layers": {layer: [norm or None, ...]}}.

    Example:
        >>> import gradwork as gw
        >>> from gradwork import nn
        >>> model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
        >>> monitor = GradientMonitor(model)
        >>> model(gw.randn(4, 2)).sum().backward()
        >>> _ = monitor.record()
        >>> series = gradient_series(monitor)
        >>> series["steps"], list(series["layers"])
        ([0], ['0', '2'])
    """
    per_step = [monitor.layer_grad_norms(i) for i in range(len(monitor.history))]
    return {
        "steps": [record.step for record in monitor.history],
        "layers": {layer: [norms[layer] for norms in per_step] for layer in monitor.layers},
    }


def activation_rows(report: Any) -> list[dict]:
    """An ActivationReport's watched layers as plain dicts (layer, kind, mean, std,
    dead_fraction, saturated_fraction): what `gradwork.plots.plot_activation_stats` takes."""
    return [
        {
            "layer": row.layer,
            "kind": row.kind,
            "mean": row.mean,
            "std": row.std,
            "dead_fraction": row.dead_fraction,
            "saturated_fraction": row.saturated_fraction,
        }
        for row in report.rows
        if row.calls
    ]


def plot_gradient_flow(source: Any, path: str, statistic: str = "mean") -> bool:
    """Save a PNG of gradient norms per layer (log scale) when matplotlib is installed.

    A GradientMonitor gives one line per layer over its recorded steps; a report or a
    {layer: norm} dict gives one bar per layer (`statistic` over the steps).

    Returns:
        True when the file was written, False when matplotlib is not installed.

    Example:
        >>> import tempfile, os
        >>> from gradwork import plots
        >>> target = os.path.join(tempfile.mkdtemp(), "flow.png")
        >>> written = plot_gradient_flow({"0": 1e-3, "2": 0.5}, target)
        >>> written == plots.available() == os.path.exists(target)  # written iff it can be
        True
    """
    from gradwork import plots

    try:
        if isinstance(source, GradientMonitor) and len(source.history) > 1:
            series = gradient_series(source)
            plots.plot_gradient_flow(series["layers"], series["steps"], path)
        else:
            pairs = [(layer, n) for layer, n in _layer_norms(source, statistic) if n is not None]
            plots.plot_layer_norms(dict(pairs), path, statistic)
    except plots.PlotsUnavailableError:
        return False
    return True
