"""matplotlib, imported lazily on the Agg backend, and one house style for every figure."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

INSTALL_HINT = (
    'install it with: pip install "gradwork[plot]" (from a clone of the repository: '
    'pip install -e ".[plot]")'
)
DPI = 110
# Colour-blind safe (Okabe-Ito): train, validation, test, then the rest.
COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


class PlotsUnavailableError(ImportError):
    """Raised by every plotting function when matplotlib is not installed."""


def available() -> bool:
    """True when matplotlib can be imported (the `plot` extra is installed)."""
    try:
        pyplot()
    except PlotsUnavailableError:
        return False
    return True


def pyplot() -> Any:
    """`matplotlib.pyplot` on the Agg backend; PlotsUnavailableError if absent."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotsUnavailableError(f"matplotlib is not installed; {INSTALL_HINT}") from None
    return plt


def figure(width: float = 7.0, height: float = 4.2, **options: Any) -> tuple[Any, Any]:
    """A new (figure, axes) pair in the house style."""
    plt = pyplot()
    with plt.style.context("default"):
        fig, axes = plt.subplots(figsize=(width, height), **options)
    for ax in getattr(axes, "flat", [axes]):
        style(ax)
    return fig, axes


def style(ax: Any) -> None:
    """Light grid behind the data, no top/right frame."""
    ax.grid(True, color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def save(fig: Any, path: str | os.PathLike, tight: bool = True) -> Path:
    """Write `fig` as a PNG (parent folders made), close it, and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if tight:
        fig.tight_layout()
    # NOTE: tight_layout already fits the text; a tight bounding box would draw twice.
    fig.savefig(path, dpi=DPI, facecolor="white", bbox_inches=None if tight else "tight")
    pyplot().close(fig)
    return path
