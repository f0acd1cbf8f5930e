"""random_split, train_val_test_split, KFold, StratifiedKFold: sizes, disjointness, coverage."""

import numpy as np
import pytest

import gradwork as gw
from gradwork.data import (
    KFold,
    StratifiedKFold,
    Subset,
    TensorDataset,
    random_split,
    train_val_test_split,
)
from tests.helpers import to_numpy


def dataset(n):
    return TensorDataset(np.arange(n))


def assert_partition(parts, n):
    indices = np.concatenate([to_numpy(p) for p in parts])
    assert sorted(indices.tolist()) == list(range(n))  # disjoint and covering


@pytest.mark.parametrize("n, lengths, expected", [
    (10, [7, 3], [7, 3]),
    (10, [0.7, 0.3], [7, 3]),
    (10, [0.33, 0.33, 0.34], [4, 3, 3]),  # floors 3,3,3; the remainder goes to the first
    (11, [0.5, 0.5], [6, 5]),
    (5, [1.0], [5]),
    (4, [0.0, 1.0], [0, 4]),
])  # fmt: skip
def test_random_split_sizes_follow_torch(n, lengths, expected):
    parts = random_split(dataset(n), lengths, seed=0)
    assert [len(p) for p in parts] == expected
    assert_partition([p.indices for p in parts], n)
    assert all(isinstance(p, Subset) for p in parts)


def test_random_split_matches_torch(torch):
    for n, lengths in [(10, [0.33, 0.33, 0.34]), (13, [0.5, 0.25, 0.25]), (7, [0.1, 0.9])]:
        theirs = torch.utils.data.random_split(range(n), lengths)
        assert [len(p) for p in random_split(dataset(n), lengths, seed=0)] == [
            len(p) for p in theirs
        ]


def test_random_split_reproducible_and_seeded():
    a = random_split(dataset(20), [0.5, 0.5], seed=1)[0].indices
    b = random_split(dataset(20), [0.5, 0.5], seed=1)[0].indices
    c = random_split(dataset(20), [0.5, 0.5], seed=2)[0].indices
    gw.manual_seed(3)
    d = random_split(dataset(20), [0.5, 0.5])[0].indices
    gw.manual_seed(3)
    e = random_split(dataset(20), [0.5, 0.5])[0].indices
    assert a.tolist() == b.tolist() != c.tolist() and d.tolist() == e.tolist()


def test_train_val_test_split_sizes_and_partition():
    train, val, test = train_val_test_split(dataset(101))
    assert [len(train), len(val), len(test)] == [81, 10, 10]
    assert_partition([train.indices, val.indices, test.indices], 101)
    again = train_val_test_split(dataset(101))
    assert again[0].indices.tolist() == train.indices.tolist()  # seed=0 by default


@pytest.mark.parametrize("counts", [[500, 300, 200], [90, 9, 1], [37, 41, 22, 3], [5, 5]])
def test_stratified_split_keeps_class_proportions(counts):
    labels = np.repeat(np.arange(len(counts)), counts)
    np.random.default_rng(0).shuffle(labels)
    n = len(labels)
    fractions = (0.8, 0.1, 0.1)
    parts = train_val_test_split(dataset(n), fractions, stratify=labels, seed=5)
    assert_partition([p.indices for p in parts], n)
    plain = train_val_test_split(dataset(n), fractions)
    assert [len(p) for p in parts] == [len(p) for p in plain]  # same totals as unstratified
    for part, fraction in zip(parts, fractions, strict=True):
        per_class = np.bincount(labels[part.indices], minlength=len(counts))
        ideal = to_numpy(counts) * fraction
        assert np.all(np.abs(per_class - ideal) < 1.0 + 1e-9), (per_class, ideal)


def test_stratified_split_accepts_tensor_labels():
    labels = gw.tensor(np.repeat([0, 1], [60, 40]))
    train, val, test = train_val_test_split(dataset(100), stratify=labels)
    assert np.bincount(to_numpy(labels)[val.indices]).tolist() == [6, 4]


@pytest.mark.parametrize("n, k", [(10, 2), (10, 3), (7, 7), (23, 5)])
@pytest.mark.parametrize("shuffle", [False, True])
def test_kfold_matches_sklearn_sizes_and_partitions(n, k, shuffle):
    folds = list(KFold(k, shuffle=shuffle, seed=0 if shuffle else None).split(n))
    assert len(folds) == k
    sizes = [len(val) for _, val in folds]
    assert sizes == [n // k + 1] * (n % k) + [n // k] * (k - n % k)
    assert_partition([val for _, val in folds], n)
    for train, val in folds:
        assert train.dtype.kind == "i" and val.dtype.kind == "i"
        assert not set(train) & set(val) and len(train) + len(val) == n
    if not shuffle:
        assert folds[0][1].tolist() == list(range(sizes[0]))


def test_kfold_matches_sklearn_exactly_without_shuffle():
    sklearn = pytest.importorskip("sklearn.model_selection")
    for n, k in [(10, 3), (23, 5)]:
        ours = [(t.tolist(), v.tolist()) for t, v in KFold(k).split(dataset(n))]
        theirs = [(t.tolist(), v.tolist()) for t, v in sklearn.KFold(k).split(np.zeros(n))]
        assert ours == theirs


def test_kfold_shuffle_reproducible():
    a = [v.tolist() for _, v in KFold(4, shuffle=True, seed=1).split(20)]
    b = [v.tolist() for _, v in KFold(4, shuffle=True, seed=1).split(20)]
    c = [v.tolist() for _, v in KFold(4, shuffle=True, seed=2).split(20)]
    assert a == b != c


@pytest.mark.parametrize("shuffle", [False, True])
def test_stratified_kfold_proportions(shuffle):
    labels = np.repeat([2, 0, 1], [50, 30, 20])
    np.random.default_rng(1).shuffle(labels)
    splitter = StratifiedKFold(5, shuffle=shuffle, seed=0 if shuffle else None)
    folds = list(splitter.split(len(labels), labels))
    assert splitter.n_splits == 5 and len(folds) == 5
    assert_partition([val for _, val in folds], 100)
    for train, val in folds:
        assert np.bincount(labels[val]).tolist() == [6, 4, 10]
        assert np.bincount(labels[train]).tolist() == [24, 16, 40]


def test_stratified_kfold_uneven_classes_match_sklearn_allocation():
    labels = np.array([0] * 7 + [1] * 5 + [2] * 3)
    ours = [np.bincount(labels[v], minlength=3).tolist() for _, v in
            StratifiedKFold(3).split(15, labels)]  # fmt: skip
    # scikit-learn deals the sorted labels round-robin: these are its fold contents.
    assert ours == [[3, 1, 1], [2, 2, 1], [2, 2, 1]]
    sklearn = pytest.importorskip("sklearn.model_selection")
    theirs = [(t.tolist(), v.tolist()) for t, v in
              sklearn.StratifiedKFold(3).split(np.zeros(15), labels)]  # fmt: skip
    assert [(t.tolist(), v.tolist()) for t, v in StratifiedKFold(3).split(15, labels)] == theirs


def test_stratified_kfold_warns_for_small_class():
    labels = np.array([0] * 10 + [1] * 2)
    with pytest.warns(UserWarning, match="fewer than n_splits"):
        list(StratifiedKFold(3).split(12, labels))
