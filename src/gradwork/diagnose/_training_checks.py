"""The doctor's checks that train: gradients present, overfitting one batch, update sizes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradwork.autograd import no_grad
from gradwork.diagnose.findings import Finding, format_number
from gradwork.diagnose.gradient_monitor import GradientMonitor


def check_gradients_present(model: Any) -> Finding:
    """After one backward every trainable parameter should have a non-zero gradient."""
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    missing = [n for n, p in trainable if p.grad is None]
    zero = [n for n, p in trainable if p.grad is not None and not np.any(p.grad.array)]
    evidence = {"parameters": len(trainable), "without_grad": len(missing), "zero_grad": len(zero)}
    if missing:
        return Finding("gradients_present", "error",
                       f"{len(missing)} of {len(trainable)} parameters got no gradient: "
                       f"{', '.join(missing[:6])}", evidence,
                       fix="these parameters are not used in forward, or the graph is cut "
                       "(.detach(), .numpy(), gw.no_grad(), a Python float) between them and "
                       "the loss; use them, or freeze them with requires_grad_(False)",
                       layers=missing)  # fmt: skip
    if zero:
        return Finding("gradients_present", "warning",
                       f"{len(zero)} parameters have an all-zero gradient: {', '.join(zero[:6])}",
                       evidence, fix="a zero gradient comes from dead units (ReLU never "
                       "active), a Step/argmax/round in the path, or a loss that ignores this "
                       "output; see the activation findings", layers=zero)  # fmt: skip
    return Finding(
        "gradients_present",
        "ok",
        f"all {len(trainable)} trainable parameters have a non-zero gradient",
        evidence,
    )


def overfit(model: Any, loss_fn: Any, inputs: Any, targets: Any, optimizer: Any,
            steps: int, monitor: GradientMonitor | None,
            min_reduction: float | None = None) -> list[float]:  # fmt: skip
    """Train on one batch for up to `steps` steps; the losses.

    Stops at the first non-finite loss, and once the batch is memorised (see
    `memorised`) when `min_reduction` is given.
    """
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        losses.append(float(loss.item()))
        if not math.isfinite(losses[-1]):
            break
        if min_reduction and len(losses) > 1 and memorised(losses, min_reduction):
            break
        loss.backward()
        if monitor is not None:
            monitor.record()
        with no_grad():
            optimizer.step()
        if monitor is not None:
            monitor.record_update()
    return losses


def memorised(losses: list[float], min_reduction: float) -> bool:
    """The loss fell by `min_reduction` from the first step, or to (nearly) zero."""
    first, best = losses[0], min(losses)
    return best <= first / min_reduction or best < 1e-3 * max(first, 1e-12) or best < 1e-4


def check_overfit(losses: list[float], steps: int, min_reduction: float,
                  reference: list[float] | None = None,
                  reference_label: str = "Adam") -> Finding:  # fmt: skip
    """One small batch should be memorised: the loss falls by a large factor within `steps`.

    `reference`: the losses of the same test with a reference optimizer on a fresh copy
    of the model, run when yours falls short; it separates "the learning rate is too
    low" (the reference memorises) from "the model has a bug" (it cannot either).
    """
    first, best, last, worst = losses[0], min(losses), losses[-1], max(losses)
    evidence = {"initial_loss": first, "best_loss": best, "final_loss": last,
                "peak_loss": worst, "steps": len(losses)}  # fmt: skip
    if not math.isfinite(last) or worst > 3 * first:
        return Finding("overfit_one_batch", "error",
                       f"training on one batch diverged: loss {format_number(first)} rose to "
                       f"{format_number(worst)} (at step {losses.index(worst) + 1} of "
                       f"{len(losses)}); final {format_number(last)}", evidence,
                       fix="the learning rate is too high: divide it by 10 (and clip "
                       "gradients with gw.nn.utils.clip_grad_norm_)")  # fmt: skip
    reduction = first / best if best > 0 else math.inf
    evidence["reduction"] = reduction
    if memorised(losses, min_reduction):
        return Finding("overfit_one_batch", "ok",
                       f"overfits one batch: loss {format_number(first)} -> "
                       f"{format_number(best)} ({format_number(reduction)}x) in {len(losses)} "
                       "steps", evidence)  # fmt: skip
    if reference is None:
        return _cannot_overfit(losses, steps, min_reduction, evidence)
    # NOTE: a slow optimizer is not a broken model. The reference (Adam, whose step
    # is nearly scale-free) on a fresh copy tells the two apart.
    evidence["reference_losses"] = reference
    reference_reduction = reference[0] / min(reference) if min(reference) > 0 else math.inf
    if not memorised(reference, min_reduction):
        return _cannot_overfit(losses, steps, min_reduction, evidence, reference_label,
                               reference_reduction)  # fmt: skip
    learned = (f"your optimizer lowers the loss {format_number(first)} -> "
               f"{format_number(best)} ({format_number(reduction)}x) in {len(losses)} steps; "
               f"{reference_label} memorises the batch ({format_number(reference_reduction)}x "
               f"in {len(reference)} steps), so the model can learn")  # fmt: skip
    if reduction >= 2:
        return Finding("overfit_one_batch", "info", learned + " (slowly at this learning rate)",
                       evidence)  # fmt: skip
    return Finding("overfit_one_batch", "warning", learned + ", but not with your settings",
                   evidence, fix="the learning rate is too low for this model: raise it "
                   "(about 10x), or use Adam")  # fmt: skip


def _cannot_overfit(losses, steps, min_reduction, evidence, label=None, ratio=None) -> Finding:
    first, best = losses[0], min(losses)
    also = f"; neither can {label} ({format_number(ratio)}x)" if label else ""
    return Finding("overfit_one_batch", "warning",
                   f"cannot overfit one batch: loss {format_number(first)} -> "
                   f"{format_number(best)} (only {format_number(evidence['reduction'])}x, "
                   f"expected >= {min_reduction:g}x) in {len(losses)} steps{also}", evidence,
                   fix="a model that cannot memorise a few samples has a bug: check the "
                   "loss/target pairing, detached tensors, vanishing gradients below; or the "
                   "learning rate is too low")  # fmt: skip


def check_update_ratio(monitor: GradientMonitor, low: float, high: float) -> Finding:
    """|update| / |weight| per step should be near 1e-3: much larger is unstable, much smaller slow.

    NOTE: "too high" is judged on each layer's LARGEST ratio over the steps and
    "too low" on its median: one huge step can wreck a network (all ReLUs
    dead, updates zero afterwards), and the zeros that follow must not make a
    learning rate of 10 look too small.
    """
    peaks, typical = {}, {}
    for row in monitor.report().rows:
        ratios = [r for r in row.update_ratios if r is not None and math.isfinite(r)]
        if ratios and row.weight_norms[0] > 0:
            peaks[row.layer], typical[row.layer] = max(ratios), float(np.median(ratios))
    if not peaks:
        return Finding("update_ratio", "info", "no update could be measured")
    peak, median = float(np.median(list(peaks.values()))), float(np.median(list(typical.values())))
    evidence = {"median_ratio": median, "peak_ratio": peak,
                **{f"layer {k}": v for k, v in typical.items()}}  # fmt: skip
    if peak > high:
        ordered = sorted(peaks, key=peaks.get, reverse=True)
        shown = ", ".join(f"{k} {format_number(peaks[k])}" for k in ordered[:4])
        return Finding("update_ratio", "error" if peak > 10 * high else "warning",
                       f"updates reach {format_number(peak)} of the weights in one step "
                       f"(median over layers of the largest step; {shown}); ~1e-3 is typical",
                       evidence, fix="the learning rate is too high: lower it about "
                       f"{format_number(peak / 1e-3)}x", layers=ordered)  # fmt: skip
    if median < low:
        ordered = sorted(typical, key=typical.get)
        shown = ", ".join(f"{k} {format_number(typical[k])}" for k in ordered[:4])
        return Finding("update_ratio", "warning",
                       f"updates are only {format_number(median)} of the weights per step "
                       f"(median over layers and steps; {shown}); ~1e-3 is typical", evidence,
                       fix="the learning rate is too low: raise it about "
                       f"{format_number(1e-3 / max(median, 1e-30))}x", layers=ordered)  # fmt: skip
    return Finding("update_ratio", "ok",
                   f"update/weight ratio {format_number(median)} per step (median over layers "
                   f"and steps; largest {format_number(peak)})", evidence)  # fmt: skip
