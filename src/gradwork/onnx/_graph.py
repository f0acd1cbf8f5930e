"""The ONNX graph under construction: names, initializers, constants and symbolic shapes.

Every traced tensor gets a name when it is made (graph inputs, parameters and
buffers by their state-dict names, op results by the op). A tensor that is none
of these is a constant of the forward pass; it is kept only if the second trace
(other data, other sizes on the dynamic axes) saw the same value, else the
export fails rather than bake one input's numbers into the file.

Shapes that an op takes as an argument (reshape, expand, a created tensor) are
compared between the two traces too: a size that changed with a dynamic axis
of an input is read from that input at run time (`Shape`), so the file works
at every batch size, not just the traced one.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

try:
    from onnx import TensorProto, helper, numpy_helper
except ImportError:  # export() says how to install it; without it the module still imports
    TensorProto = helper = numpy_helper = None

from gradwork import _arrays
from gradwork.onnx._errors import ExportError
from gradwork.tensor import Tensor

INT64_MAX = np.iinfo(np.int64).max


def onnx_type(dtype: Any) -> int:
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def same(a: Any, b: Any) -> bool:
    """Equal values, for the options and constants seen by the two traces."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return same(getattr(a, "array", a), getattr(b, "array", b))
    if isinstance(a, np.ndarray | np.generic) or isinstance(b, np.ndarray | np.generic):
        a, b = np.asarray(_arrays.to_host(a)), np.asarray(_arrays.to_host(b))
        return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, slice) and isinstance(b, slice):
        return same((a.start, a.stop, a.step), (b.start, b.stop, b.step))
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):
        return a is b


class Graph:
    """Nodes, initializers and the name of every traced tensor."""

    def __init__(self, opset: int, parameters: dict[int, tuple[str, Any]]) -> None:
        self.opset = opset
        self.nodes: list = []
        self.initializers: list = []
        self.parameters = parameters  # id(tensor or array) -> (state-dict name, array)
        self.added: dict[str, str] = {}  # state-dict name -> initializer name
        self.values: dict[int, tuple[Any, int, str]] = {}  # id(tensor) -> (tensor, version, name)
        self.by_node: dict[int, str] = {}  # id(grad_fn) -> name of its output
        self.dims: dict[tuple[int, int], tuple[str, int]] = {}  # sizes in both traces -> input
        self.dim_names: dict[tuple[int, int], str] = {}  # sizes in both traces -> dim name
        self.taken: set[str] = set()
        self.where = ""  # the op being emitted and its module path, for error messages
        self.where_module = ""  # that module path alone
        self.seen: dict = {}  # the inputs' (version, graph node) when that op ran

    # -- names ---------------------------------------------------------------
    def fresh(self, hint: str) -> str:
        name, count = hint, 1
        while name in self.taken:
            name, count = f"{hint}_{count}", count + 1
        self.taken.add(name)
        return name

    def bind(self, tensor: Any, name: str, version: int = 0, node: Any = None) -> None:
        """`tensor`, at `version` and made by graph node `node`, is the ONNX value `name`."""
        self.values[id(tensor)] = (tensor, version, name)
        if node is not None:
            self.by_node[id(node)] = name

    def fail(self, message: str) -> ExportError:
        return ExportError(f"gradwork.onnx.export: {self.where}: {message}")

    # -- nodes and constants ---------------------------------------------------
    def node(self, op: str, inputs: list, outputs: int | list = 1, **attributes: Any) -> Any:
        """Add one node; its output name (or list of names when `outputs` is a list/count > 1)."""
        names = outputs if isinstance(outputs, list) else None
        if names is None:
            names = [self.fresh(f"{op}_{len(self.nodes)}") for _ in range(outputs)]
        attributes = {k: v for k, v in attributes.items() if v is not None}
        node_name = self.fresh(f"n{len(self.nodes)}_{op}")
        self.nodes.append(helper.make_node(op, inputs, names, name=node_name, **attributes))
        return names[0] if outputs == 1 else names

    def const(self, value: Any, dtype: Any = None, hint: str = "const") -> str:
        array = np.asarray(_arrays.to_host(value), dtype=dtype)
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(np.array(array, order="C"), name))
        return name

    def ints(self, values: Any) -> str:
        return self.const(np.asarray(values, dtype=np.int64).reshape(-1), hint="ints")

    def parameter(self, key: int) -> str:
        state_name, array = self.parameters[key]
        if state_name not in self.added:
            self.taken.add(state_name)
            self.initializers.append(
                numpy_helper.from_array(np.asarray(_arrays.to_host(array)), state_name)
            )
            self.added[state_name] = state_name
        return self.added[state_name]

    # -- values ------------------------------------------------------------------
    def value(self, x: Any, x2: Any, dtype: Any = None) -> str:
        """The ONNX name of an op's input `x` (`x2`: the same input in the second trace).

        `dtype` is the type a Python number or a tensor of another type becomes.
        """
        if isinstance(x, Tensor):
            name = self._known(x)
            if name is not None:
                return self.cast(name, x.array.dtype, dtype)
        for key in (id(x), id(getattr(x, "array", None))):
            if key in self.parameters:
                return self.cast(
                    self.parameter(key),
                    np.asarray(_arrays.to_host(self.parameters[key][1])).dtype,
                    dtype,
                )
        return self._constant(x, x2, dtype)

    def cast(self, name: str, have: Any, want: Any) -> str:
        if want is None or np.dtype(have) == np.dtype(want):
            return name
        return self.node("Cast", [name], to=onnx_type(want))

    def _known(self, tensor: Any) -> str | None:
        # the tensor as the op being emitted saw it (a later in-place op may have changed it)
        version, node = self.seen.get(id(tensor), (tensor._version_counter.value, tensor.grad_fn))
        entry = self.values.get(id(tensor))
        if entry is not None and entry[0] is tensor and entry[1] == version:
            return entry[2]
        # changed in place, or a snapshot of a tensor: its graph node knows the value
        if node is not None and id(node) in self.by_node:
            return self.by_node[id(node)]
        return None

    def _constant(self, x: Any, x2: Any, dtype: Any) -> str:
        array = np.asarray(_arrays.to_host(getattr(x, "array", x)))
        other = np.asarray(_arrays.to_host(getattr(x2, "array", x2)))
        if dtype is not None and array.dtype.kind != "b":
            array, other = array.astype(dtype), other.astype(dtype)
        if array.shape == other.shape and np.array_equal(array, other, equal_nan=True):
            return self.const(array)
        triangle = _triangle(array, other)
        if triangle is not None:
            return self._triangular(array, other, *triangle)
        uniform = array.size and other.size and (array == array.flat[0]).all()
        if uniform and (other == other.flat[0]).all() and array.flat[0] == other.flat[0]:
            # zeros(batch, hidden) and the like: filled to a size read at run time
            shape = self.shape(array.shape, other.shape)
            fill = numpy_helper.from_array(array.flat[0:1].copy(), "value")
            return self.node("ConstantOfShape", [shape], value=fill)
        raise self.fail(
            f"an input of shape {list(array.shape)} is neither a graph input, a parameter nor "
            "a constant: it changed when the model ran on other data. It was computed outside "
            "gradwork's ops (NumPy on .array or .numpy(), .item(), argmax, a random draw) or "
            "depends on the input's values; compute it with tensor operations inside forward, "
            "or pass it as an input"
        )

    def _triangular(
        self, array: Any, other: Any, upper: int, k: int, inside: Any, rest: Any
    ) -> str:
        """A causal-style mask whose size follows a dynamic axis: Trilu of ones, then Where."""
        shape = self.shape(array.shape, other.shape)
        one = numpy_helper.from_array(np.ones(1, np.float32), "value")
        ones = self.node("ConstantOfShape", [shape], value=one)
        kept = self.node("Trilu", [ones, self.const(np.int64(k))], upper=upper)
        mask = self.node("Cast", [kept], to=onnx_type(np.bool_))
        return self.node("Where", [mask, self.const(inside), self.const(rest)])

    # -- shapes --------------------------------------------------------------------
    def dim(self, size: int, size2: int) -> str | None:
        """A 1-element int64 tensor holding a size that changes with a dynamic axis."""
        if (size, size2) not in self.dims:
            return None
        source, axis = self.dims[(size, size2)]
        return self.node("Shape", [source], start=axis, end=axis + 1)

    def shape(self, sizes: Any, sizes2: Any, infer: bool = False) -> str:
        """An int64 shape tensor; sizes that differ between the traces are read at run time.

        `infer`: one size that matches no input axis may be -1 (Reshape works it out).
        """
        sizes, sizes2 = [int(s) for s in sizes], [int(s) for s in sizes2]
        if len(sizes) != len(sizes2):
            raise self.fail(f"the number of dimensions changed with the input size: {sizes}")
        if sizes == sizes2:
            return self.ints(sizes)
        pieces, run = [], []
        inferred = -1 in sizes
        for size, size2 in zip(sizes, sizes2, strict=True):
            dynamic = self.dim(size, size2) if size != size2 else None
            if size == size2 or (dynamic is None and infer and not inferred):
                inferred = inferred or size != size2
                run.append(size if size == size2 else -1)
                continue
            if dynamic is None:
                raise self.fail(
                    f"a size of {size} here changes with the input's size ({size2} in a second "
                    "trace) but matches no dynamic axis of an input; keep that axis static "
                    "(leave it out of dynamic_axes) or compute the shape from tensor.shape"
                )
            if run:
                pieces.append(self.ints(run))
                run = []
            pieces.append(dynamic)
        if run:
            pieces.append(self.ints(run))
        return pieces[0] if len(pieces) == 1 else self.node("Concat", pieces, axis=0)

    def reduce(self, op: str, x: str, axes: Any, keepdims: bool) -> str:
        """A Reduce* node; axes as an attribute before opset 18 (except ReduceSum), else input."""
        keep = int(bool(keepdims))
        if axes is None:
            return self.node(op, [x], keepdims=keep)
        axes = [int(a) for a in np.atleast_1d(axes)]
        if op == "ReduceSum" or self.opset >= 18:
            return self.node(op, [x, self.ints(axes)], keepdims=keep)
        return self.node(op, [x], axes=axes, keepdims=keep)


def _triangle(array: np.ndarray, other: np.ndarray) -> tuple | None:
    """(upper, k, value inside, value outside) when both traces saw the same two-valued
    triangular matrix at two sizes (a causal mask), else None."""
    if array.ndim != 2 or other.ndim != 2 or array.shape == other.shape or not array.size:
        return None
    for upper in (0, 1):
        for k in (-1, 0, 1):
            inside = _band(array.shape, upper, k)
            if inside.all() or not inside.any():
                continue
            a, b = array[inside][0], array[~inside][0]
            if a == b or not np.array_equal(array, np.where(inside, a, b)):
                continue
            if np.array_equal(other, np.where(_band(other.shape, upper, k), a, b)):
                return upper, k, a, b
    return None


def _band(shape: tuple, upper: int, k: int) -> np.ndarray:
    """True on and above (upper) or on and below the k-th diagonal, as ONNX's Trilu keeps."""
    ones = np.ones(shape, bool)
    return np.triu(ones, k) if upper else np.tril(ones, k)


class Call:
    """One record's arguments bound by name, in both traces."""

    def __init__(self, graph: Graph, record: Any, record2: Any, signature: Any) -> None:
        self.graph, self.record, self.record2 = graph, record, record2
        self.first = _bind(signature, record)
        self.second = _bind(signature, record2)

    def __getitem__(self, key: str) -> Any:
        """An option's value, which must be the same in both traces."""
        value = self.first.get(key)
        if not same(value, self.second.get(key)):
            raise self.graph.fail(
                f"argument {key!r} changed with the input's size ({value!r}, then "
                f"{self.second.get(key)!r}); keep that axis static (leave it out of dynamic_axes)"
            )
        return value

    def both(self, key: str) -> tuple[Any, Any]:
        return self.first.get(key), self.second.get(key)

    def name(self, key: str, dtype: Any = None) -> str:
        """The ONNX name of tensor argument `key` ("" when it is None)."""
        value = self.first.get(key)
        if value is None:
            return ""
        return self.graph.value(value, self.second.get(key), dtype)

    def names(self, key: str, dtype: Any = None) -> list[str]:
        pairs = zip(self.first[key], self.second[key], strict=True)
        return [self.graph.value(a, b, dtype) for a, b in pairs]

    def array(self, key: str) -> Any:
        value = self.first.get(key)
        return (
            None if value is None else np.asarray(_arrays.to_host(getattr(value, "array", value)))
        )


def _bind(signature: inspect.Signature, record: Any) -> dict:
    args = (None, *record.args) if record.kind == "op" else record.args
    bound = signature.bind(*args, **record.kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def value_info(name: str, array: Any, dims: list) -> Any:
    return helper.make_tensor_value_info(
        name, onnx_type(np.asarray(_arrays.to_host(array)).dtype), dims
    )


__all__ = ["Graph", "Call", "ExportError", "TensorProto", "INT64_MAX", "same", "value_info"]
