"""From a model and example inputs to an ONNX ModelProto: two traces, then one pass of emitters."""

from __future__ import annotations

import inspect
import re
from typing import Any

import numpy as np

try:
    from onnx import helper
except ImportError:  # export() says how to install it; without it the module still imports
    helper = None

from gradwork import _arrays
from gradwork.nn.module import Module
from gradwork.onnx._errors import ExportError, UnsupportedOperatorError
from gradwork.onnx._functional import FUNCTIONS
from gradwork.onnx._graph import Call, Graph, onnx_type
from gradwork.onnx._movement import OPS  # (the registry, with the movement emitters added)
from gradwork.onnx._recurrent import MODULES
from gradwork.onnx._trace import trace
from gradwork.tensor import Tensor

IR_VERSION = 10  # what opsets 17..21 need, and what every ONNX Runtime since 1.17 reads


def to_proto(model: Any, args: tuple, kwargs: dict, input_names: Any, output_names: Any,
             dynamic_axes: dict, opset: int) -> Any:  # fmt: skip
    """The checked-in-memory model: traced twice, emitted once."""
    if not isinstance(model, Module):
        raise TypeError(f"gradwork.onnx.export: model must be a gradwork.nn.Module, got {model!r}")
    # keyword tensors are graph inputs too, after the positional ones (as in torch)
    values = tuple(Tensor(a) if isinstance(a, np.ndarray) else a for a in (*args, *kwargs.values()))
    tensors = [a for a in values if isinstance(a, Tensor)]
    keywords = [k for k, v in kwargs.items() if isinstance(v, Tensor | np.ndarray)]
    names = _input_names(input_names, len(tensors), keywords)
    axes = _axes(dynamic_axes, names, output_names, tensors)
    named = {
        str(d) for spec in dynamic_axes.values() if isinstance(spec, dict) for d in spec.values()
    }
    first = _copies(values, {})
    second = _copies(values, _resized(tensors, names, axes, named), other_data=True)
    count = len(args)
    first_kwargs, second_kwargs = (
        dict(zip(kwargs, v[count:], strict=True)) for v in (first, second)
    )
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    whole = tuple(MODULES)
    try:
        # (the third item keeps every traced object alive, so no id is reused while building)
        records, output, _alive = trace(model, first[:count], first_kwargs, whole)
        records2, output2, _alive2 = trace(model, second[:count], second_kwargs, whole)
        return _build(model, (first, records, output), (second, records2, output2), names,
                      output_names, axes, opset)  # fmt: skip
    finally:
        for module, mode in modes:
            module.training = mode


def _input_names(names: Any, count: int, keywords: list) -> list[str]:
    positional = count - len(keywords)
    default = ["input"] if positional == 1 else [f"input_{i}" for i in range(positional)]
    default += keywords
    if names is None:
        return default
    names = list(names)
    if len(names) > count:
        raise ValueError(
            f"gradwork.onnx.export: {len(names)} input_names for {count} tensor inputs: {names}"
        )
    return names + default[len(names) :]


def _axes(dynamic_axes: dict, inputs: list, outputs: Any, tensors: list) -> dict:
    """{name: {axis: dim name}} for every name in dynamic_axes, checked."""
    known = set(inputs) | set(outputs or [])
    result = {}
    for name, spec in dynamic_axes.items():
        default_output = re.fullmatch(r"output(_\d+)?", str(name)) is not None
        if name not in known and not (default_output and outputs is None):
            raise ValueError(
                f"gradwork.onnx.export: dynamic_axes names {name!r}, which is not an input or "
                f"output name; input_names={inputs}, output_names={list(outputs or [])}"
            )
        if isinstance(spec, dict):
            result[name] = {int(axis): str(dim) for axis, dim in spec.items()}
        else:
            result[name] = {
                int(axis): f"{name}_dynamic_axes_{i + 1}" for i, axis in enumerate(spec)
            }
    for name, tensor in zip(inputs, tensors, strict=False):
        for axis in result.get(name, {}):
            if not -tensor.ndim <= axis < tensor.ndim:
                raise ValueError(
                    f"gradwork.onnx.export: dynamic axis {axis} of input {name!r} is out of "
                    f"range for its shape {tuple(tensor.shape)}"
                )
        result[name] = {axis % tensor.ndim: dim for axis, dim in result.get(name, {}).items()}
    return result


def _resized(tensors: list, names: list, axes: dict, named: set) -> dict:
    """{(input index, axis): size in the second trace}.

    Axes that are one dimension grow together: axes with the same dim name when
    dynamic_axes names them (`{0: "batch"}`), else axes of the same size (the
    batch of the input and of the initial state). Each dimension grows by a
    different amount, so every (first, second) pair of sizes names one of them.
    """
    sizes, growth, named_sizes = {}, {}, {}
    dims = [
        (index, axis, dim, tensor.shape[axis])
        for index, (tensor, name) in enumerate(zip(tensors, names, strict=False))
        for axis, dim in sorted(axes.get(name, {}).items())
    ]
    for _, _, dim, size in dims:
        if dim in named:
            named_sizes.setdefault(size, dim)
    for index, axis, dim, size in dims:
        key = dim if dim in named else named_sizes.get(size, size)
        growth.setdefault(key, len(growth) + 1)
        sizes[(index, axis)] = size + growth[key]
    return sizes


def _copies(args: tuple, sizes: dict, other_data: bool = False) -> tuple:
    """The arguments for one trace: fresh tensors (float ones require grad, so in-place
    changes are recorded), resized on the dynamic axes and with other values if asked."""
    rng = np.random.default_rng(0)
    result, index = [], 0
    for arg in args:
        if not isinstance(arg, Tensor):
            result.append(arg)
            continue
        array = np.array(_arrays.to_host(arg.array))  # traced on the host, copied back below
        for axis in range(array.ndim):
            if (index, axis) in sizes:
                wanted = np.arange(sizes[(index, axis)]) % array.shape[axis]
                array = np.take(array, wanted, axis=axis)
        if other_data and array.size:
            array = _other_values(array, rng)
        array = _arrays.asarray_like(array, arg.array)  # on the argument's device
        copy = Tensor(array, requires_grad=array.dtype.kind == "f")
        result.append(copy)
        index += 1
    return tuple(result)


def _other_values(array: np.ndarray, rng: Any) -> np.ndarray:
    if array.dtype.kind == "f":
        spread = float(array.std()) or 1.0
        noise = rng.standard_normal(array.shape) * spread + float(array.mean())
        return (noise + 0.5 * spread).astype(array.dtype)
    return np.roll(array.reshape(-1), 1).reshape(array.shape)


def _flatten(value: Any, where: str) -> list:
    if isinstance(value, Tensor):
        return [value]
    if value is None:
        return []
    if isinstance(value, tuple | list):
        return [t for item in value for t in _flatten(item, where)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _flatten(item, where)]
    raise ExportError(f"gradwork.onnx.export: {where} returned a {type(value).__name__}")


def _build(model, first, second, names, output_names, axes, opset) -> Any:  # noqa: ANN001
    args, records, output = first
    args2, records2, output2 = second
    graph = Graph(opset, _parameters(model))
    inputs = _bind_inputs(graph, args, args2, names, axes)
    if len(records) != len(records2):
        raise ExportError(_control_flow(records, records2))
    paths = {path: type(module).__name__ for path, module in model.named_modules()}
    for record, record2 in zip(records, records2, strict=True):
        if record.name != record2.name:
            raise ExportError(_control_flow(records, records2))
        _emit(graph, record, record2, paths)
    outputs = _outputs(graph, output, output2, output_names, axes, names)
    used = {name for node in graph.nodes for name in node.input}
    initializers = [i for i in graph.initializers if i.name in used]  # (an emitter's spares)
    model_graph = helper.make_graph(graph.nodes, type(model).__name__, inputs, outputs,
                                    initializers)  # fmt: skip
    proto = helper.make_model(model_graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="gradwork")  # fmt: skip
    proto.ir_version = IR_VERSION
    return proto


def _parameters(model: Any) -> dict:
    found = {}
    for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
        if tensor is None:
            continue
        array = getattr(tensor, "array", tensor)
        found[id(tensor)] = found[id(array)] = (name, np.asarray(_arrays.to_host(array)))
    return found


def _bind_inputs(graph: Graph, args: tuple, args2: tuple, names: list, axes: dict) -> list:
    inputs, index = [], 0
    for arg, arg2 in zip(args, args2, strict=True):
        if not isinstance(arg, Tensor):
            continue
        name = graph.fresh(names[index])
        graph.bind(arg, name)
        dims: list = list(arg.shape)
        for axis, dim in axes.get(name, {}).items():
            dims[axis] = dim
            graph.dims.setdefault((arg.shape[axis], arg2.shape[axis]), (name, axis))
            graph.dim_names.setdefault((arg.shape[axis], arg2.shape[axis]), dim)
        inputs.append(helper.make_tensor_value_info(name, onnx_type(arg.array.dtype), dims))
        index += 1
    return inputs


def _emit(graph: Graph, record: Any, record2: Any, paths: dict) -> None:
    where = f"'{record.path}' ({paths.get(record.path, '?')})" if record.path else "the model"
    graph.where = f"op '{record.name}' in module {where}"
    graph.where_module, graph.seen = record.path, record.seen
    if record.kind == "op":
        emitter, signature = OPS.get(record.target), _signature(record.target.forward)
    elif record.kind == "function":
        emitter = FUNCTIONS.get(record.target.__name__)
        signature = _signature(record.target)
    else:
        emitter = next((e for k, e in MODULES.items() if isinstance(record.target, k)), None)
        signature = _signature(record.target.forward)
    if emitter is None:
        raise UnsupportedOperatorError(
            f"gradwork.onnx.export: no ONNX mapping for op '{record.name}' in module {where}; "
            "write that step with ops that have one (see gradwork.onnx's docstring), or "
            "compute it outside the exported model"
        )
    call = Call(graph, record, record2, signature)
    produced = emitter(graph, call, record.output)
    produced = produced if isinstance(produced, list) else [produced]
    results = _flatten(record.output, graph.where)
    if len(results) != len(produced):
        raise ExportError(f"gradwork.onnx.export: {graph.where}: {len(results)} outputs expected")
    for tensor, name, (version, node) in zip(results, produced, record.made, strict=True):
        graph.bind(tensor, name, version, node)


_SIGNATURES: dict = {}


def _signature(function: Any) -> inspect.Signature:
    key = getattr(function, "__func__", function)
    if key not in _SIGNATURES:
        _SIGNATURES[key] = inspect.signature(function)
    return _SIGNATURES[key]


def _outputs(graph: Graph, output: Any, output2: Any, names: Any, axes: dict, inputs: list) -> list:
    results, results2 = _flatten(output, "the model"), _flatten(output2, "the model")
    default = ["output"] if len(results) == 1 else [f"output_{i}" for i in range(len(results))]
    names = list(names or []) + default[len(names or []) :]
    graph.where, graph.seen = "the model's outputs", {}
    missing = [n for n in axes if n not in names and n not in inputs]
    if missing:
        raise ValueError(
            f"gradwork.onnx.export: dynamic_axes names {missing[0]!r}, which is not an input "
            f"or output name; the outputs are {names[: len(results)]}"
        )
    infos = []
    for tensor, tensor2, name in zip(results, results2, names, strict=False):
        source = graph.value(tensor, tensor2)
        graph.taken.add(name)
        graph.node("Identity", [source], [name])
        dims: list = list(tensor.shape)
        for axis, (size, size2) in enumerate(zip(tensor.shape, tensor2.shape, strict=False)):
            if size != size2:
                dims[axis] = graph.dim_names.get((size, size2), f"{name}_dim_{axis}")
        for axis, dim in axes.get(name, {}).items():
            dims[axis % max(tensor.ndim, 1)] = dim
        infos.append(helper.make_tensor_value_info(name, onnx_type(tensor.array.dtype), dims))
    return infos


def _control_flow(records: list, records2: list) -> str:
    for index, (a, b) in enumerate(zip(records, records2, strict=False)):
        if a.name != b.name:
            where = f"op {index} ('{a.name}' then '{b.name}', in '{a.path or 'the model'}')"
            break
    else:
        where = f"the number of ops ({len(records)} then {len(records2)})"
    return (
        "gradwork.onnx.export: the forward pass ran differently on an input of another size "
        f"or other values: {where} differs. Control flow that depends on the input (a loop "
        "over the sequence length, an `if` on values) can't follow a dynamic axis; export "
        "with that axis static (leave it out of dynamic_axes)"
    )
