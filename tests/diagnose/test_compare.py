"""compare(): a faithful port agrees everywhere; a wrong layer is named, forward or backward."""

import numpy as np
import pytest

from gradwork import autograd, nn
from gradwork.diagnose import CompareReport, LayerDiff, compare

torch = pytest.importorskip("torch")


def reference():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
        torch.nn.Linear(4 * 6 * 6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3),
    )  # fmt: skip


def port(activation=None, last=None):
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 16),
        activation or nn.Tanh(), last or nn.Linear(16, 3),
    )  # fmt: skip


INPUTS = np.random.default_rng(0).standard_normal((5, 1, 6, 6)).astype(np.float32)


class ShiftedLinear(nn.Linear):
    """A porting bug in the forward: a bias added twice."""

    def forward(self, x):
        return super().forward(x) + self.bias


class DoubledTanhGrad(autograd.Function):
    """A porting bug in the backward only: the right tanh, twice its gradient."""

    @staticmethod
    def forward(ctx, x):
        y = x.tanh()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return 2 * grad * (1 - y * y)


class BadTanh(nn.Module):
    def forward(self, x):
        return DoubledTanhGrad.apply(x)


def test_a_faithful_port_agrees_layer_by_layer():
    report = compare(reference(), port(), INPUTS)
    assert isinstance(report, CompareReport) and report.ok
    assert report.first_forward is None and report.first_backward is None
    assert [layer.name for layer in report.layers] == ["0", "1", "2", "3", "4", "5"]
    assert all(isinstance(layer, LayerDiff) and layer.output_abs < 1e-5 for layer in report.layers)
    assert report.layers[0].param_grad_abs < 1e-5  # the conv's weight gradients agree
    assert "layer" in str(report)


def test_the_first_layer_whose_output_differs_is_named():
    report = compare(reference(), port(last=ShiftedLinear(16, 3)), INPUTS)
    assert not report.ok and report.first_forward.name == "5"
    finding = report.finding("forward_mismatch")
    assert finding.layers == ["5"] and finding.evidence["abs"] > 1e-3
    assert all(layer.output_abs < 1e-5 for layer in report.layers[:5])


def test_a_wrong_backward_is_named_even_when_the_forward_agrees():
    report = compare(reference(), port(activation=BadTanh()), INPUTS)
    assert report.first_forward is None
    assert report.first_backward.name == "4"
    finding = report.finding("backward_mismatch")
    assert finding.layers == ["4"] and finding.evidence["abs"] > 1e-3
    # layer 3's weights then get the wrong gradient: downstream of the culprit
    assert report.layers[3].param_grad_abs > 1e-3 and report.layers[5].param_grad_abs < 1e-5
