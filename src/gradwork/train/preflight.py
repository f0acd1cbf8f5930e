"""Checks that run before a run folder exists: the data's arrays, then one dry training step.

`describe_data` checks the arrays of a data set (shapes, dtypes, NaN/Inf,
class labels) and says what the model needs to know about them; `dry_run`
pushes one batch through forward, loss, metrics and backward on copies of the
model and loss, with every random stream restored afterwards, so the run that
follows is bit for bit the one it would have been. Every problem is a
ConfigError (exit code 2 from the command line) naming the config key or the
file, and the fix.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from gradwork import data
from gradwork.random import get_rng_state, set_rng_state
from gradwork.train._accumulators import get_metric
from gradwork.train.config import ConfigError
from gradwork.train.devices import model_device, to_device, to_host

# A class count inferred as max(label) + 1 is refused when it exceeds both twice the
# number of labels that occur and that number plus this: a stray label, not a class.
_SPARE_CLASSES = 8
_REGRESSION_LOSSES = ("MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss")


def describe_data(x: np.ndarray, y: np.ndarray, source: str, classes: int = 0,
                  ignore_index: int | None = None) -> dict:  # fmt: skip
    """Check a data set's inputs `x` and targets `y`; return task, input_shape, outputs.

    Args:
        x: inputs, one sample per row (any number of further axes).
        y: integer/bool class labels (classification) or float targets (regression).
        source: where the data came from, for messages (e.g. "data.path = 'd.npz'").
        classes: the number of classes (`data.classes`); 0 infers max(label) + 1.
        ignore_index: a negative label the loss ignores (loss.ignore_index), if set.

    Raises:
        ConfigError: naming the problem, the sample and the fix.

    Example:
        >>> describe_data(np.zeros((4, 2)), np.array([0, 1, 2, 1]), "data")["outputs"]
        3
        >>> describe_data(np.zeros(4), np.array([0, 1, 2, 1]), "data")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        gradwork.train.config.ConfigError: data: x has shape (4,); expected (samples, ...
    """
    x, y = np.asarray(x), np.asarray(y)
    _check_shapes(x, y, source)
    _check_finite(x, f"{source}: x")
    if y.dtype.kind in "iub":
        outputs = _check_labels(y, source, classes, ignore_index)
        return {"task": "classification", "input_shape": list(x.shape[1:]), "outputs": outputs}
    _check_finite(y, f"{source}: y")
    outputs = int(np.prod(y.shape[1:], dtype=np.int64))
    return {"task": "regression", "input_shape": list(x.shape[1:]), "outputs": outputs}


def _check_shapes(x: np.ndarray, y: np.ndarray, source: str) -> None:
    for name, array in (("x", x), ("y", y)):
        if array.dtype.kind not in "biuf":
            raise ConfigError(
                f"{source}: {name} has dtype {array.dtype}; expected numbers (integers or "
                f"floats){' and class labels as integers' if name == 'y' else ''}"
            )
    if x.ndim < 2:
        raise ConfigError(
            f"{source}: x has shape {x.shape}; expected (samples, features...), one sample "
            "per row. For one feature per sample, save x.reshape(-1, 1)"
        )
    if y.ndim < 1 or len(x) != len(y):
        raise ConfigError(
            f"{source}: x has {len(x)} samples (shape {x.shape}) but y has shape {y.shape}; "
            "y needs one target per sample of x"
        )
    if len(x) == 0 or 0 in x.shape[1:]:
        raise ConfigError(f"{source}: x has shape {x.shape}; the data set is empty")


def _check_finite(array: np.ndarray, what: str) -> None:
    if array.dtype.kind != "f":
        return
    bad = ~np.isfinite(array)
    if not bad.any():
        return
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    value = array[first]
    samples = int(bad.reshape(len(array), -1).any(axis=1).sum()) if array.ndim else 1
    raise ConfigError(
        f"{what} holds {int(bad.sum())} non-finite value(s) (NaN or Inf) in {samples} "
        f"sample(s), the first {value} at index {first} (values beyond float32's range, "
        "about 3.4e38, become Inf); remove or impute those samples"
    )


def _check_labels(y: np.ndarray, source: str, classes: int, ignore_index: int | None) -> int:
    if y.ndim != 1:
        raise ConfigError(
            f"{source}: y holds integer class labels of shape {y.shape}; expected one label "
            f"per sample, shape ({len(y)},) (save y.reshape(-1), or float targets for regression)"
        )
    labels = y.astype(np.int64)
    used = labels[labels != ignore_index] if ignore_index is not None else labels
    if used.size == 0:
        raise ConfigError(f"{source}: y holds no label other than ignore_index = {ignore_index}")
    low, high = int(used.min()), int(used.max())
    if low < 0:
        index = int(np.argmax(labels == low))
        raise ConfigError(
            f"{source}: y holds the label {low} (sample {index}); class labels must be "
            "0, 1, ..., classes - 1. Renumber the labels (e.g. y - y.min())"
        )
    if classes:
        if high >= classes:
            index = int(np.argmax(labels == high))
            raise ConfigError(
                f"{source}: y holds the label {high} (sample {index}) but data.classes = "
                f"{classes} allows 0..{classes - 1}; fix the label or raise data.classes"
            )
        return classes
    present, counts = np.unique(used, return_counts=True)
    inferred = high + 1
    if inferred < 2:
        raise ConfigError(
            f"{source}: y holds only the label {high}; a classifier needs at least two classes "
            "(labels 0 and 1), or set data.classes"
        )
    if inferred > max(2 * len(present), len(present) + _SPARE_CLASSES) or _stray(present, counts):
        index = int(np.argmax(labels == high))
        shown = ", ".join(map(str, present[:6])) + (", ..." if len(present) > 6 else "")
        raise ConfigError(
            f"{source}: y holds the label {high} (sample {index}), which would make a model "
            f"with {inferred:,} classes, but only {len(present)} distinct labels occur "
            f"({shown}). Class labels must be 0..classes-1: fix the stray label, or set "
            f"data.classes = {inferred} in [data] if there really are that many classes"
        )
    return inferred


def _stray(present: np.ndarray, counts: np.ndarray) -> bool:
    """The largest label looks like a typo: rare, with empty classes just below it.

    NOTE: a real top class can be rare, and classes can be missing from a subset;
    only both at once, with the class below the top one empty, is refused (a
    genuine case sets data.classes).
    """
    if len(present) < 2 or present[-1] - present[-2] < 2:
        return False
    return bool(counts[-1] <= max(2, 0.01 * counts.sum()))


def dry_run(session: Any, train_split: Any, config: dict) -> None:
    """One batch through forward, loss, metrics and backward, on copies; ConfigError if it fails.

    Nothing of the session changes: the model and loss are copied, and gradwork's
    and NumPy's global random streams are restored afterwards.
    """
    if train_split is None or len(train_split) == 0:
        raise ConfigError(
            f"data.split = {config['data']['split']} leaves no training data; give the "
            "training part a larger fraction, e.g. [0.8, 0.1, 0.1]"
        )
    state, numpy_state = get_rng_state(), np.random.get_state()
    try:
        loader = data.DataLoader(train_split, config["data"]["batch_size"], seed=0)
        x, y = next(iter(loader))[:2]
        model, loss_fn = copy.deepcopy((session.model, session.loss))
        x, y = to_device((x, y), model_device(model))  # as the Trainer sends its batches
        with np.errstate(all="ignore"):
            _step(model, loss_fn, session, x, y, config)
    finally:
        set_rng_state(state)
        np.random.set_state(numpy_state)


def _step(model: Any, loss_fn: Any, session: Any, x: Any, y: Any, config: dict) -> None:
    info = session.info
    shape = f"a batch of inputs of shape {tuple(x.shape)}"
    model.train()
    try:
        output = model(x)
    except Exception as error:  # noqa: BLE001 - reported to the user as a config problem
        raise ConfigError(
            f"[model] fails on {shape} (the data's samples have shape "
            f"{tuple(info['input_shape'])}): {type(error).__name__}: {error}"
        ) from None
    _check_output(output, info, config)
    loss = _loss(loss_fn, output, y, info, config)
    for name in session.metrics:
        try:
            get_metric(name).update(to_host(output), to_host(y))
        except Exception as error:  # noqa: BLE001
            raise ConfigError(
                f"train.metrics: {name!r} cannot be computed on this {info['task']} task's "
                f"outputs {tuple(output.shape)} and targets {tuple(y.shape)}: {error}"
            ) from None
    try:
        loss.backward()
    except Exception as error:  # noqa: BLE001
        raise ConfigError(f"[loss] backward failed: {type(error).__name__}: {error}") from None
    bad = [n for n, p in model.named_parameters() if p.grad is not None and not _finite(p.grad)]
    if bad:
        raise ConfigError(
            f"the first batch gives non-finite gradients (NaN or Inf) for {', '.join(bad[:4])} "
            "before any training step: scale the inputs (standardise them) or check the model"
        )


def _check_output(output: Any, info: dict, config: dict) -> None:
    if not hasattr(output, "array"):
        raise ConfigError(f"[model] returns {type(output).__name__}; expected a Tensor")
    if not _finite(output):
        raise ConfigError(
            "[model] outputs NaN or Inf on the first batch, before any training step: the "
            "inputs are too large (standardise them) or the model overflows"
        )
    classes = info["outputs"]
    if info["task"] == "classification":
        width = output.shape[-1] if output.ndim >= 1 else 1
        if output.ndim != 2 or width < classes:
            raise ConfigError(
                f"[model] outputs shape {tuple(output.shape)} per batch, but the labels need "
                f"{classes} scores per sample (shape (batch, {classes})): make the last "
                f"layer's out_features = {classes} (data.classes or max label + 1)"
            )


def _loss(loss_fn: Any, output: Any, y: Any, info: dict, config: dict) -> Any:
    name = config["loss"]["name"]
    if info["task"] == "classification" and type(loss_fn).__name__ in _REGRESSION_LOSSES:
        raise ConfigError(
            f"loss.name = {name!r} compares outputs with targets number by number, but this "
            "is a classification task (integer class labels): use CrossEntropyLoss (or "
            "loss.name = 'auto'), or save y as floats for regression"
        )
    hint = (
        "; a classification task (integer labels) needs CrossEntropyLoss or NLLLoss "
        "(loss.name = 'auto' picks it)"
        if info["task"] == "classification"
        else "; a regression task (float targets) needs e.g. MSELoss or L1Loss (or 'auto')"
    )
    try:
        loss = loss_fn(output, y)
    except Exception as error:  # noqa: BLE001
        raise ConfigError(
            f"loss.name = {name!r} fails on the model's outputs {tuple(output.shape)} and the "
            f"targets {tuple(y.shape)} ({y.dtype}): {type(error).__name__}: {error}{hint}"
        ) from None
    if isinstance(loss, dict) or getattr(loss, "numel", lambda: 0)() != 1:
        raise ConfigError(
            f"loss.name = {name!r} returns shape {tuple(getattr(loss, 'shape', ()))}, not one "
            f"number; use reduction = 'mean'{hint if isinstance(loss, dict) else ''}"
        )
    value = float(to_host(loss).reshape(-1)[0])
    if not math.isfinite(value):
        raise ConfigError(
            f"loss.name = {name!r} is {value} on the first batch, before any training step: "
            "check the data's scale and the loss for this task" + hint
        )
    return loss


def _finite(tensor: Any) -> bool:
    return bool(np.isfinite(np.asarray(to_host(tensor))).all())
