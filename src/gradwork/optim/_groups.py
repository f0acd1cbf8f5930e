"""Parameter groups that exempt biases and normalisation parameters from weight decay."""

from __future__ import annotations

from typing import Any

__all__ = ["param_groups_no_decay"]


def param_groups_no_decay(model: Any, weight_decay: float) -> list[dict[str, Any]]:
    """Two parameter groups: decayed weights, and undecayed biases and norm parameters.

    Decaying a bias or a normalisation layer's scale pulls it towards zero for
    no benefit, so common practice (BERT, GPT, timm) exempts them. A parameter
    goes to the no-decay group when its name ends in "bias", when it has at
    most one dimension, or when it belongs to a module whose class name
    contains "Norm" (BatchNorm1d, LayerNorm, GroupNorm, ...).

    Args:
        model: anything with `named_parameters()`; `named_modules()` is used
            when present to find normalisation layers.
        weight_decay: the decay of the first group.

    Returns:
        `[{"params": [...], "param_names": [...], "weight_decay": weight_decay},
        {"params": [...], "param_names": [...], "weight_decay": 0.0}]`, leaving
        out a group that would be empty. The names let the optimizer's state
        be loaded by name later.

    Example:
        >>> import gradwork as gw
        >>> from gradwork import optim
        >>> class Tiny:
        ...     def named_parameters(self):
        ...         return [("weight", gw.ones(2, 3, requires_grad=True)),
        ...                 ("bias", gw.zeros(2, requires_grad=True))]
        >>> groups = optim.param_groups_no_decay(Tiny(), 0.01)
        >>> [(g["param_names"], g["weight_decay"]) for g in groups]
        [(['weight'], 0.01), (['bias'], 0.0)]
    """
    norm_modules = set()
    if hasattr(model, "named_modules"):
        norm_modules = {
            name for name, module in model.named_modules() if "Norm" in type(module).__name__
        }
    decay: dict[str, list] = {"params": [], "param_names": []}
    no_decay: dict[str, list] = {"params": [], "param_names": []}
    for name, param in model.named_parameters():
        owner = name.rpartition(".")[0]
        exempt = name.endswith("bias") or param.ndim <= 1 or owner in norm_modules
        target = no_decay if exempt else decay
        target["params"].append(param)
        target["param_names"].append(name)
    groups = [{**decay, "weight_decay": weight_decay}, {**no_decay, "weight_decay": 0.0}]
    return [group for group in groups if group["params"]]
