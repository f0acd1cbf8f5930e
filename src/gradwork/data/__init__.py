"""gradwork.data: data sets, loading in batches, splitting, resampling, augmentation.

Example:
    >>> from gradwork.data import DataLoader, load_digits, train_val_test_split
    >>> digits = load_digits()
    >>> train, val, test = train_val_test_split(digits, stratify=digits.tensors[1])
    >>> x, y = next(iter(DataLoader(train, batch_size=32, shuffle=True, seed=0)))
    >>> x.shape, y.dtype
    ((32, 1, 8, 8), dtype('int64'))
"""

from gradwork.data import text, transforms
from gradwork.data.bootstrap import ConfidenceInterval, bootstrap, bootstrap_ci
from gradwork.data.cifar import CIFAR10, read_cifar_batch
from gradwork.data.collate import default_collate
from gradwork.data.dataset import Dataset, Subset, TensorDataset
from gradwork.data.digits import load_digits
from gradwork.data.distributed import DistributedSampler
from gradwork.data.download import download_file, md5sum
from gradwork.data.folds import KFold, StratifiedKFold
from gradwork.data.idx import read_idx, write_idx
from gradwork.data.loader import DataLoader
from gradwork.data.mnist import MNIST, FashionMNIST, load_mnist_arrays
from gradwork.data.splits import random_split, train_val_test_split
from gradwork.data.synthetic import (
    make_circles,
    make_moons,
    make_regression_curve,
    make_spirals,
    make_xor,
)
from gradwork.data.text import CharVocabulary, NextCharDataset, load_pydoc_text

__all__ = [
    "DistributedSampler",
    "Dataset", "TensorDataset", "Subset", "DataLoader", "default_collate",
    "random_split", "train_val_test_split", "KFold", "StratifiedKFold",
    "bootstrap", "bootstrap_ci", "ConfidenceInterval",
    "make_xor", "make_moons", "make_circles", "make_spirals", "make_regression_curve",
    "load_digits", "read_idx", "write_idx", "MNIST", "FashionMNIST", "load_mnist_arrays",
    "CIFAR10", "read_cifar_batch", "download_file", "md5sum", "transforms",
    "text", "CharVocabulary", "NextCharDataset", "load_pydoc_text",
]  # fmt: skip
