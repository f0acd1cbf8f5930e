"""RNN, LSTM and GRU modules as ONNX's own RNN/LSTM/GRU nodes, one node per layer.

torch's gate order differs from ONNX's: LSTM rows are (i, f, g, o) in torch and
(i, o, f, c) in ONNX; GRU rows are (r, z, n) in torch and (z, r, h) in ONNX,
whose `linear_before_reset=1` is torch's GRU. `lengths=` becomes the node's
`sequence_lens`, which stops each sequence's state at its end and zeroes the
output past it, as gradwork does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradwork import _arrays, nn
from gradwork.onnx._graph import Call, Graph

# ONNX row blocks, as indices of torch's blocks
_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN_TANH": [0], "RNN_RELU": [0]}
_OP = {"LSTM": "LSTM", "GRU": "GRU", "RNN_TANH": "RNN", "RNN_RELU": "RNN"}


def _reorder(array: np.ndarray, mode: str) -> np.ndarray:
    blocks = np.split(np.asarray(_arrays.to_host(array)), len(_ORDER[mode]), axis=0)
    return np.concatenate([blocks[i] for i in _ORDER[mode]], axis=0)


def _layer_weights(g: Graph, module: Any, layer: int) -> list[str]:
    """W, R and B of one layer, every direction stacked, in ONNX's gate order."""
    mode, suffixes = module.mode, module._suffixes(layer)
    w, r, b = [], [], []
    for suffix in suffixes:
        weight_ih = getattr(module, "weight_ih" + suffix).array
        weight_hh = getattr(module, "weight_hh" + suffix).array
        w.append(_reorder(weight_ih, mode))
        r.append(_reorder(weight_hh, mode))
        if module.bias:
            biases = [getattr(module, name + suffix).array for name in ("bias_ih", "bias_hh")]
        else:
            biases = [np.zeros(weight_ih.shape[0], weight_ih.dtype)] * 2
        b.append(np.concatenate([_reorder(bias, mode) for bias in biases]))
    hint = f"{g.where_module or 'rnn'}.l{layer}"
    return [g.const(np.stack(w), hint=f"{hint}.W"), g.const(np.stack(r), hint=f"{hint}.R"),
            g.const(np.stack(b), hint=f"{hint}.B")]  # fmt: skip


def recurrent(g: Graph, c: Call, out: Any) -> list[str]:
    """The module's (output, h_n) or (output, (h_n, c_n)), flattened in that order."""
    module = c.record.target
    if c.first.get("lengths") is None and not hasattr(c.first["input"], "array"):
        raise g.fail("a PackedSequence input can't be exported; pass a padded batch and lengths=")
    x = c.name("input")
    unbatched = c.array("input").ndim == 2
    if unbatched:
        x = g.node("Unsqueeze", [x, g.ints([1])])
    elif module.batch_first:
        x = g.node("Transpose", [x], perm=[1, 0, 2])
    states = _initial_states(g, c, module, unbatched)
    lengths = c.name("lengths", np.int32) if c.first.get("lengths") is not None else ""
    directions = 2 if module.bidirectional else 1
    finals: list[list[str]] = [[] for _ in range(2 if module.mode == "LSTM" else 1)]
    for layer in range(module.num_layers):
        initial = [
            g.node("Slice", [s, g.ints([layer * directions]), g.ints([(layer + 1) * directions]),
                             g.ints([0])]) if s else ""
            for s in states
        ]  # fmt: skip
        y, *last = _layer_node(g, module, layer, x, lengths, initial)
        for kept, state in zip(finals, last, strict=True):
            kept.append(state)
        y = g.node("Transpose", [y], perm=[0, 2, 1, 3])  # (steps, batch, directions, hidden)
        x = g.node("Reshape", [y, g.ints([0, 0, directions * module.hidden_size])])
    states_out = [k[0] if len(k) == 1 else g.node("Concat", k, axis=0) for k in finals]
    if unbatched:
        x = g.node("Squeeze", [x, g.ints([1])])
        states_out = [g.node("Squeeze", [s, g.ints([1])]) for s in states_out]
    elif module.batch_first:
        x = g.node("Transpose", [x], perm=[1, 0, 2])
    return [x, *states_out]


def _initial_states(g: Graph, c: Call, module: Any, unbatched: bool) -> list[str]:
    count = 2 if module.mode == "LSTM" else 1
    hx, hx2 = c.both("hx")
    if hx is None:
        return [""] * count
    pairs = list(zip(hx, hx2, strict=True)) if count == 2 else [(hx, hx2)]
    names = [g.value(a, b) for a, b in pairs]
    if unbatched:
        names = [g.node("Unsqueeze", [n, g.ints([1])]) for n in names]
    return names


def _layer_node(g: Graph, module: Any, layer: int, x: str, lengths: str, initial: list) -> list:
    mode = module.mode
    inputs = [x, *_layer_weights(g, module, layer), lengths, *initial]
    while inputs[-1] == "":
        inputs.pop()
    attributes: dict[str, Any] = {
        "hidden_size": module.hidden_size,
        "direction": "bidirectional" if module.bidirectional else "forward",
    }
    if mode == "GRU":
        attributes["linear_before_reset"] = 1
    if mode.startswith("RNN"):
        activation = "Tanh" if mode == "RNN_TANH" else "Relu"
        attributes["activations"] = [activation] * (2 if module.bidirectional else 1)
    outputs = 3 if mode == "LSTM" else 2
    return g.node(_OP[mode], inputs, outputs, **attributes)


MODULES = {nn.RNN: recurrent, nn.LSTM: recurrent, nn.GRU: recurrent}
