"""`summary(model, input_shape)`: a table of layers, output shapes, parameters and mult-adds.

It runs one forward pass on zeros (in eval mode, without a graph, the
model's flags restored afterwards) with forward hooks on every module. If a
layer rejects its input, the table shows every layer that ran, and the
error line names the first module whose input did not fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from typing import Any

import numpy as np

from gradwork import dtypes
from gradwork.autograd import no_grad
from gradwork.tensor import Tensor


@dataclass
class Row:
    path: str
    kind: str
    output_shape: Any
    trainable: int
    non_trainable: int
    mult_adds: int
    depth: int


@dataclass
class Summary:
    """The result of `summary`: `rows`, totals, and `error` (None when the forward worked)."""

    model: str
    input_shape: tuple
    rows: list[Row] = field(default_factory=list)
    trainable: int = 0
    non_trainable: int = 0
    error: str | None = None
    failed_module: str | None = None

    @property
    def total_parameters(self) -> int:
        return self.trainable + self.non_trainable

    @property
    def total_mult_adds(self) -> int:
        return sum(row.mult_adds for row in self.rows)

    def __str__(self) -> str:
        header = ("Layer (path)", "Type", "Output shape", "Trainable", "Non-trainable", "Mult-adds")
        lines = [
            (("  " * row.depth) + row.path, row.kind, _shape_text(row.output_shape),
             f"{row.trainable:,}", f"{row.non_trainable:,}", f"{row.mult_adds:,}")
            for row in self.rows
        ]  # fmt: skip
        widths = [max(len(str(c)) for c in column) for column in zip(header, *lines, strict=False)]
        rule = "-" * (sum(widths) + 2 * (len(widths) - 1))

        def render(cells):
            return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=False)).rstrip()

        text = [f"{self.model} summary for input {self.input_shape}", rule, render(header), rule]
        text += [render(cells) for cells in lines]
        text += [
            rule,
            f"Total parameters: {self.total_parameters:,}",
            f"Trainable parameters: {self.trainable:,}",
            f"Non-trainable parameters: {self.non_trainable:,}",
            f"Total mult-adds: {self.total_mult_adds:,}",
        ]
        if self.error is not None:
            text.append(f"ERROR at `{self.failed_module}`: {self.error}")
        return "\n".join(text)

    __repr__ = __str__


def _shape_text(shape: Any) -> str:
    if isinstance(shape, tuple) and all(isinstance(n, int) for n in shape):
        return "[" + ", ".join(str(n) for n in shape) + "]"
    return str(shape)


def _output_shape(output: Any) -> Any:
    if isinstance(output, Tensor):
        return tuple(output.shape)
    if isinstance(output, tuple | list):
        return [_output_shape(item) for item in output]
    return type(output).__name__


def _counts(module: Any) -> tuple[int, int]:
    trainable = non_trainable = 0
    for parameter in module.parameters(recurse=False):
        if parameter.requires_grad:
            trainable += parameter.numel()
        else:
            non_trainable += parameter.numel()
    return trainable, non_trainable


def mult_adds(module: Any, inputs: tuple, output: Any) -> int:
    """Multiply-accumulate count of one call of a Linear or convolution layer (else 0)."""
    kind = type(module).__name__
    if kind == "MultiheadAttention" and len(inputs) >= 3:
        return _attention_mult_adds(module, *inputs[:3])
    if not isinstance(output, Tensor):
        return 0
    if kind in ("Linear", "NonDynamicallyQuantizableLinear"):
        return module.in_features * output.numel()
    if kind in ("Conv1d", "Conv2d"):
        per_output = module.in_channels // module.groups * prod(module.kernel_size)
        return per_output * output.numel()
    if kind == "ConvTranspose2d" and inputs and isinstance(inputs[0], Tensor):
        per_input = module.out_channels // module.groups * prod(module.kernel_size)
        return per_input * inputs[0].numel()
    return 0


def _attention_mult_adds(module: Any, query: Tensor, key: Tensor, value: Tensor) -> int:
    """MultiheadAttention: the q/k/v and output projections plus the two attention products."""
    width = module.embed_dim
    queries, keys = query.numel() // query.shape[-1], key.numel() // key.shape[-1]
    source = key.shape[1] if module.batch_first and key.ndim == 3 else key.shape[0]
    projections = queries * width * (2 * width) + keys * width * (module.kdim + module.vdim)
    return projections + 2 * queries * source * width


def summary(model: Any, input_shape: Any, dtype: Any = None) -> Summary:
    """Run `model` on zeros of `input_shape` (batch included) and tabulate its layers.

    Args:
        model: an nn.Module.
        input_shape: the full input shape, batch first, e.g. (1, 1, 28, 28); a list of
            shapes for a model of several inputs (MultiheadAttention, Transformer).
        dtype: the input's dtype (default: the model's first parameter's, else float32).

    Returns:
        A `Summary`; print it for the table. If a layer raised, `error` and
        `failed_module` say where, and the table holds the layers that ran.

    Example:
        >>> import gradwork as gw
        >>> model = gw.nn.Sequential(gw.nn.Flatten(), gw.nn.Linear(4, 2))
        >>> table = gw.nn.summary(model, (1, 2, 2))
        >>> table.rows[1].output_shape, table.total_parameters
        ((1, 2), 10)
    """
    several = len(input_shape) > 0 and hasattr(input_shape[0], "__len__")  # shapes, not sizes
    shapes = [tuple(int(n) for n in s) for s in (input_shape if several else [input_shape])]
    shape = tuple(shapes) if several else shapes[0]
    names = {id(module): name for name, module in model.named_modules()}
    first = next(iter(model.parameters()), None)
    dtype = dtypes.as_dtype(dtype) if dtype is not None else (
        first.dtype if first is not None else dtypes.float32)  # fmt: skip
    result = Summary(type(model).__name__, shape)
    # NOTE: totals count each Parameter once: a tied weight (head.weight = emb.weight)
    # appears in two rows of the table but is one set of numbers to train.
    unique = list(model.parameters())
    result.trainable = sum(p.numel() for p in unique if p.requires_grad)
    result.non_trainable = sum(p.numel() for p in unique if not p.requires_grad)
    entered: list[Any] = []
    handles = []
    for module in model.modules():
        if module is model:
            continue
        handles.append(module.register_forward_pre_hook(lambda m, args: entered.append(m)))
        handles.append(module.register_forward_hook(_recorder(result, names, entered)))
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        with no_grad():
            device = next((p.device for p in model.parameters()), None)  # the model's device
            model(*(Tensor(np.zeros(s, dtype=dtype)).to(device) for s in shapes))
    except Exception as error:  # noqa: BLE001 - reported in the table, not raised
        result.error = f"{type(error).__name__}: {error}"
        result.failed_module = names.get(id(entered[-1]), "?") if entered else "(model)"
    finally:
        for handle in handles:
            handle.remove()
        for module, mode in modes:
            object.__setattr__(module, "training", mode)
    return result


def _recorder(result: Summary, names: dict, entered: list) -> Any:
    def record(module: Any, inputs: tuple, output: Any) -> None:
        entered.pop()
        trainable, non_trainable = _counts(module)
        leaf = not module._modules
        if not leaf and not trainable and not non_trainable:
            return  # a container: its children have rows of their own
        path = names.get(id(module), "?")
        result.rows.append(Row(path, type(module).__name__, _output_shape(output), trainable,
                               non_trainable, mult_adds(module, inputs, output),
                               path.count(".")))  # fmt: skip

    return record
