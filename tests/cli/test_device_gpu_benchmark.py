"""benchmarks/gpu.py without a GPU: a clear refusal, and its --standin smoke mode runs.

The smoke mode puts gradwork on the CPU stand-in for CuPy and torch on the CPU,
one tiny step per workload: it proves the script (same weights, same batches,
the table) works before a GPU is lent, not any speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("GRADWORK_CUDA_STANDIN", None)  # the script decides (--standin)
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_without_a_gpu_it_exits_2_and_says_why_and_what_to_do():
    result = _run("--only", "mlp")
    if result.returncode == 0:  # a real GPU machine: it measured instead
        assert "mlp" in result.stdout
        return
    assert result.returncode == 2, result.stderr
    assert "no CUDA device" in result.stderr and "--standin" in result.stderr
    assert 'pip install "gradwork[cuda12]"' in result.stderr or "torch sees" in result.stderr


def test_standin_smoke_mode_runs_one_tiny_step_with_the_same_start(tmp_path):
    out = tmp_path / "gpu.json"
    result = _run(
        "--standin", "--only", "mlp,resnet_rgb32", "--batch", "2", "--steps", "1",
        "--warmup", "0", "--repeats", "1", "--batches", "1", "--json", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "CPU stand-in" in result.stdout and "resnet_rgb32" in result.stdout
    results = json.loads(out.read_text())["results"]
    assert [r["name"] for r in results] == ["mlp", "resnet_rgb32"]
    for r in results:  # same weights, same batch: the same first loss in both frameworks
        assert abs(r["gradwork"]["first_loss"] - r["torch"]["first_loss"]) < 1e-4, r
        assert r["gradwork"]["step_ms"] > 0 and r["torch"]["step_ms"] > 0
