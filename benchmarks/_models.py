"""The suite's workloads, each built by one function from an `nn` namespace.

`build(torch.nn)` and `build(gradwork.nn)` run the same code: the API promise
that a PyTorch model definition works with `torch` changed to `gradwork`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def mlp(nn, sizes=(784, 256, 128, 10)):
    layers = [nn.Flatten()]
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def cnn(nn):
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(1568, 10),
    )


def basic_block(nn):
    """The BasicBlock class of ResNet written against `nn` (torch.nn or gradwork.nn):
    two 3x3 convolutions with batch norm, and a 1x1 shortcut when the shape changes."""

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.shortcut = nn.Sequential()
            if stride != 1 or cin != cout:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)
                )

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + self.shortcut(x))

    return BasicBlock


def resnet_small(nn):
    """A stem, two BasicBlocks with batch-norm (the second downsamples), a linear head."""
    BasicBlock = basic_block(nn)  # noqa: N806 - a class
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, bias=False),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),
        BasicBlock(16, 16, 1),
        BasicBlock(16, 32, 2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, 10),
    )


def row_lstm(nn, hidden=128):
    """Each 28x28 image read as a sequence of 28 rows by an LSTM; the last state classifies."""

    class RowLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(28, hidden, batch_first=True)
            self.head = nn.Linear(hidden, 10)

        def forward(self, x):
            out, _ = self.lstm(x.reshape(x.shape[0], 28, 28))
            return self.head(out[:, -1])

    return RowLSTM()


def patch_transformer(nn, d_model=128, heads=4, feedforward=512, layers=2):
    """A small vision Transformer: 64 patches of 4x4 pixels, a 2-layer batch_first
    TransformerEncoder (d_model 128, 4 heads, feed-forward 512, dropout 0.1), mean-pooled
    into a linear head. Sequence 64, so attention is a real share of the step."""

    class PatchTransformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Linear(16, d_model)
            layer = nn.TransformerEncoderLayer(d_model, heads, feedforward, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
            self.head = nn.Linear(d_model, 10)

        def forward(self, patches):
            return self.head(self.encoder(self.embed(patches)).mean(1))

    return PatchTransformer()


def _patches(x_train, y_train, x_test, y_test):
    """(N, 1, 28, 28) images -> (N, 64, 16): padded to 32x32, cut into an 8x8 grid of 4x4."""

    def cut(x):
        padded = np.pad(x.reshape(len(x), 28, 28), ((0, 0), (2, 2), (2, 2)))
        grid = padded.reshape(len(x), 8, 4, 8, 4).transpose(0, 1, 3, 2, 4)
        return np.ascontiguousarray(grid.reshape(len(x), 64, 16))

    return cut(x_train), y_train, cut(x_test), y_test


def _flat(x_train, y_train, x_test, y_test):
    return x_train.reshape(len(x_train), -1), y_train, x_test.reshape(len(x_test), -1), y_test


def _images(*data):
    return data


@dataclass
class Workload:
    name: str
    build: Callable
    optimizer: Callable  # (optim module, parameters) -> optimizer
    batch: int
    prepare: Callable = _images
    flops_per_sample: float = 0.0  # set where FLOP/s are reported
    inference: bool = False


def _adam(optim, params):
    return optim.Adam(params, lr=1e-3)


def _adamw(optim, params):
    return optim.AdamW(params, lr=1e-3)


def _sgd_momentum(optim, params):
    return optim.SGD(params, lr=0.05, momentum=0.9)


def _wide_flops(features=784, hidden=4096, classes=10):
    """GEMM FLOPs per sample of one training step (elementwise work is not counted).

    Forward: 2·m·n per m-to-n layer. Backward: the weight gradient and the
    input gradient cost 2·m·n each, except that the first layer's input
    gradient is never computed (the images do not require grad).
    """
    sizes = [(features, hidden), (hidden, hidden), (hidden, classes)]
    forward = sum(2 * a * b for a, b in sizes)
    return 3 * forward - 2 * sizes[0][0] * sizes[0][1]


WORKLOADS = [
    Workload("mlp", mlp, _adam, 128, _flat),
    Workload("cnn", cnn, _adam, 64),
    Workload("resnet", resnet_small, _sgd_momentum, 64),
    Workload(
        "wide_mlp",
        lambda nn: mlp(nn, (784, 4096, 4096, 10)),
        _adam,
        512,
        _flat,
        flops_per_sample=float(_wide_flops()),
    ),
    Workload("lstm", row_lstm, _adam, 64),
    Workload("transformer", patch_transformer, _adamw, 32, _patches),
    Workload("inference", cnn, _adam, 256, inference=True),
]
