"""examples/tutorial_basics.py: PyTorch's beginner tutorials run on gradwork unchanged.

Each tutorial runs on both frameworks at a small size: once as the script does
it (each framework draws its own initial weights, so the results only need
to be close), and once from torch's initial weights, loaded into gradwork's
model, over the same batches, where losses and accuracies must agree.
"""

import contextlib
import importlib.util
import io
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import without_cuda

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "tutorial_basics.py"


def _load(monkeypatch, on_torch=False):
    """The script as a module, importing torch (--torch) or gradwork."""
    name = "tutorial_basics_torch" if on_torch else "tutorial_basics"
    monkeypatch.setattr(sys, "argv", ["tutorial_basics.py"] + (["--torch"] if on_torch else []))
    spec = importlib.util.spec_from_file_location(name, EXAMPLE)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


@pytest.fixture
def ours(monkeypatch):
    script = _load(monkeypatch)
    assert script.torch.__name__ == "gradwork"
    return script


@pytest.fixture
def theirs(monkeypatch):
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny layers; threads only fight over the shared cores
    script = _load(monkeypatch, on_torch=True)
    assert script.torch is torch
    script.device = "cpu"  # the numbers compared are CPU numbers, on any machine
    yield script
    torch.set_num_threads(threads)


def _quiet(call, *args, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        result = call(*args, **kwargs)
    return result, printed.getvalue()


def _loaders(script, arrays, batch_size):
    torch = script.torch
    dataset = script.TensorDataset(torch.tensor(arrays[0]), torch.tensor(arrays[1]))
    return script.DataLoader(dataset, batch_size=batch_size)


def _same_start(script, model, torch_model):
    model.load_state_dict(torch_model.state_dict())  # torch's own state_dict, unchanged
    return model


# ------------------------------------------------------------------ Quickstart
def test_quickstart_runs_and_lands_where_torchs_does(ours, theirs, tmp_path):
    (loss, accuracy), printed = _quiet(ours.quickstart, 256, 128, epochs=1, folder=tmp_path)
    (torch_loss, torch_accuracy), _ = _quiet(theirs.quickstart, 256, 128, epochs=1,
                                             folder=tmp_path)  # fmt: skip
    assert "Shape of X [N, C, H, W]: (64, 1, 28, 28)" in printed and "Predicted:" in printed
    assert "Linear(in_features=784, out_features=512, bias=True)" in printed
    # Other random initial weights: SGD at lr=1e-3 barely moves from ln(10) in one epoch.
    assert math.isfinite(loss) and abs(loss - torch_loss) < 0.05
    assert abs(accuracy - torch_accuracy) < 0.25


def test_quickstart_from_torchs_weights_matches_torch(ours, theirs):
    train, test = ours.fashion_like_data(512, 256)
    torch_model = theirs.NeuralNetwork()
    gradwork_model = _same_start(ours, ours.NeuralNetwork(), torch_model)
    results = []
    for script, model in ((theirs, torch_model), (ours, gradwork_model)):
        loss_fn = script.nn.CrossEntropyLoss()
        optimizer = script.torch.optim.SGD(model.parameters(), lr=1e-3)
        _quiet(script.train, _loaders(script, train, 64), model, loss_fn, optimizer)
        results.append(_quiet(script.test, _loaders(script, test, 64), model, loss_fn)[0])
    (torch_loss, torch_accuracy), (loss, accuracy) = results
    assert loss == pytest.approx(torch_loss, rel=1e-5)
    assert accuracy == torch_accuracy


# ----------------------------------------------------- Training a classifier
def test_classifier_runs_and_lands_where_torchs_does(ours, theirs, tmp_path):
    options = {"epochs": 1, "every": 8, "num_workers": 0, "folder": tmp_path}
    (loss, accuracy, per_class), printed = _quiet(ours.classifier, 64, 40, **options)
    (torch_loss, torch_accuracy, _), _ = _quiet(theirs.classifier, 64, 40, **options)
    assert "GroundTruth: " in printed and "Accuracy for class: plane" in printed
    assert math.isfinite(loss) and abs(loss - torch_loss) < 0.1
    assert 0 <= accuracy <= 100 and abs(accuracy - torch_accuracy) <= 30
    assert set(per_class) == set(ours.CIFAR_CLASSES)


def test_classifier_from_torchs_weights_matches_torch(ours, theirs):
    train, test = ours.cifar_like_data(96, 48)
    torch_net = theirs.Net()
    gradwork_net = _same_start(ours, ours.Net(), torch_net)
    results = []
    for script, model in ((theirs, torch_net), (ours, gradwork_net)):
        loss = _quiet(script.train_classifier, model, _loaders(script, train, 4), 1, 8)[0]
        accuracy, per_class = _quiet(script.evaluate_classifier, model,
                                     _loaders(script, test, 4))[0]  # fmt: skip
        results.append((loss, accuracy, per_class))
    (torch_loss, torch_accuracy, torch_per_class), (loss, accuracy, per_class) = results
    assert loss == pytest.approx(torch_loss, rel=1e-4)
    assert accuracy == torch_accuracy and per_class == torch_per_class


# ----------------------------------------- Defining new autograd Functions
def test_custom_function_fit_matches_torch(ours, theirs):
    """No random numbers here: the same 200 steps give the same fit."""
    (loss, coefficients), printed = _quiet(ours.fit_custom_function, 200)
    (torch_loss, torch_coefficients), _ = _quiet(theirs.fit_custom_function, 200)
    assert printed.startswith("99 ") and "Result: y = " in printed
    assert loss == pytest.approx(torch_loss, rel=1e-5)
    np.testing.assert_allclose(coefficients, torch_coefficients, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("fit", ["fit_nn", "fit_optim"])
def test_polynomial_module_fits_match_torch(fit, ours, theirs):
    torch_model = theirs.polynomial_model()
    model = _same_start(ours, ours.polynomial_model(), torch_model)
    (loss, coefficients), _ = _quiet(getattr(ours, fit), 200, model)
    (torch_loss, torch_coefficients), _ = _quiet(getattr(theirs, fit), 200, torch_model)
    assert loss == pytest.approx(torch_loss, rel=1e-4)
    np.testing.assert_allclose(coefficients, torch_coefficients, rtol=1e-4, atol=1e-6)


def test_the_polynomial_fits_run_without_torch(ours):
    """Where torch is missing the tests above skip; this one still runs gradwork's side."""
    (loss, _), _ = _quiet(ours.fit_custom_function, 100)
    (nn_loss, _), _ = _quiet(ours.fit_nn, 100)
    (optim_loss, _), _ = _quiet(ours.fit_optim, 100)
    assert loss < 250 and math.isfinite(nn_loss) and math.isfinite(optim_loss)


@without_cuda
def test_a_module_moves_to_a_device_object(ours):
    """The blitz's `net.to(torch.device("cuda:0" if ... else "cpu"))` spelling."""
    net = ours.Net()
    assert net.to(ours.torch.device("cpu")) is net
    # as a CPU-only torch: AssertionError "... not compiled with CUDA enabled"
    with pytest.raises(AssertionError, match="CUDA"):
        net.to(ours.torch.device("cuda:0"))
