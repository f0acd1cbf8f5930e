"""Recurrent layers `RNN`, `LSTM`, `GRU`: torch's arguments, parameter names and results.

Per layer and direction a forward pass is two graph nodes: the input
projection of every timestep in one GEMM (`ops.Linear`), and one fused op that
runs the recurrence and backpropagates through time by hand
(`ops.RNNSequence`, `ops.LSTMSequence`, `ops.GRUSequence`). The cells
(`LSTMCell`, ...) in `rnn_cell.py` compute the same step from plain primitives.

Backpropagation through time needs nothing special: the loss's graph reaches
back through every step. For truncated BPTT, carry the state across chunks
but cut it from the previous chunk's graph::

    state = None
    for chunk, target in chunks:
        output, state = lstm(chunk, state)
        loss = criterion(head(output), target)
        optimizer.zero_grad(); loss.backward(); optimizer.step()
        state = tuple(s.detach() for s in state)  # (h, c); for RNN/GRU: state.detach()

Forgetting the `detach` makes the next backward run into the freed graph of
the previous chunk; the error then says to detach (see examples/truncated_bptt.py).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradwork import ops, random
from gradwork.functions import cat, stack
from gradwork.nn._errors import LayerInputError
from gradwork.nn.module import Module
from gradwork.nn.parameter import Parameter
from gradwork.nn.utils_rnn import (
    PackedSequence,
    pack_padded_sequence,
    packed_rows,
    pad_packed_sequence,
)
from gradwork.tensor import Tensor

__all__ = ["RNNBase", "RNN", "LSTM", "GRU"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class RNNBase(Module):
    """What RNN, LSTM and GRU share: parameters, input checks, the layer loop.

    `forward(input, hx=None, lengths=None)`: `input` is (steps, batch, input_size),
    (batch, steps, input_size) with batch_first, (steps, input_size) unbatched, or
    a `PackedSequence`. `lengths` (ours, not torch's) gives each sequence's true
    length in a padded batch: the states stop at each sequence's end and the
    output is zero past it, exactly as packing and unpacking would give.
    """

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
    ) -> None:
        super().__init__()
        _check_arguments(type(self).__name__, hidden_size, num_layers, dropout, proj_size)
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, 0
        self._flat_weights_names: list[str] = []
        gates = _GATES[mode] * hidden_size
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * self._directions
            for suffix in self._suffixes(layer):
                shapes = {"weight_ih": (gates, layer_input), "weight_hh": (gates, hidden_size)}
                if bias:
                    shapes.update(bias_ih=(gates,), bias_hh=(gates,))
                for name, shape in shapes.items():
                    setattr(self, name + suffix, Parameter(np.empty(shape, np.float32)))
                    self._flat_weights_names.append(name + suffix)
        self.reset_parameters()

    @property
    def _directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _suffixes(self, layer: int) -> list[str]:
        return [f"_l{layer}", f"_l{layer}_reverse"][: self._directions]

    def reset_parameters(self) -> None:
        """torch's default: every weight and bias uniform(-1/sqrt(hidden), 1/sqrt(hidden))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            draw = random.generator().uniform(-bound, bound, weight.shape)
            weight.array[...] = draw.astype(weight.dtype)

    def flatten_parameters(self) -> None:
        """A no-op kept for torch code (there is no cuDNN weight buffer to compact)."""

    @property
    def all_weights(self) -> list[list[Parameter]]:
        names = self._flat_weights_names
        per_direction = 4 if self.bias else 2
        groups = [names[i : i + per_direction] for i in range(0, len(names), per_direction)]
        return [[getattr(self, name) for name in group] for group in groups]

    # ------------------------------------------------------------------ forward
    def forward(self, input: Any, hx: Any = None, lengths: Any = None) -> tuple:  # noqa: A002
        if lengths is not None:
            if isinstance(input, PackedSequence):
                raise ValueError(
                    f"{type(self).__name__}: pass either a PackedSequence or `lengths`, not both"
                )
            steps = input.shape[1 if self.batch_first else 0]
            packed = pack_padded_sequence(input, lengths, self.batch_first, enforce_sorted=False)
            output, state = self.forward(packed, hx)
            padded, _ = pad_packed_sequence(output, self.batch_first, total_length=steps)
            return padded, state
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        return self._forward_padded(input, hx)

    def _forward_padded(self, input: Tensor, hx: Any) -> tuple:  # noqa: A002
        unbatched = input.ndim == 2
        self._check_input(input)
        x = input.unsqueeze(1) if unbatched else input
        x = x.transpose(0, 1) if self.batch_first and not unbatched else x
        states = self._initial_states(hx, x.shape[1], x.array, unbatched)
        output, finals = self._run_layers(x, states, batch_sizes=None)
        if self.batch_first and not unbatched:
            output = output.transpose(0, 1)
        if unbatched:
            output = output.squeeze(1)
            finals = tuple(f.squeeze(1) for f in finals)
        return output, self._pack_state(finals)

    def _forward_packed(self, packed: PackedSequence, hx: Any) -> tuple:
        self._check_input(packed.data, packed=True)
        batch_sizes = np.asarray(packed.batch_sizes.array, dtype=np.int64)
        steps, batch = len(batch_sizes), int(batch_sizes[0])
        # Run on a padded (steps, batch) layout, sorted longest first.
        padded, _ = pad_packed_sequence(PackedSequence(packed.data, packed.batch_sizes))
        states = self._initial_states(hx, batch, padded.array, unbatched=False)
        if packed.sorted_indices is not None:
            order = np.asarray(packed.sorted_indices.array)
            states = tuple(ops.IndexSelect.apply(s, 1, order) for s in states)
        output, finals = self._run_layers(padded, states, batch_sizes)
        rows = packed_rows(batch_sizes, batch, None)
        flat = output.reshape(steps * batch, output.shape[-1])
        data = ops.IndexSelect.apply(flat, 0, rows)
        if packed.unsorted_indices is not None:
            unsort = np.asarray(packed.unsorted_indices.array)
            finals = tuple(ops.IndexSelect.apply(f, 1, unsort) for f in finals)
        return PackedSequence(data, *packed[1:]), self._pack_state(finals)

    def _run_layers(self, x: Tensor, states: tuple, batch_sizes: Any) -> tuple:
        """All layers and directions over (steps, batch, features); the final states stacked."""
        finals: list[list[Tensor]] = [[] for _ in states]
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                x = _dropout(x, self.dropout)
            outputs = []
            for direction, suffix in enumerate(self._suffixes(layer)):
                index = layer * self._directions + direction
                initial = tuple(s[index] for s in states)
                output, last = self._run_direction(x, suffix, initial, batch_sizes, direction)
                outputs.append(output)
                for kept, state in zip(finals, last, strict=False):
                    kept.append(state)
            x = outputs[0] if len(outputs) == 1 else cat(outputs, dim=-1)
        return x, tuple(stack(kept) for kept in finals)

    def _run_direction(self, x, suffix, initial, batch_sizes, direction) -> tuple:
        """One layer, one direction: the input GEMM for all steps, then the fused recurrence."""
        steps, batch = x.shape[:2]
        weight = getattr(self, "weight_ih" + suffix)
        bias = getattr(self, "bias_ih" + suffix) if self.bias else None
        flat = x.reshape(steps * batch, x.shape[2])
        gates_x = ops.Linear.apply(flat, weight, bias).reshape(steps, batch, weight.shape[0])
        recurrent = (getattr(self, "weight_hh" + suffix),)
        recurrent += (getattr(self, "bias_hh" + suffix) if self.bias else None,)
        options = {"batch_sizes": batch_sizes, "reverse": direction == 1}
        if self.mode == "LSTM":
            packed = ops.LSTMSequence.apply(gates_x, *recurrent, *initial, **options)
            return packed[:steps], (packed[steps], packed[steps + 1])
        if self.mode == "GRU":
            packed = ops.GRUSequence.apply(gates_x, *recurrent, *initial, **options)
        else:
            nonlinearity = "tanh" if self.mode == "RNN_TANH" else "relu"
            packed = ops.RNNSequence.apply(gates_x, *recurrent, *initial, nonlinearity, **options)
        return packed[:steps], (packed[steps],)

    # ------------------------------------------------------------------ states
    def _state_count(self) -> int:
        return 2 if self.mode == "LSTM" else 1

    def _initial_states(self, hx: Any, batch: int, like: Any, unbatched: bool) -> tuple:
        """(h0,) or (h0, c0), each (layers * directions, batch, hidden); zeros if hx is None.

        The zeros take the dtype and the device of `like` (the input's array):
        `np.zeros_like` runs on the GPU for a GPU array.
        """
        shape = (self.num_layers * self._directions, batch, self.hidden_size)
        if hx is None:
            return tuple(
                Tensor(np.zeros_like(like, shape=shape)) for _ in range(self._state_count())
            )
        given = tuple(hx) if self.mode == "LSTM" else (hx,)
        if self.mode == "LSTM" and len(given) != 2:
            raise ValueError("LSTM: hx must be a tuple (h_0, c_0)")
        expected = shape[:1] + shape[2:] if unbatched else shape
        for name, state in zip(("h_0", "c_0"), given, strict=False):
            if tuple(state.shape) != expected:
                raise ValueError(
                    f"{type(self).__name__}: {name} has shape {tuple(state.shape)}, expected "
                    f"{expected} = (num_layers * num_directions, batch, hidden_size)"
                )
        return tuple(s.unsqueeze(1) for s in given) if unbatched else given

    def _pack_state(self, finals: tuple) -> Any:
        return finals if self.mode == "LSTM" else finals[0]

    def _check_input(self, x: Tensor, packed: bool = False) -> None:
        if not packed and x.ndim not in (2, 3):
            raise LayerInputError(
                type(self).__name__,
                "a 3-D (steps, batch, features) or 2-D unbatched input",
                f"shape {tuple(x.shape)}",
                "reshape the input",
                x,
            )
        if x.shape[-1] != self.input_size:
            raise LayerInputError(
                type(self).__name__,
                f"input_size={self.input_size}",
                f"{x.shape[-1]} features (input shape {tuple(x.shape)})",
                f"set input_size={x.shape[-1]}",
                x,
            )

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.mode == "RNN_RELU":
            text += ", nonlinearity='relu'"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text


def _check_arguments(name, hidden_size, num_layers, dropout, proj_size) -> None:
    if proj_size:
        raise ValueError(
            f"{name}: proj_size={proj_size} (LSTM with projections) is not supported; use "
            f"proj_size=0 and, if needed, a Linear layer on the output"
        )
    if hidden_size <= 0 or num_layers <= 0:
        raise ValueError(
            f"{name}: hidden_size and num_layers must be positive, got hidden_size="
            f"{hidden_size}, num_layers={num_layers}"
        )
    if not 0.0 <= dropout <= 1.0:
        raise ValueError(f"{name}: dropout must be a probability in [0, 1], got {dropout}")


def _dropout(x: Tensor, p: float) -> Tensor:
    """Inverted dropout between layers, from gradwork's random stream.

    Drawn on the host (the same mask on every device for a seed), then copied to x's.
    """
    keep = random.generator().random(x.shape) >= p
    scale = 0.0 if p >= 1 else 1.0 / (1.0 - p)
    return x * Tensor((keep * scale).astype(x.dtype)).to(x.device)


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu).

    Args:
        input_size, hidden_size: feature sizes.
        num_layers: stacked layers. nonlinearity: 'tanh' or 'relu'.
        bias: use b_ih and b_hh. batch_first: input (batch, steps, features).
        dropout: on the outputs of every layer but the last, in training.
        bidirectional: run a second layer backwards in time and concatenate.

    Shape:
        input (steps, batch, input_size); returns (output, h_n), output
        (steps, batch, directions * hidden_size), h_n (layers * directions, batch, hidden).

    Example:
        >>> import gradwork as gw
        >>> rnn = gw.nn.RNN(4, 8, num_layers=2)
        >>> output, h_n = rnn(gw.randn(5, 3, 4))
        >>> output.shape, h_n.shape
        ((5, 3, 8), (2, 3, 8))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(
            mode, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional
        )
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory, torch's gate order i, f, g, o.

    i, f, g, o = split(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh);
    c_t = sigmoid(f) c_{t-1} + sigmoid(i) tanh(g); h_t = sigmoid(o) tanh(c_t).
    Arguments as `RNN` (no nonlinearity); `proj_size` must be 0.

    Shape:
        returns (output, (h_n, c_n)).

    Example:
        >>> import gradwork as gw
        >>> lstm = gw.nn.LSTM(4, 8, batch_first=True, bidirectional=True)
        >>> output, (h_n, c_n) = lstm(gw.randn(3, 5, 4))
        >>> output.shape, h_n.shape, c_n.shape
        ((3, 5, 16), (2, 3, 8), (2, 3, 8))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
    ) -> None:
        super().__init__(
            "LSTM",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
        )


class GRU(RNNBase):
    """Gated recurrent unit, torch's gate order r, z, n and formula.

    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr), z likewise,
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h_t = (1 - z) n + z h_{t-1}.
    Arguments as `RNN` (no nonlinearity).

    Example:
        >>> import gradwork as gw
        >>> gru = gw.nn.GRU(4, 8)
        >>> output, h_n = gru(gw.randn(5, 4))  # unbatched
        >>> output.shape, h_n.shape
        ((5, 8), (1, 8))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
    ) -> None:
        super().__init__(
            "GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional
        )
