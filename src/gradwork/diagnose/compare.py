"""`compare`: run a PyTorch model and its gradwork port side by side, layer by layer.

For people porting a model: the torch model's weights are loaded into the
gradwork model, both run the same inputs, and every layer's output (forward)
and the gradient reaching it (backward) are compared. The report names the
first layer that differs beyond tolerance in each direction, with the size of
the difference; the layers before it agree, so the bug is in that layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradwork.diagnose.findings import Finding, FindingsReport, format_number
from gradwork.tensor import Tensor
from gradwork.train.devices import model_device


@dataclass
class LayerDiff:
    """One layer's agreement: the largest absolute and relative differences.

    `output_*` compare the layer's outputs; `grad_*` the gradient of the loss
    with respect to those outputs; `param_grad_*` the gradients of the
    layer's own parameters (None when it has none, or no backward ran).
    """

    name: str
    kind: str
    output_abs: float
    output_rel: float
    grad_abs: float | None = None
    grad_rel: float | None = None
    param_grad_abs: float | None = None
    param_grad_rel: float | None = None
    params_ok: bool = True
    backward_abs: float | None = None  # for the backward culprit: the wrong gradient's size
    backward_rel: float | None = None


@dataclass
class CompareReport(FindingsReport):
    """Every compared layer in forward order, and the first that differs each way."""

    layers: list[LayerDiff] = field(default_factory=list)
    first_forward: LayerDiff | None = None
    first_backward: LayerDiff | None = None
    findings: list[Finding] = field(default_factory=list)
    rtol: float = 1e-4
    atol: float = 1e-5

    def __str__(self) -> str:
        lines = [f"{'layer':<28} {'kind':<16} {'out |Δ|':>10} {'out rel':>10} "
                 f"{'grad |Δ|':>10} {'param grad |Δ|':>15}"]  # fmt: skip
        for layer in self.layers:
            lines.append(
                f"{layer.name:<28} {layer.kind:<16} {format_number(layer.output_abs):>10} "
                f"{format_number(layer.output_rel):>10} {format_number(layer.grad_abs):>10} "
                f"{format_number(layer.param_grad_abs):>15}"
            )
        lines += [str(finding) for finding in self.findings]
        return "\n".join(lines)


def _differences(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return np.inf, np.inf
    if a.size == 0:
        return 0.0, 0.0
    absolute = float(np.max(np.abs(a - b)))
    return absolute, absolute / max(float(np.max(np.abs(b))), 1e-12)


def _first_tensor(value: Any) -> Any:
    while isinstance(value, tuple | list) and value:
        value = value[0]
    return value


def _record(model: Any, is_torch: bool, outputs: dict, order: list) -> list:
    """Forward hooks on every leaf layer: keep its output (and ask for its gradient)."""
    handles = []
    for name, module in model.named_modules():
        if not name or any(True for _ in module.children()):
            continue

        def hook(module: Any, args: Any, output: Any, name: str = name) -> None:
            output = _first_tensor(output)
            outputs[name] = output
            if is_torch and name not in order:
                order.append(name)
            if output.requires_grad:
                output.retain_grad()

        handles.append(module.register_forward_hook(hook))
    return handles


def compare(
    torch_model: Any,
    gradwork_model: Any,
    inputs: Any,
    rtol: float = 1e-4,
    atol: float = 1e-5,
    load_weights: bool = True,
    seed: int = 0,
) -> CompareReport:
    """Compare a PyTorch model and its gradwork port layer by layer, forward and backward.

    Args:
        torch_model: the reference `torch.nn.Module`.
        gradwork_model: the port, with the same layer names (its `state_dict` keys).
        inputs: one input or a tuple of inputs (arrays or torch tensors), given to both.
        rtol, atol: a layer differs when |a - b| > atol + rtol * |b| somewhere.
        load_weights: load the torch model's `state_dict()` into the port first.
        seed: the random projection that turns the output into a scalar loss.

    Returns:
        A `CompareReport`: a row per leaf layer, and findings naming the first
        layer whose output, or whose gradient, differs.

    Example (needs torch; tests/diagnose/test_compare.py runs it)::

        reference = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
                                        torch.nn.Linear(8, 2))
        port = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        report = compare(reference, port, np.ones((3, 4), np.float32))
        report.ok, report.first_forward   # (True, None)
    """
    try:
        import torch
    except ImportError as error:
        raise ImportError("compare needs PyTorch: pip install torch") from error

    if load_weights:
        state = {k: v.detach().cpu().numpy() for k, v in torch_model.state_dict().items()}
        gradwork_model.load_state_dict(state)
    arrays = [np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)
              for x in (inputs if isinstance(inputs, tuple | list) else (inputs,))]  # fmt: skip
    torch_outputs: dict = {}
    ours: dict = {}
    order: list[str] = []
    handles = _record(torch_model, True, torch_outputs, order)
    handles += _record(gradwork_model, False, ours, [])
    try:
        torch_out = _first_tensor(torch_model(*[torch.from_numpy(a.copy()) for a in arrays]))
        device = model_device(gradwork_model)  # the port may live on the GPU
        our_out = _first_tensor(gradwork_model(*[Tensor(a.copy()).to(device) for a in arrays]))
        projection = np.random.default_rng(seed).standard_normal(tuple(torch_out.shape))
        projection = projection.astype(torch_out.detach().numpy().dtype)
        if torch_out.requires_grad and our_out.requires_grad:
            (torch_out * torch.from_numpy(projection)).sum().backward()
            (our_out * Tensor(projection).to(device)).sum().backward()
    finally:
        for handle in handles:
            handle.remove()
    report = CompareReport(rtol=rtol, atol=atol)
    _fill(report, order, torch_outputs, ours, dict(torch_model.named_modules()),
          dict(gradwork_model.named_modules()))  # fmt: skip
    return report


def _beyond(a: Any, b: Any, rtol: float, atol: float) -> bool:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a.shape != b.shape or not np.all(np.abs(a - b) <= atol + rtol * np.abs(b))


def _fill(report: CompareReport, order: list, theirs: dict, ours: dict, torch_modules: dict,
          our_modules: dict) -> None:  # fmt: skip
    grad_ok: list[bool] = []
    for name in order:
        if name not in ours:
            report.findings.append(Finding(
                "missing_layer", "error", f"`{name}` ran in the torch model but not in the port",
                fix="give the port's layer the torch layer's name (its state_dict key)",
                layers=[name]))  # fmt: skip
            continue
        reference, port = theirs[name], ours[name]
        expected = reference.detach().numpy()
        ported = port.detach().cpu().numpy()  # an explicit copy when the port is on a GPU
        diff = LayerDiff(name, type(our_modules[name]).__name__, *_differences(ported, expected))
        if report.first_forward is None and _beyond(ported, expected, report.rtol, report.atol):
            report.first_forward = diff
        ok = True
        if reference.grad is not None and port.grad is not None:
            diff.grad_abs, diff.grad_rel = _differences(
                port.grad.cpu().numpy(), reference.grad.cpu().numpy()
            )
            ok = not _beyond(
                port.grad.cpu().numpy(), reference.grad.cpu().numpy(), report.rtol, report.atol
            )
        ok_params = _parameter_grads(diff, torch_modules[name], our_modules[name], report)
        report.layers.append(diff)
        grad_ok.append(ok)
        diff.params_ok = ok_params
    # Backward runs from the last layer: the culprit is the first, going backwards, that
    # received a correct gradient but passed a wrong one on (or got its weights' wrong).
    for i in range(len(report.layers) - 1, -1, -1):
        passes_wrong = i > 0 and not grad_ok[i - 1]
        if grad_ok[i] and (passes_wrong or not report.layers[i].params_ok):
            culprit = report.first_backward = report.layers[i]
            if passes_wrong:  # the size of what it passed on
                culprit.backward_abs = report.layers[i - 1].grad_abs
                culprit.backward_rel = report.layers[i - 1].grad_rel
            else:
                culprit.backward_abs = culprit.param_grad_abs
                culprit.backward_rel = culprit.param_grad_rel
            break
    for direction, diff in (("forward", report.first_forward), ("backward", report.first_backward)):
        if diff is not None:
            report.findings.append(_mismatch(direction, diff, report))


def _parameter_grads(diff: LayerDiff, theirs: Any, ours: Any, report: CompareReport) -> bool:
    """Fill the worst parameter-gradient difference; False when one is beyond tolerance."""
    worst, ok = (None, None), True
    for (_, p), (_, q) in zip(theirs.named_parameters(), ours.named_parameters(), strict=False):
        if p.grad is None or q.grad is None:
            continue
        found = _differences(q.grad.cpu().numpy(), p.grad.cpu().numpy())
        ok = ok and not _beyond(
            q.grad.cpu().numpy(), p.grad.cpu().numpy(), report.rtol, report.atol
        )
        if worst[0] is None or found[0] > worst[0]:
            worst = found
    diff.param_grad_abs, diff.param_grad_rel = worst
    return ok


def _mismatch(direction: str, diff: LayerDiff, report: CompareReport) -> Finding:
    if direction == "forward":
        size, relative = diff.output_abs, diff.output_rel
        what = "its output differs"
    else:
        size, relative = diff.backward_abs, diff.backward_rel
        what = "it got a matching gradient but passes on (or computes for its weights) another"
    return Finding(
        f"{direction}_mismatch", "error",
        f"`{diff.name}` ({diff.kind}) is the first layer of the {direction} pass that "
        f"differs: {what}; max |Δ| {format_number(size)} (relative "
        f"{format_number(relative)}), beyond atol {report.atol:g} + rtol {report.rtol:g}",
        {"abs": size, "rel": relative},
        fix=f"check `{diff.name}`'s {direction} against torch's (arguments, defaults, weight "
            "layout); every layer before it agrees",
        layers=[diff.name],
    )  # fmt: skip
