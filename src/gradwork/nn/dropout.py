"""Dropout layers (inverted dropout: identity at evaluation time)."""

from __future__ import annotations

from gradwork.nn import functional as F
from gradwork.nn.module import Module
from gradwork.tensor import Tensor


class Dropout(Module):
    """Zero elements with probability p while training, scaling the rest by 1 / (1 - p).

    Example:
        >>> import gradwork as gw
        >>> layer = gw.nn.Dropout(0.5).eval()
        >>> layer(gw.ones(3))
        tensor([1., 1., 1.])
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(
                f"{type(self).__name__}: dropout probability has to be between 0 and 1, but got {p}"
            )
        self.p, self.inplace = p, inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout):
    """Zero whole channels (feature maps) with probability p: for (N, C, H, W) input."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.dropout2d(input, self.p, self.training, self.inplace)
