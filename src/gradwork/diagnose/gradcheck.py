"""Numeric-versus-analytic gradient checking.

The analytic gradient of a random projection s(x) = sum(w * f(x)) is
compared with central differences (s(x + eps) - s(x - eps)) / 2eps, one input
element at a time, in float64. A random w of full support makes a wrong
Jacobian entry show up with probability one, at the cost of one backward
and two forward passes per element.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradwork import _arrays, random
from gradwork.autograd import no_grad
from gradwork.tensor import Tensor


class GradcheckError(AssertionError):
    """Raised when analytic and numeric gradients disagree; carries the report."""

    def __init__(self, report: GradcheckReport) -> None:
        super().__init__(str(report))
        self.report = report


@dataclass
class InputCheck:
    """How one input's analytic gradient compared with the numeric one."""

    name: str
    shape: tuple
    max_abs_error: float
    max_rel_error: float
    worst_index: tuple
    analytic: float
    numeric: float
    passed: bool

    def __str__(self) -> str:
        verdict = "ok" if self.passed else "MISMATCH"
        return (
            f"{self.name} {self.shape}: {verdict}; max abs error {self.max_abs_error:.3g}, "
            f"max rel error {self.max_rel_error:.3g} at index {self.worst_index} "
            f"(analytic {self.analytic:.6g}, numeric {self.numeric:.6g})"
        )


@dataclass
class GradcheckReport:
    inputs: list[InputCheck]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.inputs)

    def __str__(self) -> str:
        head = "gradcheck passed" if self.passed else "gradcheck FAILED"
        return "\n".join([head] + ["  " + str(check) for check in self.inputs])

    def __bool__(self) -> bool:
        return self.passed


def gradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
) -> GradcheckReport:
    """Compare analytic gradients of `fn` with central differences, in float64.

    Args:
        fn: a function of tensors returning a tensor, or an `nn.Module`
            (its parameters are checked too, on a float64 copy: yours is untouched).
        inputs: a tensor or a sequence of tensors (and constants); those with
            requires_grad=True are checked.
        eps: finite-difference step.
        atol, rtol: an element fails if |analytic - numeric| > atol + rtol * |numeric|.
        raise_exception: raise `GradcheckError` with the report on failure.
        seed: seed of the random projection.

    Returns:
        A report with, per input, the max absolute and relative error and the worst index.

    Example:
        >>> import gradwork as gw
        >>> x = gw.randn(3, 4, requires_grad=True)
        >>> gradcheck(lambda t: (t * t).sum(dim=1), x).passed
        True
    """
    inputs = list(inputs) if isinstance(inputs, list | tuple) else [inputs]
    fn, parameters = _as_float64_function(fn)
    leaves = [_to_float64(x) for x in inputs]
    checked = [(f"input {i}", t) for i, t in enumerate(leaves) if _wants_grad(t)]
    checked += parameters
    if not checked:
        raise ValueError("gradcheck: no input requires grad; set requires_grad=True on one")

    # Every evaluation replays the same random stream, so a stochastic fn
    # (dropout) draws the same mask each time and stays differentiable.
    stream = random.get_rng_state()
    output = fn(*leaves)
    after_first_call = random.get_rng_state()
    # The projection lives on the output's device: a host array would not mix with
    # device data (an explicit copy, once).
    weights = _arrays.asarray_like(
        np.random.default_rng(seed).standard_normal(output.shape), output.array
    )

    def projected() -> float:
        random.set_rng_state(stream)
        with no_grad():
            return (fn(*leaves).data * weights).sum().item()

    for _, t in checked:
        t.grad = None
    (output * Tensor(weights)).sum().backward()
    report = GradcheckReport(
        [_check_one(name, t, projected, eps, atol, rtol) for name, t in checked]
    )
    random.set_rng_state(after_first_call)
    if raise_exception and not report.passed:
        raise GradcheckError(report)
    return report


def _check_one(name, tensor, projected, eps, atol, rtol) -> InputCheck:
    if tensor.grad is None:
        analytic = np.zeros(tensor.shape)
    else:  # the errors are computed on the host (a copy for device data)
        analytic = np.array(_arrays.to_host(tensor.grad.array))
    numeric = np.empty(tensor.shape)
    flat = tensor.array.reshape(-1)  # a view: edits reach the tensor
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + eps
        plus = projected()
        flat[i] = original - eps
        minus = projected()
        flat[i] = original
        numeric.flat[i] = (plus - minus) / (2 * eps)
    error = np.abs(analytic - numeric)
    relative = error / np.maximum(np.abs(numeric), 1e-12)
    allowed = atol + rtol * np.abs(numeric)
    excess = error - allowed
    if numeric.size == 0:
        return InputCheck(name, tensor.shape, 0.0, 0.0, (), 0.0, 0.0, True)
    worst = np.unravel_index(int(np.argmax(excess)), tensor.shape)
    return InputCheck(
        name=name,
        shape=tuple(tensor.shape),
        max_abs_error=float(error.max()),
        max_rel_error=float(relative.max()),
        worst_index=tuple(int(i) for i in worst),
        analytic=float(analytic[worst]),
        numeric=float(numeric[worst]),
        passed=bool((excess <= 0).all()),
    )


def _wants_grad(value: Any) -> bool:
    return isinstance(value, Tensor) and value.requires_grad


def _to_float64(value: Any) -> Any:
    if not isinstance(value, Tensor):
        return value
    data = value.array.astype(np.float64) if value.dtype.kind == "f" else value.array.copy()
    return Tensor(data, requires_grad=value.requires_grad)


def _as_float64_function(fn: Any) -> tuple[Callable[..., Any], list]:
    """For a module: a float64 deep copy, and its parameters to check."""
    if not hasattr(fn, "named_parameters"):
        return fn, []
    module = copy.deepcopy(fn).double()
    parameters = [(f"parameter {n}", p) for n, p in module.named_parameters() if p.requires_grad]
    return module, parameters
