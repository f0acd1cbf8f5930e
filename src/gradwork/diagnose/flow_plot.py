"""Gradient flow at a glance: a log-scale text bar chart per layer, and an optional PNG.

The text chart needs nothing but a terminal. The PNG uses matplotlib when it
is installed; it is imported only inside `plot_gradient_flow`, so it is never
a dependency of gradwork.
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


def plot_gradient_flow(source: Any, path: str, statistic: str = "mean") -> bool:
    """Save a PNG bar chart of gradient norms per layer (log scale) when matplotlib is installed.

    Returns:
        True when the file was written, False when matplotlib is not installed.

    Example:
        >>> import importlib.util, tempfile, os
        >>> target = os.path.join(tempfile.mkdtemp(), "flow.png")
        >>> written = plot_gradient_flow({"0": 1e-3, "2": 0.5}, target)
        >>> has_matplotlib = importlib.util.find_spec("matplotlib") is not None
        >>> written == has_matplotlib == os.path.exists(target)  # written iff it can be
        True
    """
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    pairs = [(layer, n) for layer, n in _layer_norms(source, statistic) if n is not None]
    figure, axes = plt.subplots(figsize=(max(4.0, 0.5 * len(pairs) + 2), 3.5))
    axes.bar([layer for layer, _ in pairs], [n for _, n in pairs], color="#3b75af")
    axes.set_yscale("log")
    axes.set_xlabel("layer")
    axes.set_ylabel(f"gradient norm ({statistic})")
    axes.set_title("Gradient flow")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True
