"""Every layer with an ONNX equivalent exports, and ONNX Runtime gives gradwork's outputs.

One table entry per layer: a model, an input, and an input of another batch
size (and sequence length, for recurrent layers) that the exported file must
also handle through `dynamic_axes`.
"""

import numpy as np
import pytest

import gradwork as gw
import gradwork.nn.functional as F
from gradwork import nn

from .onnx_check import check


def seq(steps, batch, features=3, batch_first=False):
    return gw.randn(batch, steps, features) if batch_first else gw.randn(steps, batch, features)


class Mixed(nn.Module):
    """Tensor methods between layers: cat, permute, slicing, reductions, comparisons."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(6, 4), nn.Linear(6, 4)

    def forward(self, x):
        y = gw.cat([self.a(x), self.b(x)], dim=1).permute(0, 2, 1)
        z = y[:, 1:5, ::2] * 2.0 - y[:, 1:].mean(dim=-1, keepdim=True)
        flat = z.transpose(1, 2).reshape(z.shape[0], -1)
        gated = (z > 0.1).float() + z.exp().clamp(max=3.0)
        return z.softmax(-1), F.gelu(z).sum(1), flat, gated, y[..., -1].unsqueeze(1)


class InPlaceAndPicks(nn.Module):
    """In-place ops, splits, reductions over several dims, max(dim) and argmax, flip."""

    def __init__(self):
        super().__init__()
        self.conv, self.norm = nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)

    def forward(self, x):
        out = self.norm(self.conv(x))
        before = out * 2  # reads `out` before the in-place change below
        out += x
        out = out.relu_()
        a, b = out.chunk(2, dim=1)
        pooled = gw.stack([a.mean([2, 3]), b.amax(dim=(2, 3))], dim=1)
        padded = F.pad(x, (1, 1, 2, 0), value=0.5).sum(dim=(2, 3))
        values, indices = x.max(dim=1)
        return (
            pooled.view(pooled.size(0), -1),
            padded,
            values,
            indices,
            x.argmax(1),
            x.split([1, 3], dim=1)[1].clamp(min=0),
            x.flip(-1),
            out.min(dim=-1, keepdim=True),
            before,
        )


class Pointwise(nn.Module):
    """Rounding, divisions, remainders, norms and the elementwise functions."""

    def forward(self, x, y):
        small = x * 0.1
        return (
            x.round(), x.floor(), x.ceil(), x.trunc(), gw.round(x, decimals=1), x // y,
            gw.div(x, y, rounding_mode="trunc"), x % y, gw.fmod(x, y), x.log2(), x.log10(),
            gw.hypot(x, y), gw.logaddexp(x, y), gw.linalg.vector_norm(x, dim=1),
            gw.linalg.vector_norm(x, ord=1, dim=-1, keepdim=True),
            gw.linalg.vector_norm(y, ord=float("inf")), x.norm(dim=1), F.step(x - 1.0),
            y.sign(), y.abs().sqrt(), small.exp().log1p(), small.expm1(), small.sin().asin(),
            small.tanh().atanh(), small.cos().acos(), small.atan(), small.sinh().asinh(),
            (small.cosh() + 0.1).acosh(), small.tan(), x.pow(2.5), gw.maximum(x, y), y.exp(),
            y.log_softmax(-1), y.logsumexp(1), y.cumsum(1), y.prod(1), y.amin(0),
        )  # fmt: skip


class Recurrent(nn.Module):
    """A recurrent layer with optional initial state and lengths, as graph inputs."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x, *state, lengths=None):
        state = (tuple(state),) if len(state) == 2 else state
        if lengths is not None:
            return self.layer(x, *state, lengths=lengths)
        return self.layer(x, *state)


class WithLengths(nn.Module):
    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x, lengths):
        return self.layer(x, lengths=lengths)


def images(batch, channels=3, size=9):
    return gw.randn(batch, channels, size, size)


LAYERS = {
    "Linear": (lambda: nn.Linear(4, 3), lambda n: gw.randn(n, 4)),
    "Linear-3d": (lambda: nn.Linear(4, 3, bias=False), lambda n: gw.randn(n, 2, 4)),
    "Conv1d": (
        lambda: nn.Conv1d(3, 5, 3, padding=2, dilation=2, stride=2),
        lambda n: gw.randn(n, 3, 11),
    ),
    "Conv2d": (lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1), images),
    "Conv2d-groups": (
        lambda: nn.Conv2d(4, 8, 3, groups=4, padding=1, bias=False),
        lambda n: images(n, 4),
    ),
    "ConvTranspose2d": (
        lambda: nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1),
        lambda n: images(n, 4, 5),
    ),
    "ConvTranspose2d-groups": (
        lambda: nn.ConvTranspose2d(4, 6, 2, stride=2, groups=2),
        lambda n: images(n, 4, 5),
    ),
    "MaxPool2d": (
        lambda: nn.Sequential(nn.MaxPool2d(3, 2, 1), nn.MaxPool2d(2, ceil_mode=True)),
        images,
    ),
    "AvgPool2d": (
        lambda: nn.Sequential(
            nn.AvgPool2d(3, 2, 1), nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False)
        ),
        images,
    ),
    "Pool1d": (
        lambda: nn.Sequential(nn.MaxPool1d(2), nn.AvgPool1d(2)),
        lambda n: gw.randn(n, 3, 9),
    ),
    "AdaptiveAvgPool2d-global": (lambda: nn.AdaptiveAvgPool2d(1), images),
    "AdaptiveAvgPool2d-divisible": (lambda: nn.AdaptiveAvgPool2d(3), images),
    "AdaptiveAvgPool2d-uneven": (lambda: nn.AdaptiveAvgPool2d((4, 2)), images),
    "AdaptiveMaxPool2d": (lambda: nn.AdaptiveMaxPool2d(3), images),
    "AdaptiveMaxPool2d-uneven": (lambda: nn.AdaptiveMaxPool2d((2, 4)), images),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(4), lambda n: gw.randn(n, 4) * 2 + 1),
    "BatchNorm1d-3d": (lambda: nn.BatchNorm1d(3), lambda n: gw.randn(n, 3, 5)),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(3), images),
    "LayerNorm": (lambda: nn.LayerNorm([3, 4]), lambda n: gw.randn(n, 3, 4) * 3),
    "LayerNorm-plain": (
        lambda: nn.LayerNorm(4, elementwise_affine=False),
        lambda n: gw.randn(n, 3, 4),
    ),
    "GroupNorm": (lambda: nn.GroupNorm(2, 4), lambda n: images(n, 4, 5)),
    "InstanceNorm2d": (lambda: nn.InstanceNorm2d(4, affine=True), lambda n: images(n, 4, 5)),
    "InstanceNorm2d-plain": (lambda: nn.InstanceNorm2d(4), lambda n: images(n, 4, 5)),
    "InstanceNorm2d-tracked": (
        lambda: nn.InstanceNorm2d(4, track_running_stats=True),
        lambda n: images(n, 4, 5),
    ),
    "Dropout": (
        lambda: nn.Sequential(nn.Conv2d(3, 3, 1), nn.Dropout2d(0.3), nn.Dropout(0.2)),
        images,
    ),
    "Flatten": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(243, 2)), images),
    "Embedding": (
        lambda: nn.Sequential(nn.Embedding(10, 4, padding_idx=0), nn.Flatten()),
        lambda n: gw.tensor(np.random.randint(0, 10, (n, 5))),
    ),
    "Upsample-nearest": (lambda: nn.Upsample(scale_factor=2), images),
    "Upsample-bilinear": (lambda: nn.Upsample(scale_factor=2, mode="bilinear"), images),
    "tensor-methods": (Mixed, lambda n: gw.randn(n, 2, 6)),
    "in-place-and-picks": (InPlaceAndPicks, lambda n: images(n, 4, 5)),
    "ReLU-inplace": (
        lambda: nn.Sequential(nn.Linear(4, 6), nn.ReLU(inplace=True), nn.Linear(6, 2)),
        lambda n: gw.randn(n, 4),
    ),
}

ACTIVATIONS = [
    "ReLU",
    "LeakyReLU",
    "ELU",
    "GELU",
    "SiLU",
    "Swish",
    "Sigmoid",
    "Tanh",
    "Softplus",
    "ReLU6",
    "Hardtanh",
    "Hardswish",
    "Hardsigmoid",
    "Mish",
    "SELU",
    "CELU",
    "Softsign",
    "LogSigmoid",
    "Softmax",
    "LogSoftmax",
    "Softmin",
    "Identity",
]


def activation(name):
    layer = getattr(nn, name)
    return layer(dim=1) if name in ("Softmax", "LogSoftmax", "Softmin") else layer()


for _name in ACTIVATIONS:
    LAYERS[_name] = (lambda name=_name: activation(name), lambda n: gw.randn(n, 6) * 4)
LAYERS["GELU-tanh"] = (lambda: nn.GELU(approximate="tanh"), lambda n: gw.randn(n, 6) * 4)


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_matches_onnx_runtime(name):
    build, make = LAYERS[name]
    model = build()
    model.train()
    model(make(4))  # moves running statistics off their initial values
    check(model, make(3), {0: [0]}, others=[make(5)])


RECURRENT = [
    (kind, batch_first, bidirectional)
    for kind in ("RNN", "LSTM", "GRU")
    for batch_first in (False, True)
    for bidirectional in (False, True)
]


@pytest.mark.parametrize("kind,batch_first,bidirectional", RECURRENT)
def test_recurrent_layer_with_dynamic_batch_and_length(kind, batch_first, bidirectional):
    layer = getattr(nn, kind)(3, 5, num_layers=2, batch_first=batch_first,
                              bidirectional=bidirectional, dropout=0.1)  # fmt: skip
    axes = [0, 1]
    check(Recurrent(layer), seq(4, 2, batch_first=batch_first), {0: axes},
          others=[seq(6, 3, batch_first=batch_first)])  # fmt: skip


@pytest.mark.parametrize("layer", [
    lambda: nn.RNN(3, 5, nonlinearity="relu"),
    lambda: nn.GRU(3, 5, bias=False),
])  # fmt: skip
def test_recurrent_options(layer):
    check(Recurrent(layer()), seq(4, 2), {0: [0, 1]}, others=[seq(6, 3)])


def test_unbatched_lstm():
    check(Recurrent(nn.LSTM(3, 5)), gw.randn(4, 3), {0: [0]}, others=[gw.randn(6, 3)])


def test_initial_state_is_a_graph_input():
    model = Recurrent(nn.LSTM(3, 5, num_layers=2))
    inputs = (seq(4, 2), gw.randn(2, 2, 5), gw.randn(2, 2, 5))
    other = (seq(6, 3), gw.randn(2, 3, 5), gw.randn(2, 3, 5))
    check(model, inputs, {0: [0, 1], 1: [1], 2: [1]}, others=[other])
    model = Recurrent(nn.GRU(3, 5, bidirectional=True))
    check(model, (seq(4, 2), gw.randn(2, 2, 5)), {0: [0, 1], 1: [1]},
          others=[(seq(6, 3), gw.randn(2, 3, 5))])  # fmt: skip


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lengths_become_sequence_lens(bidirectional):
    model = WithLengths(nn.LSTM(3, 5, batch_first=True, bidirectional=bidirectional, num_layers=2))
    inputs = (gw.randn(3, 5, 3), gw.tensor(np.array([5, 2, 3])))
    other = (gw.randn(4, 7, 3), gw.tensor(np.array([7, 1, 4, 6])))
    check(model, inputs, {0: [0, 1], 1: [0]}, others=[other])


@pytest.mark.parametrize("opset", [18, 21])
@pytest.mark.parametrize("name", ["tensor-methods", "GroupNorm", "AdaptiveMaxPool2d-uneven"])
def test_later_opsets(name, opset):
    """Reductions take their axes as an input from opset 18 on."""
    build, make = LAYERS[name]
    check(build(), make(3), {0: [0]}, others=[make(5)], opset_version=opset)


def test_pointwise_functions():
    def inputs(n):
        return gw.rand(n, 5) * 4 + 0.5, gw.randn(n, 5) + 0.1

    check(Pointwise(), inputs(3), {0: [0], 1: [0]}, others=[inputs(4)])
