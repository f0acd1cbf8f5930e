"""`export_weights`: a model's weights, alone, in a file other tools read (safetensors).

A training checkpoint (`last.npz`, `best.npz`) holds everything needed to resume;
to share or deploy a model only its `state_dict()` matters. Written to a path
ending in `.safetensors`, it loads in torch with `safetensors.torch.load_file`
(and into the matching torch model with `load_state_dict`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gradwork.serialization import save
from gradwork.train.checkpoint import load_checkpoint


def export_weights(source: Any, path: str | os.PathLike) -> Path:
    """Write the model weights of `source` to `path` (safetensors for `.safetensors`).

    Args:
        source: a `Trainer`, a `Module`, a checkpoint file written by
            `Trainer.save` / `ModelCheckpoint` (e.g. `run/checkpoints/best.npz`),
            or a checkpoint's state dict.
        path: the file to write; `.safetensors` gives torch's and Hugging
            Face's format, any other suffix gradwork's `.npz`.

    Returns:
        The path written.

    Example:
        >>> import gradwork as gw, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
        >>> _ = export_weights(gw.nn.Linear(2, 1), path)
        >>> sorted(gw.load(path))
        ['bias', 'weight']
    """
    save(model_weights(source), path)
    return Path(path)


def model_weights(source: Any) -> dict:
    """The model's state dict held by `source` (see `export_weights`)."""
    if hasattr(source, "model") and hasattr(source, "optimizer"):  # a Trainer
        source = source.model
    if hasattr(source, "state_dict") and callable(source.state_dict):
        return dict(source.state_dict())
    if isinstance(source, str | os.PathLike):
        source = load_checkpoint(source)
    if isinstance(source, dict) and isinstance(source.get("model"), dict):
        return dict(source["model"])
    raise TypeError(
        f"export_weights: expected a Trainer, a Module, a checkpoint path or a checkpoint "
        f"state, got {type(source).__name__}"
    )
