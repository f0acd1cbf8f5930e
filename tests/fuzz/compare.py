"""Run one case through gradwork and torch and compare what comes out.

A case is plain data: NumPy arrays, Python scalars, lists, tuples, slices.
`convert` turns it into one library's objects (every floating array becomes a
leaf that requires grad), the same call runs on `gradwork` and on `torch`, and
the checks raise a `Discrepancy` subclass named after the kind of difference:
value, dtype, shape, gradient, exception, in place. Each kind is raised from
its own line, so hypothesis reports the kinds of one op as separate bugs.

torch is imported lazily: this module imports without it (the tests skip).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import reject

import gradwork as gw
from tests.helpers import to_numpy

# torch's exception classes to match. A narrower class (NotImplementedError, a
# RuntimeError) is matched by the nearest of these, so any RuntimeError will do.
STANDARD_ERRORS = (IndexError, ValueError, TypeError, RuntimeError)

# (rtol, atol) per dtype, least precise first. atol is scaled by the largest
# expected value, so a float32 value near 1e3 may be off by 1e-2 (summation
# order differs between the libraries).
TOLERANCES = {"float16": (1e-2, 1e-3), "float32": (1e-4, 1e-5), "float64": (1e-9, 1e-12)}
GRADIENT_SLACK = 10  # gradients go through more ops than values

# torch failures that are torch's own bugs, not behaviour to match: such a case
# says nothing about gradwork and is rejected. Backward of `a ** b` with a bool
# b subtracts 1 from b, which torch refuses; a bool scalar base trips an assert.
# Backward of atan2(a, b) with a bool `a` negates it (d/db = -a / (a^2 + b^2)),
# which torch refuses too; the forward is fine and gradwork differentiates it.
TORCH_BUGS = ("INTERNAL ASSERT FAILED",)
TORCH_BACKWARD_BUGS = (
    *TORCH_BUGS,
    "with a bool tensor is not supported",
    "Negation, the `-` operator, on a bool tensor is not supported",
)


class Discrepancy(AssertionError):  # noqa: N818 - named for what it finds, as its kinds
    """gradwork and torch disagree; `kind` says how."""

    kind = "discrepancy"


class ValueDiscrepancy(Discrepancy):
    kind = "value"


class DtypeDiscrepancy(Discrepancy):
    kind = "dtype"


class ShapeDiscrepancy(Discrepancy):
    kind = "shape"


class GradientDiscrepancy(Discrepancy):
    kind = "gradient"


class ExceptionDiscrepancy(Discrepancy):
    kind = "exception"


class InplaceDiscrepancy(Discrepancy):
    kind = "in place"


@dataclass
class Case:
    """Generated inputs: `operands` are positional, `params` keyword arguments."""

    operands: list
    params: dict = field(default_factory=dict)


@dataclass
class Outcome:
    """What one library did with a case."""

    result: Any = None
    error: Exception | None = None
    leaves: list = field(default_factory=list)  # tensors that require grad, in case order
    target: Any = None  # in place: the tensor modified
    alias: Any = None  # in place: target.detach(), taken before, sharing its storage


def torch_module():
    import torch

    return torch


def is_tensor(value: Any) -> bool:
    return isinstance(value, gw.Tensor | torch_module().Tensor)


def dtype_name(dtype: Any) -> str:
    """'float32' for gw.float32 (a NumPy dtype) and for torch.float32 alike."""
    text = str(dtype)
    return text.removeprefix("torch.") if text.startswith("torch.") else np.dtype(dtype).name


def missing(requires: tuple[str, ...]) -> list[str]:
    """The names in `requires` that gradwork lacks: 'Tensor.cumsum', 'nn.functional.pad'."""
    return [path for path in requires if not _has(path)]


def _has(path: str) -> bool:
    head, _, rest = path.partition(".")
    if head == "Tensor":
        # Look in the class dicts: `type` itself has __or__, so hasattr would lie.
        return any(rest in vars(cls) for cls in gw.Tensor.__mro__[:-1])
    owner = gw
    for name in path.split("."):
        if not hasattr(owner, name):
            return False
        owner = getattr(owner, name)
    return True


# ------------------------------------------------------------------- running
def convert(lib: Any, value: Any, leaves: list | None = None) -> Any:
    """The library's version of generated data; floating arrays become leaves if `leaves`."""
    if isinstance(value, np.ndarray):
        tensor = lib.from_numpy(np.array(value, copy=True))
        if leaves is not None and value.dtype.kind == "f":
            tensor.requires_grad_(True)
            leaves.append(tensor)
        return tensor
    if isinstance(value, list | tuple):
        return type(value)(convert(lib, item, leaves) for item in value)
    return value


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """No warnings from either library (NaN arithmetic, deprecations): values are compared."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def run(lib: Any, call: Callable, case: Case, grad: bool = True) -> Outcome:
    """`call(lib, *operands, **params)` on the library's version of the case."""
    outcome = Outcome()
    try:
        with quiet():
            operands = [convert(lib, x, outcome.leaves if grad else None) for x in case.operands]
            params = {name: convert(lib, value) for name, value in case.params.items()}
            outcome.result = call(lib, *operands, **params)
    except Exception as error:  # noqa: BLE001 - any exception is an outcome to compare
        outcome.error = error
    return outcome


def check_op(name: str, call: Callable, case: Case, grad: bool = True) -> None:
    """Run `call` in both libraries; raise a Discrepancy where gradwork differs from torch."""
    ours = run(gw, call, case, grad)
    theirs = run(torch_module(), call, case, grad)
    what = f"{name} on {describe(case)}"
    if ours.error is not None or theirs.error is not None:
        reject_torch_bug(theirs.error, TORCH_BUGS)
        check_errors(what, ours.error, theirs.error, ours.result)
        return
    check_results(what, ours.result, theirs.result)
    if grad:
        check_gradients(what, ours, theirs)


def run_inplace(lib: Any, call: Callable, case: Case, mode: str, producers: dict) -> Outcome:
    """An in-place op on a target made according to `mode` (see layouts.inplace_cases)."""
    target_data, operand_data = case.operands
    params = dict(case.params)
    producer = params.pop("producer", None)
    outcome = Outcome()
    try:
        with quiet():
            base = convert(lib, target_data, outcome.leaves if mode != "plain" else None)
            operand = convert(lib, operand_data, outcome.leaves if mode == "non_leaf" else None)
            outcome.target = producers[producer](base) if producer else base
            outcome.alias = outcome.target.detach()
            with lib.no_grad() if mode == "no_grad_leaf" else contextlib.nullcontext():
                outcome.result = call(outcome.target, operand, **params)
    except Exception as error:  # noqa: BLE001 - compared with the other library's
        outcome.error = error
    return outcome


def check_inplace(name: str, call: Callable, case: Case, mode: str, producers: dict) -> None:
    """Same exception, or the same tensor modified in place (seen through an alias), same grads."""
    ours = run_inplace(gw, call, case, mode, producers)
    theirs = run_inplace(torch_module(), call, case, mode, producers)
    what = f"{name} ({mode}) on {describe(case)}"
    if ours.error is not None or theirs.error is not None:
        check_errors(what, ours.error, theirs.error, ours.result)
        return
    if ours.result is not ours.target:
        raise InplaceDiscrepancy(f"{what}\n  gradwork returned a new tensor, not its target")
    check_value(what, ours.target, theirs.target)
    if not close(values(ours.alias), values(theirs.alias), dtype_name(theirs.target.dtype)):
        raise InplaceDiscrepancy(
            f"{what}\n  a tensor sharing the target's storage (.detach()) did not change:\n"
            f"  gradwork {show(ours.alias)}\n  torch    {show(theirs.alias)}"
        )
    if mode == "non_leaf":
        check_gradients(what, Outcome(ours.target, leaves=ours.leaves),
                        Outcome(theirs.target, leaves=theirs.leaves))  # fmt: skip
    elif mode == "no_grad_leaf" and not (ours.target.requires_grad and ours.target.is_leaf):
        raise InplaceDiscrepancy(f"{what}\n  the updated leaf no longer requires grad")


# -------------------------------------------------------------- comparisons
def reject_torch_bug(error: Exception | None, patterns: tuple[str, ...]) -> None:
    if error is not None and any(pattern in str(error) for pattern in patterns):
        reject()


def error_class(error: BaseException) -> type:
    """The class gradwork must raise (or subclass) when torch raised `error`."""
    return next((c for c in type(error).__mro__ if c in STANDARD_ERRORS), type(error))


def check_errors(what: str, ours: Exception | None, theirs: Exception | None, result: Any) -> None:
    if theirs is None:
        raise ExceptionDiscrepancy(f"{what}\n  gradwork raised {show(ours)}\n  torch did not")
    if ours is None:
        raise ExceptionDiscrepancy(
            f"{what}\n  torch raised {show(theirs)}\n  gradwork returned {show(result)}"
        )
    expected = error_class(theirs)
    if not isinstance(ours, expected):
        raise ExceptionDiscrepancy(
            f"{what}\n  gradwork raised {show(ours)}\n  torch raised {show(theirs)} "
            f"(expected a {expected.__name__})"
        )


def parts(result: Any) -> list:
    """A result as a list: tuples (split, max(dim)) are compared element by element."""
    return list(result) if isinstance(result, tuple | list) else [result]


def check_results(what: str, ours: Any, theirs: Any) -> None:
    if isinstance(theirs, tuple | list) and (
        not isinstance(ours, tuple | list) or len(ours) != len(theirs)
    ):
        raise ValueDiscrepancy(f"{what}\n  gradwork {show(ours)}\n  torch    {show(theirs)}")
    for i, (got, expected) in enumerate(zip(parts(ours), parts(theirs), strict=True)):
        label = what if not isinstance(theirs, tuple | list) else f"{what} [output {i}]"
        check_value(label, got, expected)


def check_value(what: str, got: Any, expected: Any) -> None:
    """Same kind of object, shape, dtype and values (NaN equal to NaN)."""
    detail = f"{what}\n  gradwork {show(got)}\n  torch    {show(expected)}"
    if not is_tensor(expected):
        if is_tensor(got) or not _plain_equal(got, expected):
            raise ValueDiscrepancy(detail)
        return
    if not isinstance(got, gw.Tensor):
        raise ValueDiscrepancy(f"{detail}\n  (gradwork did not return a Tensor)")
    if tuple(got.shape) != tuple(expected.shape):
        raise ShapeDiscrepancy(detail)
    if dtype_name(got.dtype) != dtype_name(expected.dtype):
        raise DtypeDiscrepancy(detail)
    if not close(values(got), values(expected), dtype_name(expected.dtype)):
        raise ValueDiscrepancy(detail)


def _plain_equal(got: Any, expected: Any) -> bool:
    """Python results: dtypes (result_type), bools (allclose), numbers, sizes."""
    if type(expected).__name__ == "dtype":  # torch.dtype; gradwork's are NumPy dtypes
        return isinstance(got, np.dtype | type) and dtype_name(got) == dtype_name(expected)
    if isinstance(expected, float):
        return isinstance(got, int | float) and close(np.array(got), np.array(expected), "float64")
    return type(got) is type(expected) and got == expected


def values(tensor: Any) -> np.ndarray:
    return np.array(to_numpy(tensor), copy=True)


def close(got: np.ndarray, expected: np.ndarray, dtype: str, slack: float = 1) -> bool:
    if dtype not in TOLERANCES:
        return np.array_equal(got, expected)
    rtol, atol = (slack * t for t in TOLERANCES[dtype])
    expected = expected.astype(np.float64)
    finite = np.abs(expected[np.isfinite(expected)])
    scale = max(1.0, float(finite.max())) if finite.size else 1.0
    return bool(
        np.allclose(got.astype(np.float64), expected, rtol=rtol, atol=atol * scale, equal_nan=True)
    )


def check_gradients(what: str, ours: Outcome, theirs: Outcome) -> None:
    """Same requires_grad on every output, and the same input gradients of (out * w).sum()."""
    pairs = list(zip(parts(ours.result), parts(theirs.result), strict=True))
    for got, expected in pairs:
        flag = bool(getattr(got, "requires_grad", False))
        if is_tensor(expected) and flag != expected.requires_grad:
            raise GradientDiscrepancy(
                f"{what}\n  gradwork output requires_grad={flag}\n"
                f"  torch output requires_grad={expected.requires_grad}"
            )
    outputs = [(g, t) for g, t in pairs if is_tensor(t) and t.requires_grad]
    if not outputs:
        return
    weights = [weight(t.shape, dtype_name(t.dtype), i) for i, (_, t) in enumerate(outputs)]
    our_error = backward(gw, [g for g, _ in outputs], weights)
    their_error = backward(torch_module(), [t for _, t in outputs], weights)
    if our_error is not None or their_error is not None:
        reject_torch_bug(their_error, TORCH_BACKWARD_BUGS)
        check_errors(f"{what} (backward)", our_error, their_error, None)
        return
    # Gradients are as precise as the least precise tensor on their way.
    names = {dtype_name(t.dtype) for t in [*theirs.leaves, *(t for _, t in outputs)]}
    precision = next((name for name in TOLERANCES if name in names), "float64")
    check_leaf_gradients(what, ours.leaves, theirs.leaves, precision)


def check_leaf_gradients(what: str, ours: list, theirs: list, precision: str) -> None:
    for i, (leaf, expected) in enumerate(zip(ours, theirs, strict=True)):
        got = gradient(leaf)
        want = gradient(expected)
        label = f"{what}\n  gradient of leaf {i}"
        if got.shape != want.shape or not close(got, want, precision, GRADIENT_SLACK):
            raise GradientDiscrepancy(
                f"{label}\n  gradwork {_array_text(got)}\n  torch    {_array_text(want)}"
            )


def weight(shape: Any, dtype: str, seed: int = 0) -> np.ndarray:
    """A fixed random weight, so that every output element's gradient is distinct."""
    return np.random.default_rng(seed).standard_normal(tuple(shape)).astype(dtype)


def backward(lib: Any, outputs: list, weights: list[np.ndarray]) -> Exception | None:
    """Backpropagate sum((out * w).sum()); return the exception it raises, if any."""
    try:
        with quiet():
            losses = [
                (out * lib.from_numpy(w)).sum() for out, w in zip(outputs, weights, strict=True)
            ]
            loss = losses[0]
            for extra in losses[1:]:
                loss = loss + extra
            loss.backward()
    except Exception as error:  # noqa: BLE001 - compared with the other library's
        return error
    return None


def gradient(leaf: Any) -> np.ndarray:
    """A leaf's .grad as an array; None counts as zeros (torch leaves None when unused)."""
    if leaf.grad is None:
        return np.zeros(tuple(leaf.shape))
    return values(leaf.grad)


# ---------------------------------------------------------------- messages
def describe(case: Case) -> str:
    """The inputs in one line: 'float32[2, 3] [[...]], 2.5, dim=1'."""
    items = [_data_text(x) for x in case.operands]
    items += [f"{name}={_data_text(value)}" for name, value in case.params.items()]
    return "(" + ", ".join(items) + ")"


def _data_text(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return _array_text(value)
    if isinstance(value, list):
        return "[" + ", ".join(_data_text(v) for v in value) + "]"
    if isinstance(value, tuple):
        items = [_data_text(v) for v in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, slice):
        bounds = [value.start, value.stop] + ([] if value.step is None else [value.step])
        return ":".join("" if v is None else str(v) for v in bounds)
    return "..." if value is Ellipsis else repr(value)


def _array_text(array: np.ndarray) -> str:
    body = np.array2string(array, precision=4, separator=", ", threshold=24, edgeitems=2)
    return f"{array.dtype}{list(array.shape)} {' '.join(body.split())}"


def show(value: Any) -> str:
    """A result for a message: tensors as dtype[shape] values, exceptions as Class('text')."""
    if isinstance(value, BaseException):
        text = " ".join(str(value).split())
        return f"{type(value).__name__}({text[:160]!r})"
    if is_tensor(value):
        try:
            return _array_text(values(value))
        except Exception as error:  # noqa: BLE001 - a broken tensor is still reported
            return f"<tensor that can't be read: {show(error)}>"
    if isinstance(value, tuple | list):
        return type(value).__name__ + "(" + ", ".join(show(v) for v in value) + ")"
    return repr(value)
