"""Every gradwork.plots function on synthetic data: a PNG with a title, labelled axes and a
legend, and the scales the issue asks for (log where values span decades, pruned trials
not stretching the history's axis)."""

from __future__ import annotations

import struct

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from gradwork import plots  # noqa: E402
from gradwork.plots import _mpl, images, search, training  # noqa: E402

RNG = np.random.default_rng(0)
ATTENTION = RNG.random((2, 5, 5))
TRIALS = [
    {"number": 0, "state": "COMPLETE", "value": 0.80},
    {"number": 1, "state": "PRUNED", "value": None, "reported": 0.05},  # far below
    {"number": 2, "state": "COMPLETE", "value": 0.90},
    {"number": 3, "state": "FAILED", "value": None},
    {"number": 4, "state": "PRUNED", "value": None, "reported": 0.85},  # inside
    {"number": 5, "state": "COMPLETE", "value": 0.85},
]

# name -> (function, arguments before the path, keyword arguments)
CASES = {
    "learning_curves": (plots.plot_learning_curves, [{
        "loss": [2.0, 0.5, 0.05, 0.01], "val_loss": [2.1, 0.7, 0.2, 0.15],
        "accuracy": [0.5, 0.8, 0.95, 0.99], "val_accuracy": [0.5, 0.75, 0.9, 0.92],
        "lr": [0.1, 0.1, 0.01, 0.01]}], {"best_epoch": 3}),
    "gradient_flow": (plots.plot_gradient_flow,
                      [{"0": [1e-6, 2e-6], "2": [0.1, 0.2]}, [0, 10]], {}),
    "layer_norms": (plots.plot_layer_norms, [{"0": 1e-6, "2": 0.1}], {}),
    "activations": (plots.plot_activation_stats, [[
        {"layer": "1", "kind": "relu", "mean": 0.2, "std": 0.4, "dead_fraction": 0.7,
         "saturated_fraction": None},
        {"layer": "3", "kind": "tanh", "mean": 0.0, "std": 0.9, "dead_fraction": None,
         "saturated_fraction": 0.2}]], {}),
    "lr_find": (plots.plot_lr_find, [np.logspace(-5, 0, 30), np.linspace(2, 0.5, 30), 1e-3], {}),
    "confusion_matrix": (plots.plot_confusion_matrix, [np.array([[8, 2], [1, 9]])], {}),
    "misclassified": (plots.plot_misclassified, [RNG.random((5, 1, 8, 8)), [0, 1, 2, 3, 4],
                                                 [1, 2, 3, 4, 5]], {}),
    "filters": (plots.plot_filters, [RNG.normal(size=(8, 1, 3, 3))], {}),
    "decision_boundary": (plots.plot_decision_boundary, [
        RNG.normal(size=(60, 2)), (RNG.normal(size=60) > 0).astype(int),
        lambda grid: np.stack([grid[:, 0], -grid[:, 0]], axis=1)], {}),
    "reconstructions": (plots.plot_reconstructions, [
        {"input": RNG.random((4, 8, 8)), "rebuilt": RNG.random((4, 8, 8))}], {}),
    "attention": (plots.plot_attention, [ATTENTION / ATTENTION.sum(-1, keepdims=True)],
                  {"queries": list("abcde"), "keys": list("abcde")}),
    "history": (plots.plot_search_history, [TRIALS], {"metric": "val_accuracy",
                                                      "direction": "maximize"}),
    "importance": (plots.plot_importance, [{"lr": 0.7, "batch": 0.3}],
                   {"spread": {"lr": (0.5, 0.9), "batch": (0.1, 0.4)}}),
    "parallel_coordinates": (plots.plot_parallel_coordinates, [
        [{"lr": 0.1, "opt": "sgd"}, {"lr": 0.001, "opt": "adam"}, {"lr": 0.01}], [0.5, 0.2, 0.3]],
        {"log": ["lr"], "categories": {"opt": ["adam", "sgd", "rmsprop"]}}),
    "contour": (plots.plot_contour, [RNG.random(12), RNG.random(12), RNG.random(12)],
                {"names": ("a", "b")}),
    "pareto_front": (plots.plot_pareto_front, [RNG.random((20, 2))], {}),
}  # fmt: skip


@pytest.fixture
def figures(monkeypatch):
    """The figures the plot functions save, kept open for inspection."""
    kept = []

    def save(fig, path, tight=True):
        kept.append(fig)
        fig.savefig(path, dpi=40)
        return path

    for module in (training, images, search):
        monkeypatch.setattr(module, "save", save)
    yield kept
    for fig in kept:
        _mpl.pyplot().close(fig)


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("name", CASES)
def test_every_plot_writes_a_png(name, tmp_path):
    function, arguments, options = CASES[name]
    path = function(*arguments, tmp_path / "sub" / f"{name}.png", **options)
    width, height = png_size(path)
    assert width >= 300 and height >= 150, (width, height)


def test_every_plot_is_in_the_table():
    public = {n for n in plots.__all__ if n.startswith("plot_")}
    assert public == {function.__name__ for function, _, _ in CASES.values()}


@pytest.mark.parametrize("name", CASES)
def test_every_plot_has_a_title_labels_and_a_legend_or_colour_scale(name, tmp_path, figures):
    function, arguments, options = CASES[name]
    function(*arguments, tmp_path / f"{name}.png", **options)
    fig = figures[-1]
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.has_data()]
    title = fig._suptitle.get_text() if fig._suptitle else ""
    assert title or any(ax.get_title() for ax in axes), name
    pictures = ("misclassified", "filters", "reconstructions")
    if name not in pictures:  # image grids label rows or captions instead of axes
        assert any(ax.get_xlabel() and ax.get_ylabel() for ax in axes), name
    colour_scale = any(hasattr(ax, "_colorbar") for ax in fig.axes)  # a labelled colorbar
    legend = any(ax.get_legend() is not None for ax in fig.axes)
    assert legend or colour_scale or name in pictures, name


def test_learning_curves_use_a_log_axis_when_the_loss_spans_decades(tmp_path, figures):
    function, arguments, options = CASES["learning_curves"]
    function(*arguments, tmp_path / "curves.png", **options)
    loss_axes = figures[-1].axes[0]
    assert loss_axes.get_yscale() == "log"
    assert any(ax.get_ylabel() == "learning rate" for ax in figures[-1].axes)  # second axis
    plots.plot_learning_curves({"loss": [1.0, 0.8], "val_loss": [1.1, 0.9]}, tmp_path / "b.png")
    assert figures[-1].axes[0].get_yscale() == "linear"


def test_pruned_trials_do_not_stretch_the_history_axis(tmp_path, figures):
    plots.plot_search_history(TRIALS, tmp_path / "h.png", "val_accuracy", "maximize")
    low, high = figures[-1].axes[0].get_ylim()
    assert 0.7 < low < 0.8 and 0.9 < high < 1.0  # the pruned 0.05 is drawn at the edge


def test_parallel_coordinates_keep_unseen_choices(tmp_path, figures):
    function, arguments, options = CASES["parallel_coordinates"]
    function(*arguments, tmp_path / "p.png", **options)
    texts = {t.get_text() for t in figures[-1].axes[0].texts}
    assert {"adam", "sgd", "rmsprop"} <= texts


def test_helpers():
    assert plots.best_so_far([3, 1, 2]) == [3, 1, 1]
    mask = plots.pareto_mask(np.array([[1, 3], [2, 2], [3, 4]]), ["minimize", "maximize"])
    assert mask.tolist() == [True, False, True]
    precision, recall = plots.precision_recall(np.array([[3, 1], [0, 4]]))
    assert precision.tolist() == [1.0, 0.8] and recall.tolist() == [0.75, 1.0]
    assert plots.is_image_batch((1, 28, 28)) and not plots.is_image_batch((28,))
    assert training.log_scale_fits([100, 1]) and not training.log_scale_fits([2, 1])
