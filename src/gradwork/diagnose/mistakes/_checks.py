"""What the watcher reads: the loss's graph, a batch's fingerprint, a split's statistics.

Each helper is cheap and reads what already exists (graph nodes the loss
built, arrays the loader made); none runs the model.
"""

from __future__ import annotations

import gc
import linecache
import re
from typing import Any

import numpy as np

from gradwork import _arrays
from gradwork.autograd import Function
from gradwork.data import Subset, TensorDataset
from gradwork.tensor import Tensor

CLASSIFICATION_LOSSES = {"CrossEntropy", "NLLLoss", "BinaryCrossEntropyWithLogits"}
_NOISY_LAYERS = ("Dropout", "AlphaDropout", "FeatureAlphaDropout", "BatchNorm", "SyncBatchNorm")


def loss_nodes(loss: Tensor, limit: int = 64) -> list[Function]:
    """The classification-loss nodes within `limit` nodes of the loss (breadth first)."""
    found, queue, seen = [], [loss.grad_fn], set()
    while queue and len(seen) < limit:
        node = queue.pop(0)
        if node is None or node in seen or node.parents is None:
            continue
        seen.add(node)
        if type(node).__name__ in CLASSIFICATION_LOSSES:
            found.append(node)
            continue  # the model's graph lies above: not needed
        queue.extend(node.parents)
    return found


def _through_shapes(node: Function | None) -> Function | None:
    """Up past reshapes and casts (`.squeeze(1)`, `.float()`) to the node that made the values."""
    while node is not None and type(node).__name__ in ("Reshape", "Cast") and node.parents:
        node = node.parents[0]
    return node


def activation_before(node: Function) -> str | None:
    """ "softmax", "log_softmax" or "sigmoid" when that produced the loss node's input."""
    parent = _through_shapes(node.parents[0]) if node.parents else None
    name = type(parent).__name__ if parent is not None else ""
    if name == "LogSoftmax":
        return "log_softmax"
    if name == "Sigmoid":
        return "sigmoid"
    if name == "Exp" and parent.parents and type(parent.parents[0]).__name__ == "LogSoftmax":
        return "softmax"  # Tensor.softmax is exp(log_softmax(x))
    return None


def producer(node: Function) -> Function | None:
    """The node that made the loss node's input (the LogSoftmax under a softmax's Exp)."""
    parent = _through_shapes(node.parents[0]) if node.parents else None
    if parent is not None and type(parent).__name__ == "Exp" and parent.parents:
        return parent.parents[0]
    return parent


def class_targets(node: Function) -> np.ndarray | None:
    """The class labels of a classification-loss node (None for soft or float targets)."""
    if node.inputs is None or len(node.inputs) < 2:
        return None
    target = node.inputs[1]
    array = getattr(target, "array", target)
    if _arrays.is_device_array(array):
        array = _arrays.to_host(array)  # a batch of labels, read on the host (a small copy)
    if not isinstance(array, np.ndarray) or array.size == 0:
        return None
    if array.dtype.kind in "iu":
        return array
    if type(node).__name__ == "BinaryCrossEntropyWithLogits" and np.all(
        (array == 0) | (array == 1)
    ):
        return array  # binary labels stored as floats
    return None


_SAMPLES: dict[int, np.ndarray] = {}  # batch size in values -> the positions sampled


def fingerprint(value: Any) -> tuple | None:
    """A cheap identity for a batch: its shape and 64 values at scattered positions.

    The positions are drawn once per size at random, not at a fixed stride,
    which could fall on pixels that are zero in every image.
    """
    array = getattr(value, "array", None)
    on_device = _arrays.is_device_array(array)
    if not (on_device or isinstance(array, np.ndarray)) or array.size == 0:
        return None
    positions = _SAMPLES.get(array.size)
    if positions is None:
        rng = np.random.default_rng(array.size)
        positions = _SAMPLES[array.size] = rng.integers(0, array.size, 64)
    if on_device:  # the 64 values are gathered on the device, then copied to the host
        values = _arrays.to_host(array.reshape(-1)[_arrays.asarray_like(positions, array)])
        return (array.shape, values.tobytes())
    values = array.ravel()[positions] if array.flags.c_contiguous else array.flat[positions]
    return (array.shape, values.tobytes())


def output_node(output: Any) -> Function | None:
    """The graph node of a model's output (the first tensor of a tuple or dict)."""
    if isinstance(output, dict):
        output = next(iter(output.values()), None)
    if isinstance(output, tuple | list):
        output = output[0] if output else None
    return output.grad_fn if isinstance(output, Tensor) else None


def noisy_layers(model: Any) -> list[str]:
    """Names of the layers that behave differently in training mode (dropout, batch norm)."""
    names = []
    for name, module in model.named_modules():
        kind = type(module).__name__
        if kind.startswith(_NOISY_LAYERS) and getattr(module, "p", 1.0) != 0:
            names.append(name or kind)
    return names


def unshuffled(loader: Any) -> bool:
    """A loader that hands the samples out in the same order every epoch."""
    return (
        not getattr(loader, "shuffle", True)
        and getattr(loader, "sampler", None) is None
        and getattr(loader, "batch_sampler", None) is None
    )


# ------------------------------------------------------------ normalisation leak
def _standardised(x: np.ndarray, axis: Any) -> float:
    """How far `x` is from mean 0, std 1 along `axis` (the worst feature; 0 = exactly)."""
    mean = x.mean(axis=axis, dtype=np.float64)
    std = x.std(axis=axis, dtype=np.float64)
    varying = std > 1e-12
    if not np.any(varying):
        return np.inf
    n = x.size if axis is None else x.shape[0]
    off_std = np.minimum(np.abs(std - 1), np.abs(std * np.sqrt(n / max(n - 1, 1)) - 1))
    return float(max(np.max(np.abs(mean[varying])), np.max(off_std[varying])))


def normalisation_leak(dataset: Any) -> dict | None:
    """Evidence that a split's data was standardised with statistics of all splits.

    True when the whole data set (every split together) has mean 0 and std 1
    almost exactly, per feature or overall, while the training split alone
    does not: statistics taken from the training split would give the reverse.
    """
    if not isinstance(dataset, Subset):
        return None
    base, indices = dataset.dataset, dataset.indices
    while isinstance(base, Subset):
        indices, base = base.indices[indices], base.dataset
    if not isinstance(base, TensorDataset) or len(indices) >= len(base):
        return None
    x = base.tensors[0].array
    if x.dtype.kind != "f" or x.shape[0] < 20:
        return None
    x = x.reshape(x.shape[0], -1)
    for axis, kind in ((0, "per feature"), (None, "overall")):
        whole, train = _standardised(x, axis), _standardised(x[indices], axis)
        if whole < 1e-4 and train > max(20 * whole, 2e-3):
            return {"statistics": kind, "whole_data_deviation": whole, "train_deviation": train}
    return None


# ------------------------------------------------------------- running totals
def graph_built_on(node: Function) -> Function | None:
    """A newer graph node that keeps `node` (a finished step's loss) as its parent."""
    for referrer in gc.get_referrers(node):
        if isinstance(referrer, Function):
            return referrer
        if isinstance(referrer, list | tuple):
            for owner in gc.get_referrers(referrer):
                if isinstance(owner, Function) and owner.parents is referrer:
                    return owner
    return None


def _reaches(start: Function | None, target: Function, limit: int = 100_000) -> bool:
    stack, seen = [start], set()
    while stack and len(seen) < limit:
        node = stack.pop()
        if node is None or node in seen:
            continue
        if node is target:
            return True
        seen.add(node)
        stack.extend(node.parents or ())
    return False


def count_nodes(start: Function | None, limit: int = 1_000_000) -> int:
    """How many graph nodes `start` keeps alive (its graph's size)."""
    stack, seen = [start], set()
    while stack and len(seen) < limit:
        node = stack.pop()
        if node is not None and node not in seen:
            seen.add(node)
            stack.extend(node.parents or ())
    return len(seen)


def accumulator_name(frame: Any, old_loss: Function, loss: Tensor) -> str | None:
    """The variable in the user's frame whose graph holds an old step's loss."""
    if frame is None:
        return None
    for name, value in list(frame.f_locals.items()):
        if isinstance(value, Tensor) and value is not loss and value.grad_fn is not None:
            if _reaches(value.grad_fn, old_loss):
                return name
    return None


def accumulation_line(frame: Any, name: str) -> int | None:
    """The line of `name += ...` (or `name = name + ...`) in the frame's function or file."""
    code = frame.f_code
    pattern = re.compile(rf"^\s*{re.escape(name)}\s*(\+=|=\s*{re.escape(name)}\s*\+)")
    lines = linecache.getlines(code.co_filename)
    first = code.co_firstlineno if code.co_name != "<module>" else 1
    last = max((line for _, _, line in code.co_lines() if line), default=len(lines))
    for number in range(first, min(last, len(lines)) + 1):
        if pattern.match(lines[number - 1]):
            return number
    return None


def statistics_line(filename: str) -> int | None:
    """The last line before a `gradwork.data` split that computes a mean or std (a guess)."""
    lines = linecache.getlines(filename)
    split = next((i for i, text in enumerate(lines) if re.search(r"_split\(", text)), len(lines))
    for number in range(split, 0, -1):
        if re.search(r"\.(std|mean)\(", lines[number - 1]):
            return number
    return split + 1 if split < len(lines) else None
