"""gradwork.onnx: export a model to ONNX, to run it in ONNX Runtime and everything else.

`export(model, args, f, ...)` has torch.onnx.export's signature. How it works:

* **Trace at the op level.** The model runs once (in eval mode) while every
  primitive op (`Function.apply`: Add, Conv2d, Reshape, GetItem, ...) is
  recorded with its arguments. Tracing ops rather than walking the module tree
  covers what a module tree can't show: a user `forward` that mixes layers
  with tensor methods (`x + self.shortcut(x)`, `out[:, -1]`, `x.reshape(...)`,
  `torch.cat`), and the functional calls of torch-style code (`F.relu`,
  `F.max_pool2d`). Each op maps to ONNX nodes through a registry
  (`_ops.OPS`: Function class -> emitter).
* **Some calls export whole.** Activations, dropout and embedding
  (`_functional.FUNCTIONS`) become one ONNX node each, instead of the
  primitives they are built from (some of which compute masks on raw arrays
  that an op-level trace can't follow); RNN, LSTM and GRU modules become
  ONNX's own RNN/LSTM/GRU nodes (`_recurrent.MODULES`). Attention
  (`F.scaled_dot_product_attention`, MultiheadAttention, the Transformer
  layers) traces through its ops, bool padding masks included.
* **A second trace finds what is dynamic.** The model runs again on other
  data, with the `dynamic_axes` of the inputs resized. A shape argument that
  changed (the batch in `x.reshape(x.shape[0], -1)`) is read from the input at
  run time; a constant that changed (a mask computed with NumPy, a random
  draw) stops the export with an error instead of being baked in; control
  flow that changed (a loop over the sequence length) is reported.

Weights are initializers named by their state-dict names; the file is
checked with `onnx.checker` (full check, with shape inference). Needs the
`onnx` package: `pip install "gradwork[onnx]"` (from a clone:
`pip install -e ".[onnx]"`), plus `onnxruntime` to run the file.

Example:
    >>> import gradwork as gw
    >>> model = gw.nn.Sequential(gw.nn.Linear(4, 8), gw.nn.ReLU(), gw.nn.Linear(8, 2))
    >>> gw.onnx.export(model, gw.randn(3, 4), "model.onnx", input_names=["x"],
    ...                output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    ... # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from gradwork.onnx._errors import ExportError, UnsupportedOperatorError
from gradwork.tensor import Tensor

__all__ = ["export", "ExportError", "UnsupportedOperatorError", "OPSET_VERSIONS"]

OPSET_VERSIONS = range(17, 22)  # the opsets the emitters are written for
DEFAULT_OPSET = 17


def _require_onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ImportError(
            "gradwork.onnx.export needs the 'onnx' package: pip install \"gradwork[onnx]\" "
            '(from a clone of gradwork: pip install -e ".[onnx]"); install onnxruntime too '
            "to run the exported file"
        ) from None
    return onnx


def export(
    model: Any,
    args: Any,
    f: str | os.PathLike | Any,
    input_names: list[str] | None = None,
    output_names: list[str] | None = None,
    dynamic_axes: dict | None = None,
    opset_version: int | None = None,
    **torch_options: Any,
) -> None:
    """Write `model` as an ONNX file that gives `model(*args)`'s outputs in ONNX Runtime.

    Args:
        model: a `gradwork.nn.Module` (run in eval mode during the export; its
            training flags are restored afterwards).
        args: the example input: a Tensor, or a tuple of positional arguments
            (a dict as the last item gives keyword arguments), as in torch.
        f: a path or a binary file object.
        input_names: names of the graph inputs, one per Tensor in `args`
            (default `input` or `input_0, input_1, ...`).
        output_names: names of the graph outputs, in the order the model
            returns its tensors (tuples are flattened).
        dynamic_axes: `{name: [axis, ...]}` or `{name: {axis: "dim_name"}}`
            for the inputs and outputs whose sizes may change (batch, sequence).
        opset_version: 17 to 21 (default 17).
        torch_options: torch's `export_params`, `verbose`, `training`,
            `do_constant_folding`, ... are accepted; weights are always exported.

    Raises:
        ImportError: the onnx package is not installed.
        UnsupportedOperatorError: an op has no ONNX mapping (the message names
            the op and the module path).
        ExportError: the model can't be exported as asked (data-dependent
            values or control flow, a shape that can't follow a dynamic axis).
    """
    onnx = _require_onnx()
    from gradwork.onnx import _export

    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    if opset not in OPSET_VERSIONS:
        raise ValueError(
            f"gradwork.onnx.export: opset_version={opset_version} is not supported; use one "
            f"of {OPSET_VERSIONS.start}..{OPSET_VERSIONS.stop - 1} (default {DEFAULT_OPSET})"
        )
    positional, keywords = _split_args(args)
    proto = _export.to_proto(
        model, positional, keywords, input_names, output_names, dynamic_axes or {}, opset
    )
    onnx.checker.check_model(proto, full_check=True)
    if isinstance(f, str | os.PathLike):
        onnx.save(proto, os.fspath(f))
    else:
        f.write(proto.SerializeToString())


def _split_args(args: Any) -> tuple[tuple, dict]:
    if isinstance(args, Tensor | np.ndarray):
        return (args,), {}
    if isinstance(args, list):
        args = tuple(args)
    if not isinstance(args, tuple):
        raise TypeError(
            f"gradwork.onnx.export: args must be a Tensor or a tuple of arguments, got "
            f"{type(args).__name__}"
        )
    if args and isinstance(args[-1], dict):
        return args[:-1], dict(args[-1])
    return args, {}
