"""The table: one or more entries per public layer, activation and loss of gradwork.nn.

Each entry builds the gradwork module, the matching torch module (same
parameter names, so torch's state_dict loads unchanged), and small float64
inputs. test_layers.py runs every generic check over every entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradwork import nn


@dataclass
class Case:
    name: str  # the class in gradwork.nn this entry covers
    ours: Callable[[], Any]
    theirs: Callable[[Any], Any]  # torch -> torch module
    inputs: Callable[[np.random.Generator], list]  # arrays; floats get requires_grad
    label: str = ""
    stochastic: bool = False  # dropout: values differ from torch's draw
    gradcheck: bool = True
    target_grad: bool = True  # float targets of losses also get gradients
    extra: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.name + (f"[{self.label}]" if self.label else "")


def normal(*shape):
    return lambda rng: [rng.standard_normal(shape)]


def two(*shape):
    return lambda rng: [rng.standard_normal(shape), rng.standard_normal(shape)]


def classes(n, c, *rest, ignore=False):
    def make(rng):
        target = rng.integers(0, c, (n, *rest))
        if ignore:
            target.flat[0] = -100
        return [rng.standard_normal((n, c, *rest)), target]

    return make


def probabilities(*shape):
    return lambda rng: [rng.uniform(0.05, 0.95, shape), rng.uniform(0, 1, shape)]


def torch_residual(torch):
    class Residual(torch.nn.Module):
        def __init__(self, block, shortcut=None):
            super().__init__()
            self.block = block
            self.shortcut = torch.nn.Identity() if shortcut is None else shortcut

        def forward(self, x):
            return self.block(x) + self.shortcut(x)

    return Residual


def torch_basic_block(torch, in_ch, out_ch, stride):
    tnn = torch.nn

    class BasicBlock(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = tnn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(out_ch)
            self.conv2 = tnn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(out_ch)
            if stride != 1 or in_ch != out_ch:
                self.shortcut = tnn.Sequential(
                    tnn.Conv2d(in_ch, out_ch, 1, stride, bias=False), tnn.BatchNorm2d(out_ch)
                )
            else:
                self.shortcut = tnn.Identity()

        def forward(self, x):
            out = torch.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return torch.relu(out + self.shortcut(x))

    return BasicBlock()


def torch_function(torch, fn):
    class Function(torch.nn.Module):
        def forward(self, x):
            return fn(x)

    return Function()


def scaled(scale, *shape):
    return lambda rng: [rng.standard_normal(shape) * scale]


def unpool_inputs(n, c, h, w, kernel, stride):
    """Pooled values and valid max_pool2d indices (a random position in each window)."""

    def make(rng):
        rows = np.arange(h)[:, None] * stride + rng.integers(0, kernel, (n, c, h, w))
        cols = np.arange(w)[None, :] * stride + rng.integers(0, kernel, (n, c, h, w))
        width = (w - 1) * stride + kernel
        return [rng.standard_normal((n, c, h, w)), rows * width + cols]

    return make


def kl_inputs(*shape, log_target=False):
    def make(rng):
        log_input = np.log(rng.dirichlet(np.ones(shape[-1]), shape[:-1]))
        target = rng.dirichlet(np.ones(shape[-1]), shape[:-1])
        return [log_input, np.log(target) if log_target else target]

    return make


def _step(torch, x):
    return (x >= 0).to(x.dtype)


T = Any  # the torch module, passed to every `theirs`

LAYER_CASES = [
    Case("Identity", lambda: nn.Identity(), lambda t: t.nn.Identity(), normal(2, 3)),
    Case("Linear", lambda: nn.Linear(4, 3), lambda t: t.nn.Linear(4, 3), normal(2, 4)),
    Case("Linear", lambda: nn.Linear(4, 3, bias=False), lambda t: t.nn.Linear(4, 3, bias=False),
         normal(2, 5, 4), label="nobias-3d"),
    Case("Flatten", lambda: nn.Flatten(), lambda t: t.nn.Flatten(), normal(2, 3, 2)),
    Case("Unflatten", lambda: nn.Unflatten(1, (2, 3)), lambda t: t.nn.Unflatten(1, (2, 3)),
         normal(2, 6)),
    Case("Conv1d", lambda: nn.Conv1d(2, 3, 3, padding=1), lambda t: t.nn.Conv1d(2, 3, 3, padding=1),
         normal(2, 2, 6)),
    Case("Conv1d", lambda: nn.Conv1d(2, 4, 2, stride=2, groups=2, padding="valid"),
         lambda t: t.nn.Conv1d(2, 4, 2, stride=2, groups=2, padding="valid"), normal(2, 2, 7),
         label="groups"),
    Case("Conv2d", lambda: nn.Conv2d(2, 3, 3), lambda t: t.nn.Conv2d(2, 3, 3), normal(2, 2, 5, 5)),
    Case("Conv2d", lambda: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2),
                                     groups=2, bias=False),
         lambda t: t.nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2),
                               groups=2, bias=False), normal(2, 4, 6, 5), label="general"),
    Case("Conv2d", lambda: nn.Conv2d(2, 2, 4, padding="same"),
         lambda t: t.nn.Conv2d(2, 2, 4, padding="same"), normal(1, 2, 5, 6), label="same-even"),
    Case("Conv2d", lambda: nn.Conv2d(2, 2, 3, padding=1, padding_mode="reflect"),
         lambda t: t.nn.Conv2d(2, 2, 3, padding=1, padding_mode="reflect"), normal(1, 2, 4, 4),
         label="reflect"),
    Case("Conv2d", lambda: nn.Conv2d(2, 3, 3), lambda t: t.nn.Conv2d(2, 3, 3), normal(2, 5, 5),
         label="unbatched"),
    Case("ConvTranspose2d",
         lambda: nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1),
         lambda t: t.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1),
         normal(2, 2, 3, 4)),
    Case("ConvTranspose2d", lambda: nn.ConvTranspose2d(4, 2, 2, groups=2, dilation=2),
         lambda t: t.nn.ConvTranspose2d(4, 2, 2, groups=2, dilation=2), normal(1, 4, 3, 3),
         label="groups"),
    Case("MaxPool1d", lambda: nn.MaxPool1d(2), lambda t: t.nn.MaxPool1d(2), normal(2, 3, 7)),
    Case("MaxPool2d", lambda: nn.MaxPool2d(2), lambda t: t.nn.MaxPool2d(2), normal(2, 2, 4, 6)),
    Case("MaxPool2d", lambda: nn.MaxPool2d(3, 2, 1, ceil_mode=True),
         lambda t: t.nn.MaxPool2d(3, 2, 1, ceil_mode=True), normal(2, 2, 6, 7), label="overlap"),
    Case("AvgPool1d", lambda: nn.AvgPool1d(3, 2), lambda t: t.nn.AvgPool1d(3, 2), normal(2, 2, 7)),
    Case("AvgPool2d", lambda: nn.AvgPool2d(2), lambda t: t.nn.AvgPool2d(2), normal(2, 2, 4, 4)),
    Case("AvgPool2d", lambda: nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
         lambda t: t.nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
         normal(2, 2, 6, 5), label="pad"),
    Case("AdaptiveAvgPool2d", lambda: nn.AdaptiveAvgPool2d(1), lambda t: t.nn.AdaptiveAvgPool2d(1),
         normal(2, 3, 4, 5)),
    Case("AdaptiveAvgPool2d", lambda: nn.AdaptiveAvgPool2d((3, 2)),
         lambda t: t.nn.AdaptiveAvgPool2d((3, 2)), normal(2, 2, 5, 7), label="uneven"),
    Case("AdaptiveMaxPool2d", lambda: nn.AdaptiveMaxPool2d((2, 3)),
         lambda t: t.nn.AdaptiveMaxPool2d((2, 3)), normal(2, 2, 5, 7)),
    Case("Dropout", lambda: nn.Dropout(0.3), lambda t: t.nn.Dropout(0.3), normal(4, 5),
         stochastic=True),
    Case("Dropout2d", lambda: nn.Dropout2d(0.5), lambda t: t.nn.Dropout2d(0.5), normal(2, 4, 3, 3),
         stochastic=True),
    Case("BatchNorm1d", lambda: nn.BatchNorm1d(3), lambda t: t.nn.BatchNorm1d(3), normal(4, 3)),
    Case("BatchNorm1d", lambda: nn.BatchNorm1d(3, momentum=None), lambda t: t.nn.BatchNorm1d(
        3, momentum=None), normal(4, 3, 2), label="3d-cumulative"),
    Case("BatchNorm2d", lambda: nn.BatchNorm2d(2), lambda t: t.nn.BatchNorm2d(2),
         normal(3, 2, 3, 2)),
    Case("BatchNorm2d", lambda: nn.BatchNorm2d(2, affine=False, track_running_stats=False),
         lambda t: t.nn.BatchNorm2d(2, affine=False, track_running_stats=False),
         normal(3, 2, 2, 2), label="no-affine-no-stats"),
    Case("LayerNorm", lambda: nn.LayerNorm((3, 4)), lambda t: t.nn.LayerNorm((3, 4)),
         normal(2, 3, 4)),
    Case("LayerNorm", lambda: nn.LayerNorm(4, bias=False), lambda t: t.nn.LayerNorm(4, bias=False),
         normal(3, 4), label="nobias"),
    Case("RMSNorm", lambda: nn.RMSNorm((3, 4)), lambda t: t.nn.RMSNorm((3, 4)), normal(2, 3, 4)),
    Case("RMSNorm", lambda: nn.RMSNorm(4, eps=1e-3, elementwise_affine=False),
         lambda t: t.nn.RMSNorm(4, eps=1e-3, elementwise_affine=False), normal(3, 4),
         label="eps-noaffine"),
    Case("InstanceNorm2d", lambda: nn.InstanceNorm2d(2), lambda t: t.nn.InstanceNorm2d(2),
         normal(2, 2, 3, 3)),
    Case("InstanceNorm2d", lambda: nn.InstanceNorm2d(2, affine=True, track_running_stats=True),
         lambda t: t.nn.InstanceNorm2d(2, affine=True, track_running_stats=True),
         normal(2, 2, 3, 3), label="affine-tracked"),
    Case("GroupNorm", lambda: nn.GroupNorm(2, 4), lambda t: t.nn.GroupNorm(2, 4),
         normal(2, 4, 2, 3)),
    Case("Residual", lambda: nn.Residual(nn.Linear(3, 3)),
         lambda t: torch_residual(t)(t.nn.Linear(3, 3)), normal(2, 3)),
    Case("Residual", lambda: nn.Residual(nn.Linear(3, 2), nn.Linear(3, 2, bias=False)),
         lambda t: torch_residual(t)(t.nn.Linear(3, 2), t.nn.Linear(3, 2, bias=False)),
         normal(2, 3), label="projection"),
    Case("BasicBlock", lambda: nn.BasicBlock(2, 3, stride=2),
         lambda t: torch_basic_block(t, 2, 3, 2), normal(2, 2, 4, 4)),
    Case("BasicBlock", lambda: nn.BasicBlock(2, 2), lambda t: torch_basic_block(t, 2, 2, 1),
         normal(2, 2, 3, 3), label="identity"),
    Case("MaxUnpool2d", lambda: nn.MaxUnpool2d(2), lambda t: t.nn.MaxUnpool2d(2),
         unpool_inputs(2, 2, 2, 3, 2, 2)),
    Case("MaxUnpool2d", lambda: nn.MaxUnpool2d(3, 2, 1), lambda t: t.nn.MaxUnpool2d(3, 2, 1),
         lambda rng: [rng.standard_normal((2, 3, 3)),
                      np.stack([rng.choice(25, (3, 3), replace=False) for _ in range(2)])],
         label="unbatched-overlap"),
    Case("Upsample", lambda: nn.Upsample(scale_factor=2), lambda t: t.nn.Upsample(scale_factor=2),
         normal(2, 2, 3, 4)),
    Case("Upsample", lambda: nn.Upsample(size=(5, 3)), lambda t: t.nn.Upsample(size=(5, 3)),
         normal(1, 2, 3, 7), label="nearest-size"),
    Case("Upsample", lambda: nn.Upsample(size=7), lambda t: t.nn.Upsample(size=7),
         normal(2, 2, 3), label="nearest-1d"),
    Case("Upsample", lambda: nn.Upsample(scale_factor=1.5, mode="nearest-exact"),
         lambda t: t.nn.Upsample(scale_factor=1.5, mode="nearest-exact"), normal(1, 2, 4, 3),
         label="nearest-exact"),
    Case("Upsample", lambda: nn.Upsample(size=(5, 7), mode="bilinear"),
         lambda t: t.nn.Upsample(size=(5, 7), mode="bilinear"), normal(2, 2, 3, 4),
         label="bilinear"),
    Case("Upsample", lambda: nn.Upsample(scale_factor=(1.7, 0.6), mode="bilinear",
                                         align_corners=True),
         lambda t: t.nn.Upsample(scale_factor=(1.7, 0.6), mode="bilinear", align_corners=True),
         normal(2, 2, 3, 6), label="bilinear-align-corners"),
    Case("Upsample", lambda: nn.Upsample(scale_factor=2.5, mode="linear"),
         lambda t: t.nn.Upsample(scale_factor=2.5, mode="linear"), normal(2, 2, 4),
         label="linear"),
    Case("UpsamplingNearest2d", lambda: nn.UpsamplingNearest2d(scale_factor=3),
         lambda t: t.nn.UpsamplingNearest2d(scale_factor=3), normal(1, 2, 2, 3)),
    Case("UpsamplingBilinear2d", lambda: nn.UpsamplingBilinear2d(size=(4, 5)),
         lambda t: t.nn.UpsamplingBilinear2d(size=(4, 5)), normal(2, 1, 3, 3)),
    Case("Unfold", lambda: nn.Unfold(2), lambda t: t.nn.Unfold(2), normal(2, 3, 4, 5)),
    Case("Unfold", lambda: nn.Unfold((2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
         lambda t: t.nn.Unfold((2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
         normal(3, 5, 6), label="general-unbatched"),
    Case("Fold", lambda: nn.Fold((4, 5), (2, 2)), lambda t: t.nn.Fold((4, 5), (2, 2)),
         normal(2, 12, 12)),
    Case("Fold", lambda: nn.Fold((5, 6), (3, 2), dilation=(1, 2), padding=(1, 0), stride=2),
         lambda t: t.nn.Fold((5, 6), (3, 2), dilation=(1, 2), padding=(1, 0), stride=2),
         normal(2, 6, 6), label="general"),
    Case("CosineSimilarity", lambda: nn.CosineSimilarity(), lambda t: t.nn.CosineSimilarity(),
         two(3, 4)),
    Case("CosineSimilarity", lambda: nn.CosineSimilarity(dim=-1),
         lambda t: t.nn.CosineSimilarity(dim=-1),
         lambda rng: [rng.standard_normal((3, 1, 4)), rng.standard_normal((2, 4))],
         label="broadcast"),
    Case("PairwiseDistance", lambda: nn.PairwiseDistance(), lambda t: t.nn.PairwiseDistance(),
         two(3, 4)),
    Case("PairwiseDistance", lambda: nn.PairwiseDistance(p=1.0, keepdim=True),
         lambda t: t.nn.PairwiseDistance(p=1.0, keepdim=True), two(3, 4), label="p1-keepdim"),
    Case("PairwiseDistance", lambda: nn.PairwiseDistance(p=3.0, eps=0.1),
         lambda t: t.nn.PairwiseDistance(p=3.0, eps=0.1), two(2, 3, 4), label="p3"),
    Case("PairwiseDistance", lambda: nn.PairwiseDistance(p=float("inf")),
         lambda t: t.nn.PairwiseDistance(p=float("inf")), two(3, 4), label="inf"),
]  # fmt: skip

ACTIVATION_CASES = [
    Case("ReLU", lambda: nn.ReLU(), lambda t: t.nn.ReLU(), normal(3, 4)),
    Case("LeakyReLU", lambda: nn.LeakyReLU(0.2), lambda t: t.nn.LeakyReLU(0.2), normal(3, 4)),
    Case("ELU", lambda: nn.ELU(0.7), lambda t: t.nn.ELU(0.7), normal(3, 4)),
    Case("GELU", lambda: nn.GELU(), lambda t: t.nn.GELU(),
         lambda rng: [rng.standard_normal(40) * 3]),
    Case("GELU", lambda: nn.GELU("tanh"), lambda t: t.nn.GELU("tanh"), normal(3, 4), label="tanh"),
    Case("SiLU", lambda: nn.SiLU(), lambda t: t.nn.SiLU(), normal(3, 4)),
    Case("Swish", lambda: nn.Swish(), lambda t: t.nn.SiLU(), normal(3, 4)),
    Case("Sigmoid", lambda: nn.Sigmoid(), lambda t: t.nn.Sigmoid(), normal(3, 4)),
    Case("Tanh", lambda: nn.Tanh(), lambda t: t.nn.Tanh(), normal(3, 4)),
    Case("Softmax", lambda: nn.Softmax(dim=1), lambda t: t.nn.Softmax(dim=1), normal(3, 4)),
    Case("Softmax", lambda: nn.Softmax(), lambda t: t.nn.Softmax(), normal(2, 3, 4),
         label="implicit"),
    Case("LogSoftmax", lambda: nn.LogSoftmax(dim=-1), lambda t: t.nn.LogSoftmax(dim=-1),
         normal(3, 4)),
    Case("Softplus", lambda: nn.Softplus(beta=2.0, threshold=3.0),
         lambda t: t.nn.Softplus(beta=2.0, threshold=3.0),
         lambda rng: [rng.standard_normal(20) * 3]),
    Case("Step", lambda: nn.Step(), lambda t: torch_function(t, lambda x: _step(t, x) + x * 0),
         normal(3, 4)),
    Case("Hardtanh", lambda: nn.Hardtanh(), lambda t: t.nn.Hardtanh(), scaled(2, 3, 4)),
    Case("Hardtanh", lambda: nn.Hardtanh(-0.5, 2.0), lambda t: t.nn.Hardtanh(-0.5, 2.0),
         scaled(2, 3, 4), label="bounds"),
    Case("ReLU6", lambda: nn.ReLU6(), lambda t: t.nn.ReLU6(), scaled(5, 3, 4)),
    Case("Hardswish", lambda: nn.Hardswish(), lambda t: t.nn.Hardswish(), scaled(4, 4, 5)),
    Case("Hardsigmoid", lambda: nn.Hardsigmoid(), lambda t: t.nn.Hardsigmoid(),
         scaled(4, 4, 5)),
    Case("Mish", lambda: nn.Mish(), lambda t: t.nn.Mish(), scaled(4, 4, 5)),
    Case("SELU", lambda: nn.SELU(), lambda t: t.nn.SELU(), scaled(2, 3, 4)),
    Case("CELU", lambda: nn.CELU(0.5), lambda t: t.nn.CELU(0.5), scaled(2, 3, 4)),
    Case("Softsign", lambda: nn.Softsign(), lambda t: t.nn.Softsign(), scaled(3, 3, 4)),
    Case("LogSigmoid", lambda: nn.LogSigmoid(), lambda t: t.nn.LogSigmoid(), scaled(40, 4, 5)),
    Case("Softmin", lambda: nn.Softmin(dim=1), lambda t: t.nn.Softmin(dim=1), normal(3, 4)),
    Case("Softmin", lambda: nn.Softmin(dim=0), lambda t: t.nn.Softmin(dim=0), normal(2, 3, 4),
         label="dim0"),
]  # fmt: skip

LOSS_CASES = [
    Case("MSELoss", lambda: nn.MSELoss(), lambda t: t.nn.MSELoss(), two(3, 4)),
    Case("MSELoss", lambda: nn.MSELoss(reduction="none"), lambda t: t.nn.MSELoss(reduction="none"),
         two(3, 4), label="none"),
    Case("L1Loss", lambda: nn.L1Loss(reduction="sum"), lambda t: t.nn.L1Loss(reduction="sum"),
         two(3, 4)),
    Case("HuberLoss", lambda: nn.HuberLoss(delta=0.5), lambda t: t.nn.HuberLoss(delta=0.5),
         two(3, 4)),
    Case("SmoothL1Loss", lambda: nn.SmoothL1Loss(beta=0.5), lambda t: t.nn.SmoothL1Loss(beta=0.5),
         two(3, 4)),
    Case("BCELoss", lambda: nn.BCELoss(), lambda t: t.nn.BCELoss(), probabilities(3, 4)),
    Case("BCELoss", lambda: nn.BCELoss(weight=np.linspace(0.5, 2, 4), reduction="none"),
         lambda t: t.nn.BCELoss(weight=t.linspace(0.5, 2, 4, dtype=t.float64), reduction="none"),
         probabilities(3, 4), label="weight"),
    Case("BCEWithLogitsLoss", lambda: nn.BCEWithLogitsLoss(), lambda t: t.nn.BCEWithLogitsLoss(),
         lambda rng: [rng.standard_normal((3, 4)), rng.uniform(0, 1, (3, 4))]),
    Case("BCEWithLogitsLoss", lambda: nn.BCEWithLogitsLoss(
        weight=np.linspace(0.5, 2, 4), pos_weight=np.array([1.0, 2.0, 0.5, 3.0]), reduction="sum"),
         lambda t: t.nn.BCEWithLogitsLoss(weight=t.linspace(0.5, 2, 4, dtype=t.float64),
                                          pos_weight=t.tensor([1.0, 2.0, 0.5, 3.0],
                                                              dtype=t.float64),
                                          reduction="sum"),
         lambda rng: [rng.standard_normal((3, 4)), rng.uniform(0, 1, (3, 4))], label="weights"),
    Case("CrossEntropyLoss", lambda: nn.CrossEntropyLoss(), lambda t: t.nn.CrossEntropyLoss(),
         classes(5, 4)),
    Case("CrossEntropyLoss", lambda: nn.CrossEntropyLoss(
        weight=np.array([1.0, 2.0, 0.5, 1.5]), label_smoothing=0.1),
         lambda t: t.nn.CrossEntropyLoss(weight=t.tensor([1.0, 2.0, 0.5, 1.5], dtype=t.float64),
                                         label_smoothing=0.1),
         classes(5, 4, ignore=True), label="weight-smoothing-ignore"),
    Case("CrossEntropyLoss", lambda: nn.CrossEntropyLoss(reduction="none"),
         lambda t: t.nn.CrossEntropyLoss(reduction="none"), classes(2, 3, 2, 2), label="kdim"),
    Case("CrossEntropyLoss", lambda: nn.CrossEntropyLoss(label_smoothing=0.2),
         lambda t: t.nn.CrossEntropyLoss(label_smoothing=0.2),
         lambda rng: [rng.standard_normal((3, 4)), rng.dirichlet(np.ones(4), 3)],
         label="probabilities"),
    Case("NLLLoss", lambda: nn.NLLLoss(weight=np.array([1.0, 2.0, 0.5])),
         lambda t: t.nn.NLLLoss(weight=t.tensor([1.0, 2.0, 0.5], dtype=t.float64)),
         classes(4, 3, ignore=True)),
    Case("MultiMarginLoss", lambda: nn.MultiMarginLoss(), lambda t: t.nn.MultiMarginLoss(),
         classes(4, 3)),
    Case("MultiMarginLoss", lambda: nn.MultiMarginLoss(p=2, margin=0.5,
                                                       weight=np.array([1.0, 2.0, 0.5])),
         lambda t: t.nn.MultiMarginLoss(p=2, margin=0.5,
                                        weight=t.tensor([1.0, 2.0, 0.5], dtype=t.float64)),
         classes(4, 3), label="squared"),
    Case("KLDivLoss", lambda: nn.KLDivLoss(reduction="batchmean"),
         lambda t: t.nn.KLDivLoss(reduction="batchmean"), kl_inputs(4, 3)),
    Case("KLDivLoss", lambda: nn.KLDivLoss(reduction="sum"),
         lambda t: t.nn.KLDivLoss(reduction="sum"), kl_inputs(2, 3, 4), label="sum"),
    Case("KLDivLoss", lambda: nn.KLDivLoss(reduction="none", log_target=True),
         lambda t: t.nn.KLDivLoss(reduction="none", log_target=True),
         kl_inputs(3, 4, log_target=True), label="log-target"),
]  # fmt: skip

CASES = LAYER_CASES + ACTIVATION_CASES + LOSS_CASES
