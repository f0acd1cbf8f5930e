"""The doctor's checks for attention models: attention-entropy collapse and exploding logits.

Both look at the first forward pass, before any training step, of a model
that holds `nn.MultiheadAttention` layers (a Transformer):

* attention_entropy: each MultiheadAttention is made to return its per-head
  weights (a forward pre-hook sets need_weights=True, average_attn_weights=False,
  so it works inside TransformerEncoderLayer, which asks for none). A layer
  whose weights are nearly one-hot for almost every query, across the batch,
  has "collapsed": its softmax is saturated, so its gradients vanish and it
  can only copy one token (Zhai et al., 2023, "Stabilizing Transformer
  Training by Preventing Attention Entropy Collapse"). At initialisation this
  means the attention logits q.k / sqrt(d) are far too large.
* exploding_logits: the output logits' largest magnitude. Above ~50 at
  initialisation, softmax is one-hot, the initial loss is huge and the first
  updates are violent (usually an un-scaled tied embedding or a bad init).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradwork import nn
from gradwork.diagnose.findings import Finding, format_number
from gradwork.train.devices import to_host

ONE_HOT = 0.98  # a query's attention is "one-hot" when its largest weight exceeds this
COLLAPSED_FRACTION = 0.9  # a layer has collapsed when this share of its queries is one-hot
MAX_LOGIT = 50.0


class AttentionCapture:
    """Records the per-head attention weights of every MultiheadAttention while active.

    Example:
        >>> import gradwork as gw
        >>> layer = gw.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
        >>> with AttentionCapture(layer) as capture:
        ...     _ = layer(gw.randn(3, 5, 8))
        >>> capture.weights["self_attn"].shape  # (batch, heads, queries, keys)
        (3, 2, 5, 5)
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.weights: dict[str, np.ndarray] = {}
        self.visible: dict[str, np.ndarray] = {}  # keys each query may attend to (N, 1|H, L)
        self._handles: list[Any] = []

    def __enter__(self) -> AttentionCapture:
        for name, module in self.model.named_modules():
            if isinstance(module, nn.MultiheadAttention):
                self._handles.append(module.register_forward_pre_hook(
                    _ask_for_weights, with_kwargs=True))  # fmt: skip
                self._handles.append(module.register_forward_hook(self._recorder(name),
                                                                  with_kwargs=True))  # fmt: skip
        return self

    def __exit__(self, *exc: Any) -> None:
        for handle in self._handles:
            handle.remove()

    def _recorder(self, name: str) -> Any:
        def record(module: Any, args: tuple, kwargs: dict, output: Any) -> None:
            weights = output[1] if isinstance(output, tuple) and len(output) > 1 else None
            if weights is not None:
                array = to_host(weights).astype(np.float64)
                array = array if array.ndim == 4 else array[None]
                self.weights[name or "(model)"] = array
                self.visible[name or "(model)"] = _visible_keys(kwargs, array.shape)

        return record


def _ask_for_weights(module: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    # Positional need_weights (5th argument) is moved into the keywords.
    kwargs = {**kwargs, "need_weights": True, "average_attn_weights": False}
    return args[:4], kwargs


def _visible_keys(kwargs: dict, shape: tuple) -> np.ndarray:
    """How many keys each query may see, from attn_mask and key_padding_mask (True/-inf: hidden).

    NOTE: read from the masks, not from the weights: in a collapse the other keys'
    weights underflow to 0 and would look masked.
    """
    batch, heads, queries, keys = shape
    allowed = np.ones((batch, 1, queries, keys), dtype=bool)
    for name in ("attn_mask", "key_padding_mask"):
        mask = kwargs.get(name)
        if mask is None:
            continue
        array = to_host(mask)
        hidden = array if array.dtype == bool else np.isneginf(array)
        if name == "key_padding_mask":
            hidden = hidden.reshape(-1, 1, 1, hidden.shape[-1])
        elif hidden.ndim == 3:  # (batch * heads, L, S)
            hidden = hidden.reshape(batch, heads, queries, -1)
        if hidden.shape[-1] == keys:  # (add_bias_kv / add_zero_attn add keys: left visible)
            allowed = allowed & ~hidden
    return allowed.sum(axis=-1)


def has_attention(model: Any) -> bool:
    return any(isinstance(m, nn.MultiheadAttention) for m in model.modules())


def check_attention_entropy(weights: dict[str, np.ndarray],
                            visible: dict[str, np.ndarray] | None = None) -> Finding:  # fmt: skip
    """Flag layers whose attention is nearly one-hot for almost every query of the batch."""
    evidence, collapsed = {}, []
    for name, array in weights.items():
        # Queries that can see only one key (the first under a causal mask) are one-hot
        # by construction: they say nothing about saturation and are left out.
        choices = (visible or {}).get(name, np.array(array.shape[-1]))
        # NOTE: in training mode the weights come after attention dropout (as torch's):
        # rows are renormalised, and a row whose every kept weight was dropped is left out.
        totals = array.sum(axis=-1, keepdims=True)
        array = array / np.where(totals > 0, totals, 1.0)
        peaks = array.max(axis=-1)
        informative = np.broadcast_to(choices >= 2, peaks.shape) & (totals[..., 0] > 0)
        share = float((peaks[informative] > ONE_HOT).mean()) if informative.any() else 0.0
        entropy = -(array * np.log(np.where(array > 0, array, 1.0))).sum(axis=-1)
        evidence[name] = {"one_hot_share": share, "mean_entropy": float(entropy.mean())}
        if share >= COLLAPSED_FRACTION:
            collapsed.append(name)
    if not weights:
        return Finding("attention_entropy", "info", "no attention weights were recorded")
    if not collapsed:
        worst = max(evidence, key=lambda n: evidence[n]["one_hot_share"])
        return Finding("attention_entropy", "ok",
                       f"attention spread over the keys in {len(weights)} attention layers "
                       f"(most one-hot: {worst}, {evidence[worst]['one_hot_share']:.0%} of "
                       "queries)", evidence)  # fmt: skip
    first = evidence[collapsed[0]]
    return Finding(
        "attention_entropy", "warning",
        f"attention has collapsed in {len(collapsed)} of {len(weights)} layers before "
        f"training: in {collapsed[0]}, {first['one_hot_share']:.0%} of the queries put more "
        f"than {ONE_HOT:.0%} of their weight on a single key (mean entropy "
        f"{format_number(first['mean_entropy'])} nats); the softmax is saturated, so these "
        "layers barely learn",
        evidence,
        fix="the attention logits q.k/sqrt(d) are too large: keep the inputs of attention at "
        "unit scale (norm_first=True, or a LayerNorm before it), use the default init of "
        "in_proj_weight, and warm the learning rate up",
        layers=collapsed,
    )  # fmt: skip


def check_output_logits(output: Any, limit: float = MAX_LOGIT) -> Finding:
    """Flag output logits whose largest magnitude exceeds `limit` at initialisation."""
    array = to_host(output)
    largest = float(np.abs(array).max()) if array.size else 0.0
    evidence = {"max_abs_logit": largest, "std": float(array.std()) if array.size else 0.0}
    if largest <= limit:
        return Finding("exploding_logits", "ok",
                       f"output logits are moderate (max |logit| {format_number(largest)})",
                       evidence)  # fmt: skip
    return Finding(
        "exploding_logits", "warning",
        f"the output logits reach |{format_number(largest)}| (std "
        f"{format_number(evidence['std'])}) before training; above ~{limit:g} the softmax is "
        "one-hot, the initial loss is far above log(classes) and the first steps are violent",
        evidence,
        fix="scale the output layer down: initialise a tied embedding with std ~0.02 (or "
        "1/sqrt(d_model)), add a final LayerNorm before the head, or divide the logits by "
        "sqrt(d_model)",
    )  # fmt: skip


def attention_findings(capture: AttentionCapture, output: Any) -> list[Finding]:
    """Both checks, for the doctor (called only for models that hold attention layers)."""
    return [check_attention_entropy(capture.weights, capture.visible), check_output_logits(output)]
