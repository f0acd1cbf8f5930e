"""Named architectures for the command line and quick experiments: mlp, cnn, resnet-small,
transformer-lm.

Each builder takes the shape of one input sample and the number of outputs, so
the same name works on 2-D points, 8x8 digits and 28x28 MNIST.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from gradwork import nn
from gradwork.train.language_model import TransformerLM


def mlp(
    input_shape: Sequence[int],
    outputs: int,
    hidden: Sequence[int] = (64,),
    activation: str = "ReLU",
    dropout: float = 0.0,
) -> nn.Module:
    """Flatten, then Linear + activation (+ dropout) per hidden size, then Linear.

    Example:
        >>> mlp((2,), 3, hidden=[8])
        Sequential(
          (0): Flatten(start_dim=1, end_dim=-1)
          (1): Linear(in_features=2, out_features=8, bias=True)
          (2): ReLU()
          (3): Linear(in_features=8, out_features=3, bias=True)
        )
    """
    return nn.Sequential(*_mlp_layers(input_shape, outputs, hidden, activation, dropout))


def _mlp_layers(input_shape, outputs, hidden, activation, dropout) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Flatten()]
    width = math.prod(input_shape)
    for size in hidden:
        layers += [nn.Linear(width, size), _activation(activation)]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = size
    layers.append(nn.Linear(width, outputs))
    return layers


def cnn(
    input_shape: Sequence[int],
    outputs: int,
    channels: Sequence[int] = (16, 32),
    hidden: Sequence[int] = (64,),
    activation: str = "ReLU",
    dropout: float = 0.0,
) -> nn.Module:
    """3x3 convolutions (padding 1) with max-pooling, then an MLP head.

    NOTE: a block is pooled while the image is at least 16 pixels wide, and the
    last block always (if at least 4 wide): 8x8 digits keep their resolution
    through the first block, 28x28 MNIST is halved twice.
    """
    in_channels, size = _image_shape(input_shape, "cnn")
    layers: list[nn.Module] = []
    for index, width in enumerate(channels):
        layers += [nn.Conv2d(in_channels, width, 3, padding=1), _activation(activation)]
        last = index == len(channels) - 1
        if size >= 16 or (last and size >= 4):
            layers.append(nn.MaxPool2d(2))
            size //= 2
        in_channels = width
    head = _mlp_layers((in_channels, size, size), outputs, hidden, activation, dropout)
    return nn.Sequential(*layers, *head)


class ResidualBlock(nn.Module):
    """relu(x + bn(conv(relu(bn(conv(x)))))) with 3x3 convolutions at constant width."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        inner = self.bn1(self.conv1(x)).relu()
        return (x + self.bn2(self.conv2(inner))).relu()


def resnet_small(
    input_shape: Sequence[int], outputs: int, channels: Sequence[int] = (16, 32), blocks: int = 2
) -> nn.Module:
    """A stem convolution, `blocks` residual blocks per width (1x1 conv between widths),
    global average pooling and a linear classifier."""
    in_channels, _ = _image_shape(input_shape, "resnet-small")
    layers: list[nn.Module] = []
    for width in channels:
        layers += [
            nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
        ]
        layers += [ResidualBlock(width) for _ in range(blocks)]
        in_channels = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(in_channels, outputs)]
    return nn.Sequential(*layers)


def transformer_lm(
    input_shape: Sequence[int],
    outputs: int,
    d_model: int = 64,
    nhead: int = 4,
    num_layers: int = 2,
    block_size: int | None = None,
    dim_feedforward: int = 256,
    dropout: float = 0.1,
) -> nn.Module:
    """A decoder-only Transformer LM (`TransformerLM`): `outputs` is the vocabulary size.

    The samples are (block_size,) windows of ids, so block_size defaults to
    input_shape[0]; the model returns next-token logits (batch, seq, outputs).

    Example:
        >>> transformer_lm((16,), 30, d_model=16, nhead=2, num_layers=1).block_size
        16
    """
    if len(input_shape) != 1:
        raise ValueError(
            f"architecture 'transformer-lm' needs samples that are sequences of token ids, of "
            f"shape (block_size,), got {tuple(input_shape)}; use data.name = 'text'"
        )
    return TransformerLM(outputs, d_model, nhead, num_layers, block_size or int(input_shape[0]),
                         dim_feedforward, dropout)  # fmt: skip


ARCHITECTURES = {
    "mlp": mlp,
    "cnn": cnn,
    "resnet-small": resnet_small,
    "transformer-lm": transformer_lm,
}


def _activation(name: str) -> nn.Module:
    activation = getattr(nn, name, None)
    if not isinstance(activation, type) or not issubclass(activation, nn.Module):
        raise ValueError(f"architectures: unknown activation {name!r}; use e.g. 'ReLU', 'Tanh'")
    return activation()


def _image_shape(input_shape: Sequence[int], name: str) -> tuple[int, int]:
    if len(input_shape) != 3:
        raise ValueError(
            f"architecture {name!r} needs image inputs of shape (channels, height, width), got "
            f"samples of shape {tuple(input_shape)}; use 'mlp' for vectors"
        )
    return int(input_shape[0]), int(min(input_shape[1:]))
