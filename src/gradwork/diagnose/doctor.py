"""`doctor`: a battery of quick checks that says why training goes wrong, and what to do.

It runs on deep copies of the model and optimizer, with gradwork's random
stream restored afterwards, so calling it changes nothing in the user's run.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradwork import random
from gradwork.autograd import enable_grad
from gradwork.diagnose import _attention_checks, _data_checks, _training_checks
from gradwork.diagnose._gradient_report import GradientReport
from gradwork.diagnose.activation_monitor import ActivationMonitor, ActivationReport
from gradwork.diagnose.findings import Finding, FindingsReport, format_number
from gradwork.diagnose.gradient_monitor import GradientMonitor
from gradwork.optim import Adam
from gradwork.tensor import Tensor
from gradwork.train.devices import model_device, to_device, to_host


@dataclass
class DoctorReport(FindingsReport):
    """The doctor's findings: `str(report)` is a checklist, `findings` the structured items.

    Attributes:
        findings: every check's verdict, in the order run.
        losses: the losses of the overfit-one-batch run.
        gradients: the GradientMonitor report of that run (None if it did not run).
        activations: the ActivationMonitor report of the first forward pass.
    """

    findings: list[Finding] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    gradients: GradientReport | None = None
    activations: ActivationReport | None = None

    def __str__(self) -> str:
        count = len(self.problems)
        head = "gradwork doctor: all checks passed" if self.ok else (
            f"gradwork doctor: {count} problem{'s' if count > 1 else ''} found")  # fmt: skip
        return "\n".join([head, *(str(f) for f in self.findings)])


def doctor(
    model: Any,
    loss_fn: Callable[[Any, Any], Any],
    data: Any,
    optimizer: Any = None,
    steps: int = 100,
    lr: float = 1e-2,
    overfit_size: int = 8,
    min_reduction: float = 10.0,
    update_ratio_range: tuple[float, float] = (1e-5, 0.5),
) -> DoctorReport:
    """Check a training setup on one real batch and explain what is wrong.

    Checks: NaN/Inf and scale of the inputs (raw 0..255 pixels), labels in
    range, eval mode left on, BatchNorm with batch size 1, outputs that are
    already probabilities, the initial loss of a classifier against log(C),
    parameters without gradient, vanishing/exploding gradients, dead ReLUs and
    saturated sigmoid/tanh, for attention models attention-entropy collapse and
    exploding output logits, the update/weight ratio of your optimizer, and
    whether the model can overfit one small batch within `steps` steps (it stops
    as soon as it has). When your optimizer falls short, the same test runs with
    Adam at `lr` on a fresh copy: if Adam memorises the batch, the model is sound
    and your learning rate is low (a warning only when the loss barely moved);
    if Adam cannot either, the model or the loss has a bug.

    Args:
        model: the nn.Module (left untouched: the doctor works on a deep copy).
        loss_fn: `loss_fn(output, targets) -> scalar tensor`, e.g. nn.CrossEntropyLoss().
        data: a batch `(inputs, targets)`, or an iterable of such batches (its first
            batch is used; a DataLoader advances by one batch, so pass a batch to
            leave your loader as it is).
        optimizer: your optimizer (copied with the model; the original is untouched).
            Without one, the overfit test uses `gradwork.optim.Adam` at `lr` and the
            update/weight check is skipped.
        steps: the most training steps of the overfit test (each optimizer).
        lr: learning rate of the default Adam.
        overfit_size: how many samples of the batch the overfit test memorises.
        min_reduction: the factor by which the loss must fall in the overfit test.
        update_ratio_range: the healthy band of |update| / |weight| per step: "too
            high" is judged on each layer's largest step, "too low" on its median
            step. ~1e-3 is the rule of thumb for large nets; small nets train well
            up to ~1e-1, hence the wide default.

    Returns:
        A `DoctorReport`; print it for the checklist.

    Example:
        >>> import gradwork as gw
        >>> from gradwork import nn
        >>> model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
        >>> x, y = gw.randn(16, 4), gw.randint(0, 3, (16,))
        >>> report = doctor(model, nn.CrossEntropyLoss(), (x, y), steps=40, lr=0.05)
        >>> report.ok, report.finding("overfit_one_batch").passed
        (True, True)
    """
    inputs, targets = _first_batch(data)
    state = random.get_rng_state()
    try:
        clone, clone_optimizer = copy.deepcopy((model, optimizer))
        # The batch goes where the model is (a host batch and a GPU model are fine).
        inputs, targets = to_device((inputs, targets), model_device(clone))
        # NOTE: a diverging run overflows on purpose; its numbers are the
        # evidence, so NumPy's overflow warnings are silenced meanwhile.
        with enable_grad(), np.errstate(all="ignore"):
            return _examine(clone, loss_fn, inputs, targets, clone_optimizer, steps, lr,
                            overfit_size, min_reduction, update_ratio_range)  # fmt: skip
    finally:
        random.set_rng_state(state)


def _examine(model, loss_fn, inputs, targets, optimizer, steps, lr, size, reduction, band):
    report = DoctorReport()
    host_inputs = to_host(inputs)  # the data checks read values: one explicit copy
    report.findings.append(_data_checks.check_finite(host_inputs, to_host(targets)))
    report.findings.append(_data_checks.check_input_scale(host_inputs))
    report.findings.extend(_data_checks.check_modes(model, inputs.shape[0]))
    first = _first_pass(model, loss_fn, inputs, targets, report)
    if first is None:
        return report
    report.findings.append(_training_checks.check_gradients_present(model))
    default_optimizer = optimizer is None
    if default_optimizer:
        # The verdict should not hinge on a learning rate the user never chose;
        # Adam's step is nearly scale-free, so it is the fair default.
        optimizer = Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    pristine = None if default_optimizer else copy.deepcopy(model)
    monitor = GradientMonitor(model)
    batch = (inputs[:size], targets[:size])
    report.losses = _training_checks.overfit(
        model, loss_fn, *batch, optimizer, steps, monitor, reduction
    )
    if monitor.history:
        report.gradients = monitor.report()
        report.findings.extend(_gradient_findings(report.gradients))
    reference = None
    if pristine is not None and not _training_checks.memorised(report.losses, reduction):
        adam = Adam([p for p in pristine.parameters() if p.requires_grad], lr=lr)
        reference = _training_checks.overfit(pristine, loss_fn, *batch, adam, steps, None,
                                             reduction)  # fmt: skip
    report.findings.append(_training_checks.check_overfit(
        report.losses, steps, reduction, reference, f"Adam(lr={lr:g})"))  # fmt: skip
    if default_optimizer:
        report.findings.append(
            Finding("update_ratio", "info", "skipped: pass optimizer= to check your learning rate")
        )
    elif monitor.history:
        report.findings.append(_training_checks.check_update_ratio(monitor, *band))
    return report


def _first_pass(model, loss_fn, inputs, targets, report: DoctorReport) -> Any:
    """Forward (watched by an ActivationMonitor) and backward once; None if it failed."""
    try:
        with (
            ActivationMonitor(model) as activations,
            _attention_checks.AttentionCapture(model) as attention,
        ):
            output = model(inputs)
    except Exception as error:  # noqa: BLE001 - the doctor reports, it does not raise
        report.findings.append(_failure("forward", error))
        return None
    report.activations = activations.report()
    if _attention_checks.has_attention(model):  # entropy collapse, exploding logits
        report.findings.extend(_attention_checks.attention_findings(attention, output))
    # NOTE: a language model's loss takes (N, T, V) logits, classes last (class_axis = -1).
    scores = np.moveaxis(to_host(output), getattr(loss_fn, "class_axis", 1), 1)
    labels = to_host(targets)
    classifier = _data_checks.is_classification(loss_fn, scores, labels)
    if classifier:
        report.findings.append(_data_checks.check_labels(loss_fn, scores, labels))
        if not report.findings[-1].passed:
            return None  # an out-of-range label makes the loss itself meaningless
    try:
        loss = loss_fn(output, targets)
        value = float(to_host(loss).reshape(-1)[0]) if loss.numel() else math.nan
    except Exception as error:  # noqa: BLE001
        report.findings.append(_failure("loss", error))
        return None
    if loss.numel() != 1 or not math.isfinite(value):
        report.findings.append(Finding("loss", "error",
                                       f"the loss is {format_number(value)} with shape "
                                       f"{loss.shape}; it must be a finite scalar", {},
                                       fix="use reduction='mean'; look for NaN inputs, log(0) "
                                       "or division by zero in the model"))  # fmt: skip
        return None
    if classifier:
        report.findings.extend(_data_checks.check_initial_loss(value, scores, labels))
    report.findings.extend(_activation_findings(report.activations))
    loss.backward()
    return value


def _failure(check: str, error: Exception) -> Finding:
    where = "forward" if check == "forward" else "loss_fn(output, targets)"
    return Finding(check, "error", f"{where} raised {type(error).__name__}: {error}",
                   fix="fix the error above; model.summary(input_shape) shows each layer's "
                   "output shape")  # fmt: skip


def _gradient_findings(gradients: GradientReport) -> list[Finding]:
    flags = [f for f in gradients.findings if f.check != "missing_gradients"]
    if flags:
        return flags
    norms = [(row.layer, row.mean) for row in gradients.rows if row.mean is not None]
    span = f"{norms[0][0]}: {format_number(norms[0][1])} … {norms[-1][0]}: " \
        f"{format_number(norms[-1][1])}" if norms else "no gradients"  # fmt: skip
    return [Finding("gradient_flow", "ok", f"gradient norms healthy across layers ({span})",
                    {row.layer: row.mean for row in gradients.rows})]  # fmt: skip


def _activation_findings(activations: ActivationReport) -> list[Finding]:
    if activations.findings:
        return activations.findings
    watched = [row for row in activations.rows if row.kind != "other"]
    return [
        Finding(
            "activations",
            "ok",
            f"no dead ReLU or saturated layer among {len(watched)} activation layers",
        )
    ]


def _first_batch(data: Any) -> tuple[Tensor, Tensor]:
    is_batch = isinstance(data, tuple | list) and len(data) == 2
    batch = data if is_batch and isinstance(data[0], Tensor | np.ndarray) else next(iter(data))
    inputs, targets = batch
    return _as_tensor(inputs), _as_tensor(targets)


def _as_tensor(value: Any) -> Tensor:
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return Tensor(value)
    raise TypeError(
        f"doctor: data must be a batch (inputs, targets) of tensors or arrays, or an "
        f"iterable of such batches; got a batch item of type {type(value).__name__}"
    )
