"""gradwork.plots: every picture gradwork draws, on matplotlib (the optional `plot` extra).

Each function takes plain NumPy data (or a predict function), writes one PNG with
a title, labelled axes with units and a legend, and returns its path. matplotlib is
imported on first use with the Agg backend, so plots work without a display. Without
it, every function raises `PlotsUnavailableError` (an ImportError) whose message says how
to install it; `available()` asks first::

    from gradwork import plots

    if plots.available():
        plots.plot_learning_curves({"loss": [1.0, 0.4], "val_loss": [1.1, 0.6]}, "curves.png")

This package imports only NumPy (and matplotlib, lazily): every layer may use it.
"""

from gradwork.plots._mpl import INSTALL_HINT, PlotsUnavailableError, available
from gradwork.plots.images import (
    is_image_batch,
    plot_attention,
    plot_confusion_matrix,
    plot_decision_boundary,
    plot_filters,
    plot_misclassified,
    plot_reconstructions,
    precision_recall,
)
from gradwork.plots.search import (
    best_so_far,
    pareto_mask,
    plot_contour,
    plot_importance,
    plot_parallel_coordinates,
    plot_pareto_front,
    plot_search_history,
)
from gradwork.plots.training import (
    plot_activation_stats,
    plot_gradient_flow,
    plot_layer_norms,
    plot_learning_curves,
    plot_lr_find,
)

__all__ = [
    "INSTALL_HINT",
    "PlotsUnavailableError",
    "available",
    "best_so_far",
    "is_image_batch",
    "pareto_mask",
    "plot_activation_stats",
    "plot_attention",
    "plot_confusion_matrix",
    "plot_contour",
    "plot_decision_boundary",
    "plot_filters",
    "plot_gradient_flow",
    "plot_importance",
    "plot_layer_norms",
    "plot_learning_curves",
    "plot_lr_find",
    "plot_misclassified",
    "plot_parallel_coordinates",
    "plot_pareto_front",
    "plot_reconstructions",
    "plot_search_history",
    "precision_recall",
]
