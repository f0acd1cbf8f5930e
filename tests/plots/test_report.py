"""report.html as a person sees it: every section and picture present, nothing broken.

A short run (moons with the monitors, a digits CNN) and a tiny study go through the
command line; the page is parsed, and every image must be an embedded PNG, every link
an anchor on the page, and nothing may point at another file or the network.
"""

from __future__ import annotations

import base64
import struct
from html.parser import HTMLParser
from pathlib import Path

import pytest

from gradwork.cli import main

MOONS = """
name = "moons"
seed = 0
[data]
name = "moons"
n_samples = 300
batch_size = 32
[model]
arch = "mlp"
hidden = [16, 16]
activation = "ReLU"
[optimizer]
name = "Adam"
lr = 0.02
[scheduler]
name = "StepLR"
step_size = 2
gamma = 0.5
[train]
epochs = 4
progress = false
metrics = ["accuracy"]
[callbacks.monitor]
gradients = true
activations = true
every = 2
"""
DIGITS = """
name = "digits"
seed = 0
[data]
name = "digits"
batch_size = 64
[model]
arch = "cnn"
channels = [8, 8]
hidden = [32]
[train]
epochs = 1
progress = false
"""
STUDY = """
name = "tiny"
seed = 2
[data]
name = "moons"
n_samples = 200
split = [0.6, 0.2, 0.2]
batch_size = 32
[model]
arch = "mlp"
hidden = [8]
[train]
epochs = 3
progress = false
metrics = ["accuracy"]
[tune]
algorithm = "random"
n_trials = 4
metric = "val_accuracy"
pruner = "none"
[tune.space]
"optimizer.lr" = {type = "float", low = 1e-3, high = 0.3, log = true}
"model.dropout" = {type = "float", low = 0.0, high = 0.3}
"""
RUN_SECTIONS = {"summary", "config", "data", "model", "curves", "findings", "test", "plots"}
STUDY_SECTIONS = {"result", "search", "trials", "final", "config"}


class Page(HTMLParser):
    """The ids, images, links and tags of an HTML document."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.ids, self.images, self.links, self.tags = set(), {}, [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "img":
            self.images[attrs.get("alt")] = attrs.get("src", "")
        for key in ("href", "src"):
            if key in attrs and tag != "img":
                self.links.append(attrs[key])


def check_page(path: Path, sections: set, pictures: set) -> Page:
    text = path.read_text("utf-8")
    page = Page(text)
    assert sections <= page.ids, sections - page.ids
    assert pictures <= set(page.images), pictures - set(page.images)
    for name, source in page.images.items():
        assert source.startswith("data:image/png;base64,"), name  # embedded, not a file
        data = base64.b64decode(source.split(",", 1)[1], validate=True)
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        width, height = struct.unpack(">II", data[16:24])
        assert width > 300 and height > 150, (name, width, height)
    for link in page.links:  # only anchors on this page
        assert link.startswith("#") and link[1:] in page.ids, link
    assert not {"script", "link", "iframe"} & set(page.tags)  # no code, nothing fetched
    assert "http://" not in text and "https://" not in text
    return page


def only_run(parent: Path) -> Path:
    runs = list(parent.iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def train(tmp_path: Path, text: str, capsys) -> tuple[Path, str]:
    config = tmp_path / "run.toml"
    config.write_text(text)
    assert main(["train", str(config), "--output", str(tmp_path / "runs")]) == 0
    return only_run(tmp_path / "runs"), capsys.readouterr().out


def test_a_moons_run_writes_a_complete_report(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run, out = train(tmp_path, MOONS, capsys)
    assert f"report: {run / 'report.html'}" in out
    pictures = {"learning_curves", "gradient_flow", "activations", "confusion_matrix",
                "decision_boundary"}  # fmt: skip
    check_page(run / "report.html", RUN_SECTIONS, pictures)
    assert {f"{name}.png" for name in pictures} <= {p.name for p in (run / "plots").iterdir()}
    text = (run / "report.html").read_text()
    assert "bootstrap CI" in text and "gradient monitor" in text and "doctor" in text
    assert "Total parameters" in text  # the model summary
    # `gradwork report RUN_DIR --html` writes it again, the same way.
    (run / "report.html").unlink()
    assert main(["report", str(run), "--html"]) == 0
    check_page(run / "report.html", RUN_SECTIONS, pictures)


def test_a_cnn_run_shows_its_filters_and_mistakes(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run, _ = train(tmp_path, DIGITS, capsys)
    check_page(run / "report.html", RUN_SECTIONS,
               {"learning_curves", "confusion_matrix", "filters", "misclassified"})  # fmt: skip


def test_a_study_writes_its_report_and_the_final_runs(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    config = tmp_path / "tune.toml"
    config.write_text(STUDY)
    assert main(["tune", str(config), "--output", str(tmp_path / "runs")]) == 0
    study = only_run(tmp_path / "runs")
    out = capsys.readouterr().out
    assert f"report: {study / 'report.html'}" in out
    pictures = {"history", "parallel_coordinates", "contour", "final learning curves"}
    page = check_page(study / "report.html", STUDY_SECTIONS, pictures)
    assert page.images
    assert "bootstrap CI" in (study / "report.html").read_text()
    check_page(study / "final" / "report.html", RUN_SECTIONS, {"learning_curves"})
    assert main(["report", str(study), "--html"]) == 0


def test_without_matplotlib_the_run_says_how_to_install_and_carries_on(tmp_path, capsys,
                                                                      monkeypatch):  # fmt: skip
    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)  # as if not installed
    run, out = train(tmp_path, MOONS, capsys)
    assert 'pip install "gradwork[plot]"' in out and 'pip install -e ".[plot]"' in out
    page = check_page(run / "report.html", RUN_SECTIONS, set())
    assert not page.images and not (run / "plots").exists()
    assert "matplotlib is not installed" in (run / "report.html").read_text()
