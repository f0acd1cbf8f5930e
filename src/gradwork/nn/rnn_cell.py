"""One-step recurrent cells `RNNCell`, `LSTMCell`, `GRUCell`, composed from primitives.

They are the readable form of the recurrences: each step is a few `Linear`,
`sigmoid`, `tanh` and arithmetic nodes, and autograd derives their backward.
The sequence layers (`nn.LSTM`, ...) run the same math fused over all steps;
the tests check one against the other. Use a cell to write a custom loop
(attention, scheduled sampling), a layer for speed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradwork import ops, random
from gradwork.creation import zeros
from gradwork.nn._errors import LayerInputError
from gradwork.nn.module import Module
from gradwork.nn.parameter import Parameter
from gradwork.tensor import Tensor

__all__ = ["RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


class RNNCellBase(Module):
    """Parameters weight_ih (gates * hidden, input), weight_hh, bias_ih, bias_hh, as torch."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, gates: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.weight_ih = Parameter(np.empty((gates * hidden_size, input_size), np.float32))
        self.weight_hh = Parameter(np.empty((gates * hidden_size, hidden_size), np.float32))
        if bias:
            self.bias_ih = Parameter(np.empty(gates * hidden_size, np.float32))
            self.bias_hh = Parameter(np.empty(gates * hidden_size, np.float32))
        else:
            self.bias_ih = self.bias_hh = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's default: uniform(-1/sqrt(hidden), 1/sqrt(hidden)) for every parameter."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            draw = random.generator().uniform(-bound, bound, weight.shape)
            weight.array[...] = draw.astype(weight.dtype)

    def _projections(self, input: Tensor, hx: Tensor) -> tuple[Tensor, Tensor]:  # noqa: A002
        """x W_ih^T + b_ih and h W_hh^T + b_hh."""
        return (
            ops.Linear.apply(input, self.weight_ih, self.bias_ih),
            ops.Linear.apply(hx, self.weight_hh, self.bias_hh),
        )

    def _prepare(self, input: Tensor, hx: Any, count: int) -> tuple:  # noqa: A002
        """(batched input, states, unbatched?): zeros for missing states, 1-D inputs lifted."""
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise LayerInputError(
                type(self).__name__,
                f"input (batch, {self.input_size}) or ({self.input_size},)",
                f"shape {tuple(input.shape)}",
                f"set input_size={input.shape[-1]}",
                input,
            )
        unbatched = input.ndim == 1
        if unbatched:
            input = input.unsqueeze(0)  # noqa: A001
        if hx is None:
            shape = (input.shape[0], self.hidden_size)
            states = tuple(
                zeros(*shape, dtype=input.dtype, device=input.device) for _ in range(count)
            )
        else:
            states = tuple(hx) if count == 2 else (hx,)
            states = tuple(s.unsqueeze(0) for s in states) if unbatched else states
        return input, states, unbatched

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            text += ", bias=False"
        nonlinearity = getattr(self, "nonlinearity", "tanh")
        return text + (f", nonlinearity={nonlinearity!r}" if nonlinearity != "tanh" else "")


class RNNCell(RNNCellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu).

    Example:
        >>> import gradwork as gw
        >>> cell = gw.nn.RNNCell(4, 8)
        >>> cell(gw.randn(3, 4)).shape
        (3, 8)
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh"
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}"
            )
        super().__init__(input_size, hidden_size, bias, gates=1)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        input, (h,), unbatched = self._prepare(input, hx, 1)  # noqa: A001
        from_input, from_hidden = self._projections(input, h)
        pre = from_input + from_hidden
        h = pre.tanh() if self.nonlinearity == "tanh" else pre.relu()
        return h.squeeze(0) if unbatched else h


class LSTMCell(RNNCellBase):
    """One LSTM step; returns (h', c'). Gates i, f, g, o as `nn.LSTM`.

    Example:
        >>> import gradwork as gw
        >>> cell = gw.nn.LSTMCell(4, 8)
        >>> h, c = cell(gw.randn(3, 4))
        >>> h.shape, c.shape
        ((3, 8), (3, 8))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size, bias, gates=4)

    def forward(self, input: Tensor, hx: Any = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        input, (h, c), unbatched = self._prepare(input, hx, 2)  # noqa: A001
        from_input, from_hidden = self._projections(input, h)
        i, f, g, o = (from_input + from_hidden).chunk(4, dim=1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h = o.sigmoid() * c.tanh()
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(RNNCellBase):
    """One GRU step, torch's formula n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).

    Example:
        >>> import gradwork as gw
        >>> cell = gw.nn.GRUCell(4, 8)
        >>> cell(gw.randn(4)).shape
        (8,)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size, bias, gates=3)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        input, (h,), unbatched = self._prepare(input, hx, 1)  # noqa: A001
        from_input, from_hidden = self._projections(input, h)
        input_r, input_z, input_n = from_input.chunk(3, dim=1)
        hidden_r, hidden_z, hidden_n = from_hidden.chunk(3, dim=1)
        r = (input_r + hidden_r).sigmoid()
        z = (input_z + hidden_z).sigmoid()
        n = (input_n + r * hidden_n).tanh()
        h = (1 - z) * n + z * h
        return h.squeeze(0) if unbatched else h
