"""`generate`: sample a continuation from a language model, one token at a time.

It lives in `train` beside the language model because it needs a model
(`nn`) and draws from a generator; `data` may not import `nn` (see DESIGN.md's
layers), and it is a loop around a trained model, like `Trainer.predict`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradwork import autograd, random
from gradwork.tensor import Tensor
from gradwork.train.devices import model_device, to_device, to_host

__all__ = ["generate", "next_token_probabilities"]


def next_token_probabilities(logits: np.ndarray, temperature: float = 1.0,
                             top_k: int | None = None) -> np.ndarray:  # fmt: skip
    """softmax(logits / temperature) over the last axis, keeping only the `top_k` largest.

    Example:
        >>> p = next_token_probabilities(np.log([[0.5, 0.3, 0.2]]), top_k=2)
        >>> [round(float(v), 3) for v in p[0]]
        [0.625, 0.375, 0.0]
    """
    scaled = np.asarray(logits, np.float64) / temperature
    if top_k is not None and top_k < scaled.shape[-1]:
        # NOTE: ties at the k-th value are all kept (as in nanoGPT), so k is a floor.
        kth = np.sort(scaled, axis=-1)[..., -top_k][..., None]
        scaled = np.where(scaled < kth, -np.inf, scaled)
    scaled -= scaled.max(axis=-1, keepdims=True)
    weights = np.exp(scaled)
    return weights / weights.sum(axis=-1, keepdims=True)


def generate(
    model: Any,
    prompt_ids: Any,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Extend `prompt_ids` by `max_new_tokens` ids sampled from `model`'s next-token logits.

    Each step runs the model on the last `model.block_size` ids (its context,
    if it has the attribute), divides the last position's logits by
    `temperature` (below 1: sharper, above: more varied; 0: always the most
    likely id), keeps the `top_k` most likely ids if given, and samples one.
    The model runs in eval mode without gradients; its mode is restored.

    Args:
        model: maps ids (batch, seq) to logits (batch, seq, vocab).
        prompt_ids: ids (seq,) or (batch, seq): a list, an array or an integer Tensor.
        max_new_tokens: how many ids to add.
        temperature: >= 0.
        top_k: sample among the k most likely ids only (None: all).
        generator: a NumPy Generator for the draws (default: gradwork's seeded stream).

    Returns:
        An int64 Tensor of the prompt followed by the new ids, of the prompt's rank.

    Example:
        >>> import gradwork as gw
        >>> from gradwork.train.language_model import TransformerLM
        >>> _ = gw.manual_seed(0)
        >>> model = TransformerLM(vocab_size=6, d_model=8, nhead=2, num_layers=1, block_size=4)
        >>> out = generate(model, [1, 2], max_new_tokens=5, top_k=3)
        >>> out.shape, out[:2].tolist()
        ((7,), [1, 2])
    """
    _check(max_new_tokens, temperature, top_k)
    ids = np.array(to_host(prompt_ids), dtype=np.int64)
    unbatched = ids.ndim == 1
    ids = ids[None] if unbatched else ids
    if ids.ndim != 2 or ids.shape[1] == 0:
        raise ValueError(
            f"generate: prompt_ids must be a non-empty (seq,) or (batch, seq) array of ids, "
            f"got shape {ids.shape}"
        )
    generator = generator or random.generator()
    context = getattr(model, "block_size", None)
    was_training = getattr(model, "training", False)
    model.eval()
    device = model_device(model)  # ids stay on the host; each window goes to the model
    try:
        with autograd.no_grad():
            for _ in range(max_new_tokens):
                window = ids if context is None else ids[:, -context:]
                logits = to_host(model(to_device(Tensor(window), device))[:, -1, :])
                ids = np.concatenate([ids, _pick(logits, temperature, top_k, generator)], axis=1)
    finally:
        model.train(was_training)
    return Tensor(ids[0] if unbatched else ids)


def _pick(logits: np.ndarray, temperature: float, top_k: int | None,
          generator: np.random.Generator) -> np.ndarray:  # fmt: skip
    """One id per row: the argmax at temperature 0, else a draw from the probabilities."""
    if temperature == 0:
        return logits.argmax(axis=-1)[:, None]
    probabilities = next_token_probabilities(logits, temperature, top_k)
    # Inverse-CDF sampling: one uniform per row, vectorised over the batch.
    uniform = generator.random((len(probabilities), 1))
    picks = (probabilities.cumsum(axis=-1) < uniform).sum(axis=-1)
    # NOTE: rounding can leave the total a hair below u: fall back to the last id that
    # may be drawn (never one that top-k removed).
    last_allowed = probabilities.shape[-1] - 1 - (probabilities[:, ::-1] > 0).argmax(axis=-1)
    return np.minimum(picks, last_allowed)[:, None].astype(np.int64)


def _check(max_new_tokens: int, temperature: float, top_k: int | None) -> None:
    if max_new_tokens < 0:
        raise ValueError(f"generate: max_new_tokens must be >= 0, got {max_new_tokens}")
    if temperature < 0:
        raise ValueError(
            f"generate: temperature must be >= 0 (0 picks the most likely id), got {temperature}"
        )
    if top_k is not None and top_k < 1:
        raise ValueError(f"generate: top_k must be at least 1 (or None for all ids), got {top_k}")
