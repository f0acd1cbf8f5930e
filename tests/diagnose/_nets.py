"""Small networks with known pathologies, shared by the diagnose tests."""

from __future__ import annotations

import gradwork as gw
from gradwork import nn


class SGD:
    """Plain SGD (optionally with momentum, to have optimizer state) with torch's interface."""

    def __init__(self, params, lr: float, momentum: float = 0.0) -> None:
        self.param_groups = [{"params": list(params), "lr": lr, "momentum": momentum}]
        self.state: dict = {}

    def zero_grad(self) -> None:
        for p in self.param_groups[0]["params"]:
            p.grad = None

    def step(self) -> None:
        group = self.param_groups[0]
        for p in group["params"]:
            if p.grad is None:
                continue
            velocity = self.state.setdefault(id(p), p.grad.array * 0)
            velocity[...] = group["momentum"] * velocity + p.grad.array
            p.array = p.array - group["lr"] * velocity


def mlp(sizes, activation, std=None) -> nn.Sequential:
    """Linear layers at even indices (0, 2, 4, ...) with `activation` between them."""
    layers = []
    for fan_in, fan_out in zip(sizes, sizes[1:], strict=False):
        linear = nn.Linear(fan_in, fan_out)
        if std is not None:
            nn.init.normal_(linear.weight, std=std)
            nn.init.zeros_(linear.bias)
        layers += [linear, activation()]
    return nn.Sequential(*layers[:-1])


def vanishing_net() -> nn.Sequential:
    """A deep sigmoid MLP with small weights: each layer shrinks the gradient ~100x."""
    return mlp([8] * 9 + [3], nn.Sigmoid, std=0.05)


def exploding_net() -> nn.Sequential:
    """A deep linear net with large weights: gradients grow ~sqrt(width) per layer."""
    return mlp([16] * 9 + [3], nn.Identity, std=1.0)


def healthy_net() -> nn.Sequential:
    return mlp([8, 32, 32, 3], nn.ReLU)


def classification_batch(n: int = 32, features: int = 8, classes: int = 3):
    return gw.randn(n, features), gw.randint(0, classes, (n,))


def step(model, inputs, targets, loss_fn=None, scale: float = 1.0) -> float:
    """One forward/backward (no update), gradients reset first; the loss."""
    model.zero_grad()
    loss = (loss_fn or nn.CrossEntropyLoss())(model(inputs), targets) * scale
    loss.backward()
    return float(loss.item())
