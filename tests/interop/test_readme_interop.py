"""The README's interoperability snippet runs as written (in a temporary folder)."""

import re
from pathlib import Path

import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

README = Path(__file__).resolve().parents[2] / "README.md"


def test_interop_snippet_runs(tmp_path, monkeypatch):
    section = README.read_text().split("## Interoperability", 1)[1].split("\n## ", 1)[0]
    (snippet,) = re.findall(r"```python\n(.+?)\n```", section, re.S)
    monkeypatch.chdir(tmp_path)
    exec(compile(snippet, str(README), "exec"), {"__name__": "readme"})
    assert (tmp_path / "model.onnx").stat().st_size > 0
    assert (tmp_path / "model.safetensors").stat().st_size > 0


def test_interop_config_snippet_is_a_valid_config():
    from gradwork.train.config import resolve, tomllib

    section = README.read_text().split("## Interoperability", 1)[1].split("\n## ", 1)[0]
    (toml,) = re.findall(r"```toml\n(.+?)\n```", section, re.S)
    resolved = resolve(tomllib.loads(toml))
    assert resolved["callbacks"]["tensorboard"]["enabled"] is True
    assert resolved["callbacks"]["tensorboard"]["update_freq"] == 10
