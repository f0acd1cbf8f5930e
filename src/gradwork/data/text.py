"""Character-level text: a corpus that ships with Python, a vocabulary, next-character windows.

The corpus is CPython's own documentation: `pydoc_data.topics` holds the text
that `help("assert")`, `help("if")`, ... print - about 0.5 MB of English prose
(with some grammar and code samples) in every Python installation, so nothing
is downloaded and every machine reads the same characters. Alternatives that
also ship with Python are much smaller (`this`, the Zen of Python: 0.8 kB) or
are code rather than prose (the standard library's sources).

A language model reads `block_size` characters and predicts, at every
position, the next one: sample `i` is `x = ids[i : i + block_size]` and
`y = ids[i + 1 : i + block_size + 1]`.

Example:
    >>> from gradwork.data import text
    >>> vocab = text.CharVocabulary("hello world")
    >>> vocab.encode("low").tolist(), vocab.decode([4, 5, 7])
    ([4, 5, 7], 'low')
    >>> windows = text.NextCharDataset(vocab.encode("hello world"), block_size=4)
    >>> x, y = windows[0]
    >>> vocab.decode(x), vocab.decode(y)
    ('hell', 'ello')
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from gradwork import _arrays
from gradwork.data.dataset import TensorDataset

__all__ = [
    "load_pydoc_text",
    "CharVocabulary",
    "NextCharDataset",
    "split_by_position",
    "char_corpus",
]


def load_pydoc_text() -> str:
    """CPython's help topics (`pydoc_data.topics`) as one string, topics in name order.

    The exact text depends on the Python version (3.11: 465k characters, 103
    distinct); within one version it is the same on every machine.

    Example:
        >>> text = load_pydoc_text()
        >>> len(text) > 100_000 and "statement" in text
        True
    """
    from pydoc_data.topics import topics  # imported here: 0.5 MB, only when asked for

    return "\n\n".join(topics[name] for name in sorted(topics))


class CharVocabulary:
    """The sorted set of characters of a text; `encode` maps a string to ids, `decode` back.

    Sorting makes the ids a function of the set of characters only, so the same
    corpus always gives the same vocabulary (and a saved model its meaning).

    Example:
        >>> vocab = CharVocabulary("banana")
        >>> vocab.chars, len(vocab)
        (['a', 'b', 'n'], 3)
    """

    def __init__(self, text: str) -> None:
        self.chars = sorted(set(text))
        self._ids = {char: index for index, char in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """The int64 ids of the characters of `text`; KeyError names any unknown character."""
        try:
            return np.fromiter((self._ids[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError as error:
            raise KeyError(
                f"CharVocabulary.encode: character {error.args[0]!r} is not in the vocabulary "
                f"of {len(self)} characters; build the vocabulary from a text that contains it"
            ) from None

    def decode(self, ids: Iterable[Any]) -> str:
        """The string of the ids (a list, an array or an integer Tensor)."""
        # Text is made on the host: device ids are copied there, explicitly.
        array = np.asarray(_arrays.to_host(getattr(ids, "array", ids))).reshape(-1)
        return "".join(self.chars[int(i)] for i in array)

    def __repr__(self) -> str:
        return f"CharVocabulary({len(self)} characters)"


class NextCharDataset(TensorDataset):
    """(x, y) windows of `block_size` ids, y shifted one position ahead of x.

    A TensorDataset over two sliding-window VIEWS of `ids` (no copy: a window
    per position costs no memory), so the DataLoader cuts a batch with one
    fancy index.

    Args:
        ids: the encoded text, a 1-D integer array.
        block_size: the context length, the number of characters in x (and in y).
        stride: the distance between the starts of consecutive windows (1: every
            position; `block_size`: windows that do not overlap).

    Example:
        >>> ds = NextCharDataset(np.arange(10), block_size=3, stride=2)
        >>> len(ds), ds[1][0].tolist(), ds[1][1].tolist()
        (4, [2, 3, 4], [3, 4, 5])
    """

    def __init__(self, ids: Any, block_size: int, stride: int = 1) -> None:
        ids = np.asarray(getattr(ids, "array", ids))
        if ids.ndim != 1 or ids.dtype.kind not in "iu":
            raise TypeError(
                f"NextCharDataset: ids must be a 1-D integer array (vocabulary.encode(text)), "
                f"got {ids.dtype} of shape {ids.shape}"
            )
        if block_size < 1 or stride < 1:
            raise ValueError(
                f"NextCharDataset: block_size and stride must be at least 1, got "
                f"block_size={block_size}, stride={stride}"
            )
        if len(ids) < block_size + 1:
            raise ValueError(
                f"NextCharDataset: a text of {len(ids)} characters holds no window of "
                f"block_size={block_size} plus the next character; use a longer text or a "
                f"smaller block_size"
            )
        windows = sliding_window_view(ids.astype(np.int64, copy=False), block_size + 1)[::stride]
        super().__init__(windows[:, :-1], windows[:, 1:])
        self.block_size, self.stride = block_size, stride


def split_by_position(ids: Any, fractions: Sequence[float]) -> list[np.ndarray]:
    """Cut a sequence into consecutive parts of the given fractions (no shuffling).

    Text is split by position, not by random windows: overlapping windows drawn
    at random would put almost every validation character in some training window.

    Example:
        >>> [part.tolist() for part in split_by_position(np.arange(10), [0.8, 0.2])]
        [[0, 1, 2, 3, 4, 5, 6, 7], [8, 9]]
    """
    if any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"split_by_position: fractions must be >= 0 and sum to 1, got {fractions}")
    ids = np.asarray(getattr(ids, "array", ids))
    ends = np.round(np.cumsum(fractions) * len(ids)).astype(int)
    starts = np.concatenate([[0], ends[:-1]])
    return [ids[start:end] for start, end in zip(starts, ends, strict=True)]


def char_corpus(
    block_size: int,
    text: str | None = None,
    val_fraction: float = 0.1,
    stride: int = 1,
) -> tuple[CharVocabulary, NextCharDataset, NextCharDataset]:
    """(vocabulary, train windows, validation windows) of a text (default: pydoc's topics).

    The first `1 - val_fraction` of the characters train, the rest validate.

    Example:
        >>> vocab, train, val = char_corpus(block_size=32)
        >>> len(vocab) > 60, train[0][0].shape, len(train) > 8 * len(val)
        (True, (32,), True)
    """
    text = load_pydoc_text() if text is None else text
    vocab = CharVocabulary(text)
    train_ids, val_ids = split_by_position(vocab.encode(text), [1 - val_fraction, val_fraction])
    return (
        vocab,
        NextCharDataset(train_ids, block_size, stride),
        NextCharDataset(val_ids, block_size, stride),
    )
