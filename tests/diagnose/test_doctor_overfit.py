"""The overfit-one-batch check tells a slow learning rate from a broken model (issue 17).

It used to give every optimizer 30 steps and ask for a 10x lower loss, so a healthy
MLP with Adam at torch's default lr=1e-3, or SGD at 0.1, was reported as "has a bug".
"""

import numpy as np
import pytest

import gradwork as gw
from gradwork import data, nn, optim
from gradwork.diagnose import doctor
from tests.helpers import to_numpy


def digits_batch(n=32):
    images, labels = data.load_digits().tensors[:2]
    return gw.tensor(images.array[:n].reshape(n, -1)), gw.tensor(labels.array[:n])


def digits_mlp():
    gw.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


@pytest.mark.parametrize(
    "make",
    [
        lambda p: optim.Adam(p, lr=1e-3),  # torch's default
        lambda p: optim.SGD(p, lr=0.1),
        lambda p: optim.SGD(p, lr=0.01, momentum=0.9),
        lambda p: optim.AdamW(p),
    ],
    ids=["adam-1e-3", "sgd-0.1", "sgd-momentum", "adamw-default"],
)
def test_a_healthy_mlp_passes_with_common_settings(make):
    model = digits_mlp()
    report = doctor(
        model, nn.CrossEntropyLoss(), digits_batch(), optimizer=make(model.parameters())
    )
    finding = report.finding("overfit_one_batch")
    assert finding.passed and report.ok, str(report)
    assert "bug" not in str(report)
    assert finding.evidence["reduction"] >= 2 and len(report.losses) <= 100


def test_a_too_low_learning_rate_is_a_learning_rate_warning_not_a_bug():
    model = digits_mlp()
    report = doctor(model, nn.CrossEntropyLoss(), digits_batch(), optimizer=optim.SGD(
        model.parameters(), lr=1e-4))  # fmt: skip
    finding = report.finding("overfit_one_batch")
    assert finding.severity == "warning" and "learning rate is too low" in finding.fix
    assert "bug" not in finding.fix
    reference = finding.evidence["reference_losses"]
    assert reference[0] / min(reference) >= 10  # Adam on a fresh copy memorises the batch


class _Shuffled(nn.Module):
    """A loss that pairs outputs with the wrong targets: a different permutation each call."""

    def __init__(self):
        super().__init__()
        self.rng = np.random.default_rng(0)
        self.loss = nn.CrossEntropyLoss()

    def forward(self, output, target):
        return self.loss(output, gw.tensor(self.rng.permutation(to_numpy(target))))


@pytest.mark.parametrize("optimizer", [None, "adam"])
def test_a_broken_setup_still_cannot_overfit(optimizer):
    model = digits_mlp()
    x, y = digits_batch()
    y = gw.tensor(np.arange(32) % 10)  # distinct targets, so a shuffle always mismatches
    chosen = optim.Adam(model.parameters(), lr=1e-3) if optimizer else None
    report = doctor(model, _Shuffled(), (x, y), optimizer=chosen, steps=100)
    finding = report.finding("overfit_one_batch")
    assert finding.severity == "warning" and "cannot overfit one batch" in finding.message
    assert "bug" in finding.fix and not report.ok
    if optimizer:
        assert "neither can Adam" in finding.message


def test_the_users_model_and_optimizer_are_left_untouched():
    model = digits_mlp()
    before = {k: to_numpy(v).copy() for k, v in model.state_dict().items()}
    sgd = optim.SGD(model.parameters(), lr=1e-4)
    doctor(model, nn.CrossEntropyLoss(), digits_batch(), optimizer=sgd)
    after = model.state_dict()
    assert all(np.array_equal(before[k], to_numpy(after[k])) for k in before)
