"""gradwork.data.text: the bundled corpus, the character vocabulary, next-character windows."""

from __future__ import annotations

import numpy as np
import pytest

from gradwork import data
from gradwork.data import text
from tests.helpers import cpu_only, to_numpy


def test_corpus_ships_with_python_and_is_deterministic():
    corpus = data.load_pydoc_text()
    assert len(corpus) > 300_000 and corpus == data.load_pydoc_text()
    assert 'The "assert" statement' in corpus


def test_vocabulary_is_the_sorted_set_and_round_trips():
    vocab = data.CharVocabulary("the cat sat")
    assert vocab.chars == [" ", "a", "c", "e", "h", "s", "t"] and len(vocab) == 7
    ids = vocab.encode("hat")
    assert ids.dtype == np.int64 and ids.tolist() == [4, 1, 6]
    assert vocab.decode(vocab.encode("a cat")) == "a cat"
    assert repr(vocab) == "CharVocabulary(7 characters)"


def test_unknown_character_is_named():
    with pytest.raises(KeyError, match="character 'z' is not in the vocabulary of 3"):
        data.CharVocabulary("abc").encode("abz")


@cpu_only
def test_windows_are_shifted_by_one_and_share_memory():
    ids = np.arange(20, dtype=np.int64)
    windows = data.NextCharDataset(ids, block_size=5)
    assert len(windows) == 15
    x, y = windows[7]
    assert x.tolist() == list(range(7, 12)) and y.tolist() == list(range(8, 13))
    assert np.shares_memory(windows.tensors[0].array, ids)  # a view, not 15 copies
    strided = data.NextCharDataset(ids, block_size=5, stride=5)
    assert len(strided) == 3 and strided[2][1].tolist() == [11, 12, 13, 14, 15]


def test_loader_batches_windows_on_the_fast_path():
    windows = data.NextCharDataset(np.arange(100), block_size=8)
    x, y = next(iter(data.DataLoader(windows, batch_size=4, shuffle=True, seed=0)))
    assert x.shape == (4, 8) and y.shape == (4, 8)
    np.testing.assert_array_equal(to_numpy(y), to_numpy(x) + 1)


@pytest.mark.parametrize(
    "ids, block, stride, error, pattern",
    [
        (np.arange(5), 5, 1, ValueError, "holds no window of block_size=5"),
        (np.arange(5.0), 2, 1, TypeError, "1-D integer array"),
        (np.arange(9), 0, 1, ValueError, "at least 1"),
    ],
)
def test_window_errors(ids, block, stride, error, pattern):
    with pytest.raises(error, match=pattern):
        data.NextCharDataset(ids, block, stride)


def test_split_is_by_position_and_exhaustive():
    parts = text.split_by_position(np.arange(1000), [0.8, 0.1, 0.1])
    assert [len(p) for p in parts] == [800, 100, 100]
    np.testing.assert_array_equal(np.concatenate(parts), np.arange(1000))
    with pytest.raises(ValueError, match="sum to 1"):
        text.split_by_position(np.arange(10), [0.5, 0.2])


def test_char_corpus_train_precedes_validation():
    sample = "abcdefghij" * 50
    vocab, train, val = text.char_corpus(block_size=4, text=sample, val_fraction=0.2)
    assert len(vocab) == 10
    assert len(train) == 400 - 4 and len(val) == 100 - 4
    # The validation windows come from the last 100 characters only.
    assert vocab.decode(val[0][0]) == sample[400:404]
