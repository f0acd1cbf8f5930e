"""The `text` data source of a run config: character windows for a language model.

[data] name = "text" reads `data.path` (a UTF-8 text file) or, when no path is
given, CPython's bundled help topics (`gradwork.data.load_pydoc_text`). The
characters are split BY POSITION into train / validation / test parts
(`data.split`), and each part is cut into non-overlapping windows of
`model.block_size` characters: one epoch predicts every training character once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gradwork import data
from gradwork.data import text
from gradwork.train.config import ConfigError


def text_splits(config: dict) -> tuple[tuple, dict]:
    """(train, val, test) window data sets and the run's data description (`info`)."""
    spec, block = config["data"], config["model"]["block_size"]
    try:
        corpus = Path(spec["path"]).read_text(encoding="utf-8") if spec["path"] else None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(
            f"data.path = {spec['path']!r}: not a readable UTF-8 text: {error}"
        ) from None
    corpus = text.load_pydoc_text() if corpus is None else corpus
    vocabulary = text.CharVocabulary(corpus)
    parts = text.split_by_position(vocabulary.encode(corpus), spec["split"])
    if len(parts[0]) <= block:
        raise ConfigError(
            f"data: the training part holds {len(parts[0])} characters, not enough for one "
            f"window of model.block_size = {block} plus the next character; use a longer "
            "text, a larger training fraction or a smaller block_size"
        )
    splits = tuple(_windows(part, block) for part in parts)
    info = {
        "task": "language-model",
        "input_shape": [block],
        "outputs": len(vocabulary),
        "vocabulary": "".join(vocabulary.chars),  # the ids' meaning, to decode samples later
        "characters": len(corpus),
        "source": spec["path"] or "pydoc_data.topics",
    }
    info["sizes"] = dict(zip(("train", "val", "test"), (len(s) for s in splits), strict=True))
    return splits, info


def _windows(ids: np.ndarray, block: int) -> data.TensorDataset:
    if len(ids) <= block:  # a part too short for one window is an empty split
        empty = np.zeros((0, block), np.int64)
        return data.TensorDataset(empty, empty)
    return text.NextCharDataset(ids, block, stride=block)
