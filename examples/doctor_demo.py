"""The training doctor on three broken setups and one healthy one, on real digits.

Run: PYTHONPATH=src python3 examples/doctor_demo.py   (a few seconds)

1. a deep sigmoid net with tiny initial weights: gradients vanish;
2. a sound net trained with SGD at lr 10: updates explode and the loss diverges;
3. raw pixel values 0..255 fed straight in: badly scaled inputs;
4. the same data standardised, He-initialised ReLU net, SGD at lr 0.1: healthy.
"""

from __future__ import annotations

import numpy as np

import gradwork as gw
from gradwork import nn
from gradwork.data import load_digits
from gradwork.diagnose import doctor


class SGD:
    """Plain SGD with torch's interface (param_groups, zero_grad, step)."""

    def __init__(self, params, lr: float) -> None:
        self.param_groups = [{"params": list(params), "lr": lr}]

    def zero_grad(self) -> None:
        for p in self.param_groups[0]["params"]:
            p.grad = None

    def step(self) -> None:
        lr = self.param_groups[0]["lr"]
        for p in self.param_groups[0]["params"]:
            if p.grad is not None:
                p.data = p.data - lr * p.grad.data


def optimizer(model, lr: float):
    """gradwork.optim.SGD when the optim package is present, else the plain SGD above."""
    try:
        from gradwork.optim import SGD as GradworkSGD  # noqa: N811
    except ImportError:
        return SGD(model.parameters(), lr)
    return GradworkSGD(model.parameters(), lr=lr)


def mlp(sizes: list[int], activation, init=None) -> nn.Sequential:
    layers = []
    for fan_in, fan_out in zip(sizes, sizes[1:], strict=False):
        layers += [nn.Linear(fan_in, fan_out), activation()]
    model = nn.Sequential(*layers[:-1])  # no activation after the last layer
    if init is not None:
        for module in model.modules():
            if isinstance(module, nn.Linear):
                init(module.weight)
                nn.init.zeros_(module.bias)
    return model


def main() -> None:
    gw.manual_seed(0)
    images, labels = load_digits(flatten=True).tensors
    x, y = images[:64], labels[:64]  # pixels in 0..1
    standardised = (x - x.mean()) / x.std()
    pixels = gw.tensor(np.round(x.numpy() * 255.0))  # raw 8-bit values 0..255
    loss_fn = nn.CrossEntropyLoss()

    def he(weight):
        return nn.init.kaiming_normal_(weight, nonlinearity="relu")

    cases = []
    tiny = mlp(
        [64, 32, 32, 32, 32, 32, 32, 32, 10], nn.Sigmoid, lambda w: nn.init.normal_(w, std=0.01)
    )
    cases.append(("1. deep sigmoid net, tiny init", tiny, standardised, None))
    sound = mlp([64, 64, 10], nn.ReLU, he)
    cases.append(("2. SGD with lr = 10", sound, standardised, optimizer(sound, 10.0)))
    raw = mlp([64, 64, 10], nn.ReLU)
    cases.append(("3. raw 0..255 pixels", raw, pixels, optimizer(raw, 0.1)))
    healthy = mlp([64, 64, 10], nn.ReLU, he)
    cases.append(("4. healthy", healthy, standardised, optimizer(healthy, 0.1)))
    for title, model, inputs, opt in cases:
        report = doctor(model, loss_fn, (inputs, y), optimizer=opt, steps=30)
        print(f"=== {title}\n{report}\n")


if __name__ == "__main__":
    main()
