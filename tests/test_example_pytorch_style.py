"""examples/pytorch_style.py: a torch-style script runs on gradwork, only its imports changed."""

import importlib.util
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "pytorch_style.py"


def test_the_torch_style_script_trains_and_round_trips_its_checkpoint(capsys):
    spec = importlib.util.spec_from_file_location("pytorch_style", EXAMPLE)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.torch.__name__ == "gradwork"  # the gradwork imports, not torch's
    accuracy = script.main(epochs=2)  # the script itself checks the checkpoint round trip
    assert accuracy > 0.85
    assert "epoch 2: test loss" in capsys.readouterr().out
