import subprocess
import sys
from pathlib import Path

SOURCE = str(Path(__file__).resolve().parents[2] / "src")

WITHOUT_SCIPY = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "scipy" or name.startswith("scipy."):
            raise ImportError("No module named 'scipy' (blocked by the test)")
sys.meta_path.insert(0, Block())
import gradwork.tune as tune
study = tune.minimize(lambda p: (p["x"] - 1) ** 2, {"x": tune.Float(0, 2)}, algorithm="tpe",
                      n_trials=20)
print("best", round(study.best_value, 3) < 0.05)
try:
    tune.minimize(lambda p: p["x"], {"x": tune.Float(0, 1)}, algorithm="bayes", n_trials=2)
except ImportError as error:
    print("error", error)
"""


def test_tune_imports_and_runs_without_scipy():
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_SCIPY],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": SOURCE},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "best True" in result.stdout
    assert "pip install scipy" in result.stdout  # a clone install has no gradwork[tune]
    assert "'bayes'" in result.stdout
