"""Every bad input gets a clear error that names the problem; and every export is tested."""

import ast
from pathlib import Path

import numpy as np
import pytest

import gradwork.data as data
from gradwork.data import (
    DataLoader,
    KFold,
    StratifiedKFold,
    Subset,
    TensorDataset,
    bootstrap,
    bootstrap_ci,
    default_collate,
    make_circles,
    make_moons,
    make_spirals,
    random_split,
    train_val_test_split,
    write_idx,
)
from gradwork.data.transforms import GaussianNoise, Normalize, RandomCrop, RandomHorizontalFlip


def ds(n=10):
    return TensorDataset(np.arange(n))


def loader_state():
    loader = DataLoader(ds(10), batch_size=2, seed=0)
    return loader.state_dict()


# name: (call, exception, pattern the message must contain)
ERRORS = {
    "tensordataset_empty": (lambda: TensorDataset(), ValueError, "at least one tensor"),
    "tensordataset_lengths": (
        lambda: TensorDataset(np.zeros((3, 2)), np.zeros(4)), ValueError, r"lengths \[3, 4\]"),
    "tensordataset_scalar": (lambda: TensorDataset(np.float32(1)), ValueError, "0-d"),
    "tensordataset_object": (lambda: TensorDataset([object()]), TypeError, "could not be turned"),
    "tensordataset_index": (lambda: ds(3)[3], IndexError, "index 3 is out of range"),
    "subset_out_of_range": (lambda: Subset(ds(3), [0, 5]), IndexError, "index 5"),
    "subset_float_indices": (lambda: Subset(ds(3), [0.5]), TypeError, "integers"),
    "loader_batch_zero": (lambda: DataLoader(ds(), batch_size=0), ValueError, "batch_size=None"),
    "loader_batch_negative": (lambda: DataLoader(ds(), batch_size=-2), ValueError, "got -2"),
    "loader_batch_float": (lambda: DataLoader(ds(), batch_size=2.5), TypeError, "positive int"),
    "loader_batch_bool": (lambda: DataLoader(ds(), batch_size=True), TypeError, "positive int"),
    "loader_not_dataset": (lambda: DataLoader(5), TypeError, "TensorDataset"),
    "loader_seed_and_generator": (
        lambda: DataLoader(ds(), seed=1, generator=np.random.default_rng()), ValueError,
        "either generator= or seed="),
    "loader_bad_generator": (lambda: DataLoader(ds(), generator=3), TypeError, "Generator"),
    "loader_negative_seed": (lambda: DataLoader(ds(), seed=-1), ValueError, "non-negative"),
    "loader_state_missing_keys": (
        lambda: DataLoader(ds()).load_state_dict({"epoch": 0}), ValueError, "missing keys"),
    "loader_state_other_dataset": (
        lambda: DataLoader(ds(12), batch_size=2).load_state_dict(loader_state()), ValueError,
        "dataset_length=10"),
    "loader_state_other_batch": (
        lambda: DataLoader(ds(10), batch_size=3).load_state_dict(loader_state()), ValueError,
        "batch_size=2"),
    "collate_empty": (lambda: default_collate([]), ValueError, "empty"),
    "collate_unknown": (lambda: default_collate([object()]), TypeError, "collate_fn="),
    "collate_ragged": (lambda: default_collate([(1, 2), (1,)]), ValueError, "numbers of fields"),
    "split_bad_sum": (lambda: random_split(ds(10), [3, 3]), ValueError, "sum to 6"),
    "split_bad_fractions": (lambda: random_split(ds(10), [0.5, 0.6]), ValueError, "summing to 1"),
    "split_empty": (lambda: random_split(ds(10), []), ValueError, "empty"),
    "tvt_fractions_sum": (
        lambda: train_val_test_split(ds(), (0.8, 0.1, 0.2)), ValueError, "must sum to 1"),
    "tvt_negative": (lambda: train_val_test_split(ds(), (1.2, -0.2)), ValueError, "non-negative"),
    "tvt_stratify_length": (
        lambda: train_val_test_split(ds(10), stratify=np.zeros(9)), ValueError, "one label"),
    "kfold_too_many_splits": (
        lambda: list(KFold(6).split(5)), ValueError, "n_splits=6 is greater than the number"),
    "kfold_one_split": (lambda: KFold(1), ValueError, "at least 2"),
    "kfold_seed_without_shuffle": (lambda: KFold(3, seed=0), ValueError, "shuffle=True"),
    "kfold_bad_input": (lambda: list(KFold(2).split(2.5)), TypeError, "number"),
    "stratified_needs_labels": (
        lambda: list(StratifiedKFold(2).split(10)), ValueError, "needs labels"),
    "stratified_small_classes": (
        lambda: list(StratifiedKFold(4).split(6, [0, 0, 0, 1, 1, 1])), ValueError,
        "every class"),
    "bootstrap_zero": (lambda: list(bootstrap(0)), ValueError, "at least one sample"),
    "bootstrap_resamples": (lambda: list(bootstrap(5, n_resamples=0)), ValueError, "positive"),
    "ci_method": (lambda: bootstrap_ci(np.mean, [1.0], method="bc"), ValueError, "'bca'"),
    "ci_confidence": (lambda: bootstrap_ci(np.mean, [1.0], confidence=95), ValueError, "(0, 1)"),
    "ci_lengths": (
        lambda: bootstrap_ci(np.mean, [1, 2], [1, 2, 3]), ValueError, r"lengths \[2, 3\]"),
    "ci_no_data": (lambda: bootstrap_ci(np.mean), ValueError, "pass the data"),
    "moons_n": (lambda: make_moons(1), ValueError, "n must be an int >= 2"),
    "moons_noise": (lambda: make_moons(10, noise=-1), ValueError, "noise must be >= 0"),
    "circles_factor": (lambda: make_circles(10, factor=1.5), ValueError, "factor"),
    "spirals_classes": (lambda: make_spirals(10, classes=1), ValueError, "classes"),
    "write_idx_dtype": (
        lambda: write_idx("/tmp/never-written", np.zeros(2, np.int64)), ValueError, "astype"),
    "crop_too_big": (lambda: RandomCrop(9)(np.zeros((1, 1, 4, 4))), ValueError, "larger than"),
    "crop_single_image": (lambda: RandomCrop(2)(np.zeros((4, 4))), ValueError, "whole batches"),
    "flip_probability": (lambda: RandomHorizontalFlip(1.5), ValueError, "p must lie"),
    "noise_std": (lambda: GaussianNoise(-0.1), ValueError, "std must be >= 0"),
    "noise_integer_batch": (
        lambda: GaussianNoise(0.1)(np.zeros((2, 2), np.int64)), TypeError, "floating-point"),
    "normalize_zero_std": (lambda: Normalize(0.0, 0.0), ValueError, "positive"),
    "normalize_channels": (
        lambda: Normalize([0, 0, 0], [1, 1, 1])(np.zeros((2, 1, 3, 3))), ValueError,
        "3 channels"),
}  # fmt: skip


@pytest.mark.parametrize("name", ERRORS)
def test_error_is_clear(name):
    call, exception, pattern = ERRORS[name]
    with pytest.raises(exception, match=pattern):
        call()


def test_every_export_has_a_test():
    """Fail when something exported from gradwork.data is named by no test in tests/data."""
    text = "".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    names = {node.id for node in ast.walk(ast.parse(text)) if isinstance(node, ast.Name)}
    names |= {node.attr for node in ast.walk(ast.parse(text)) if isinstance(node, ast.Attribute)}
    untested = [name for name in data.__all__ if name not in names]
    assert not untested, f"exports without a test: {untested}"
    module = data.transforms
    transform_names = [
        n for n, obj in vars(module).items()
        if isinstance(obj, type) and obj.__module__ == module.__name__
    ]  # fmt: skip
    assert len(transform_names) == 5
    assert not [n for n in transform_names if n not in names]
