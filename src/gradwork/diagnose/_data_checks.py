"""The doctor's checks before training: the data, the model's modes, the first forward pass."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradwork.diagnose.findings import Finding, format_number

_CLASSIFICATION_LOSSES = {"CrossEntropyLoss", "NLLLoss", "cross_entropy", "nll_loss"}


def _stats(array: Any) -> dict[str, float]:
    data = np.asarray(array, dtype=np.float64)
    return {"mean": float(data.mean()), "std": float(data.std()),
            "min": float(data.min()), "max": float(data.max())}  # fmt: skip


def check_finite(inputs: Any, targets: Any) -> Finding:
    """NaN or Inf anywhere in the inputs or targets poisons every gradient."""
    counts = {}
    for name, array in (("inputs", inputs), ("targets", targets)):
        if array.dtype.kind == "f":
            counts[f"{name}_nan"] = int(np.isnan(array).sum())
            counts[f"{name}_inf"] = int(np.isinf(array).sum())
    bad = {k: v for k, v in counts.items() if v}
    if not bad:
        return Finding("finite_data", "ok", "no NaN or Inf in inputs or targets", counts)
    shown = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in bad.items())
    return Finding("finite_data", "error", f"the batch contains {shown}", counts,
                   fix="clean the data set (drop or impute missing values) before batching; "
                   "check divisions by zero in preprocessing")  # fmt: skip


def check_input_scale(inputs: Any) -> Finding:
    """Inputs far from mean 0 / std 1 (raw 0..255 pixels above all) slow or stall training."""
    if inputs.dtype.kind != "f":
        return Finding("input_scale", "info", f"integer inputs ({inputs.dtype}), taken as "
                       "indices (e.g. token ids); scale not checked")  # fmt: skip
    finite = inputs[np.isfinite(inputs)]
    if finite.size == 0:
        return Finding("input_scale", "info", "no finite input values to measure")
    stats = _stats(finite)
    numbers = (f"mean {format_number(stats['mean'])}, std {format_number(stats['std'])}, "
               f"range {format_number(stats['min'])}..{format_number(stats['max'])}")  # fmt: skip
    integral = bool(np.all(finite == np.round(finite)))
    if integral and stats["min"] >= 0 and 10 < stats["max"] <= 255:
        return Finding("input_scale", "warning",
                       f"inputs are unnormalised integers 0..{stats['max']:g}, like raw pixel "
                       f"values ({numbers})", stats,
                       fix=f"divide by {255 if stats['max'] > 16 else stats['max']:g}, then "
                       "standardise: (x - mean) / std per channel")  # fmt: skip
    if abs(stats["mean"]) > 2 or stats["std"] > 5 or stats["std"] < 0.05:
        return Finding("input_scale", "warning", f"inputs are badly scaled ({numbers})", stats,
                       fix="standardise each feature to mean 0 / std 1 with statistics of the "
                       "training set: (x - mean) / std")  # fmt: skip
    return Finding("input_scale", "ok", f"inputs are well scaled ({numbers})", stats)


def check_modes(model: Any, batch_size: int) -> list[Finding]:
    """Eval mode left on (dropout/BatchNorm behave as in inference) and BatchNorm with batch 1."""
    frozen = [name or "(model)" for name, m in model.named_modules() if not m.training]
    if frozen:
        mode = Finding("train_mode", "warning",
                       f"{len(frozen)} module(s) in eval mode during training: "
                       f"{', '.join(frozen[:6])}", {"modules_in_eval_mode": len(frozen)},
                       fix="call model.train() before the training loop (and model.eval() "
                       "only for evaluation)", layers=frozen)  # fmt: skip
    else:
        mode = Finding("train_mode", "ok", "every module is in training mode")
    norms = [name for name, m in model.named_modules() if type(m).__name__.startswith("BatchNorm")]
    evidence = {"batch_size": batch_size, "batchnorm_layers": len(norms)}
    if not norms:
        batch = Finding("batchnorm_batch", "ok", "no BatchNorm layers", evidence)
    elif batch_size == 1:
        batch = Finding("batchnorm_batch", "error",
                        f"batch size 1 with BatchNorm in {', '.join(norms)}: batch statistics "
                        "of one sample are meaningless", evidence,
                        fix="use batches of 8 or more, or LayerNorm/GroupNorm, which do not "
                        "depend on the batch", layers=norms)  # fmt: skip
    else:
        batch = Finding("batchnorm_batch", "ok", f"BatchNorm sees batches of {batch_size}",
                        evidence)  # fmt: skip
    return [mode, batch]


def is_classification(loss_fn: Any, output: Any, targets: Any) -> bool:
    """A cross-entropy-type loss, or integer targets for an (N, C, ...) output."""
    name = type(loss_fn).__name__ if not hasattr(loss_fn, "__name__") else loss_fn.__name__
    integer_targets = targets.dtype.kind in "iu"
    return integer_targets and output.ndim >= 2 and (
        name in _CLASSIFICATION_LOSSES or output.shape[1] > 1)  # fmt: skip


def check_labels(loss_fn: Any, output: Any, targets: Any) -> Finding:
    """Class indices must lie in 0..C-1 (C = output.shape[1]), apart from ignore_index."""
    classes = output.shape[1]
    ignore = getattr(loss_fn, "ignore_index", -100)
    labels = targets[targets != ignore]
    low, high = (int(labels.min()), int(labels.max())) if labels.size else (0, 0)
    evidence = {"num_classes": classes, "min_label": low, "max_label": high}
    if low < 0 or high >= classes:
        return Finding("label_range", "error",
                       f"labels span {low}..{high} but the model outputs {classes} classes "
                       f"(valid 0..{classes - 1})", evidence,
                       fix=f"make the last layer output max_label + 1 = {high + 1} classes, "
                       "or map the labels to 0..C-1 (subtract 1 from 1-based labels)")  # fmt: skip
    return Finding("label_range", "ok", f"labels in 0..{classes - 1}", evidence)


def check_initial_loss(loss: float, output: Any, targets: Any) -> list[Finding]:
    """At initialisation a classifier should be unsure: loss near log(C)."""
    classes = output.shape[1]
    expected = math.log(classes)
    evidence = {"initial_loss": loss, "expected": expected, "ratio": loss / expected}
    findings = []
    rows = np.moveaxis(np.asarray(output, dtype=np.float64), 1, -1).reshape(-1, classes)
    if rows.min() >= 0 and np.allclose(rows.sum(axis=1), 1.0, atol=1e-3):
        findings.append(Finding("logits", "warning",
                                "the outputs are probabilities (rows >= 0 summing to 1), but "
                                "cross-entropy expects raw logits", {"row_sum": 1.0},
                                fix="remove the final Softmax: CrossEntropyLoss applies "
                                "log_softmax itself"))  # fmt: skip
    if not 0.5 <= loss / expected <= 1.5:
        findings.append(Finding("initial_loss", "warning",
                                f"initial loss {format_number(loss)} is far from log({classes}) "
                                f"= {expected:.3g} expected of an untrained classifier", evidence,
                                fix="the logits are too large or too confident: scale the inputs "
                                "(see input_scale), initialise the last layer smaller (e.g. "
                                "init.zeros_ on its bias, a smaller weight std); check the "
                                "labels and the loss"))  # fmt: skip
    else:
        findings.append(Finding("initial_loss", "ok",
                                f"initial loss {format_number(loss)} ≈ log({classes}) = "
                                f"{expected:.3g}", evidence))  # fmt: skip
    return findings
