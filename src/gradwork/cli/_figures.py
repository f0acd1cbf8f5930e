"""The pictures of a run that need its model: rebuilt from config.json with the best
checkpoint's weights, shown validation data (the test set stays sealed).

Confusion matrix and per-class precision/recall (classification), misclassified
examples (image inputs), the first Conv2d's filters, decision boundaries (2-D inputs:
moons, circles, spirals, xor) and attention maps (models with MultiheadAttention).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from gradwork import nn, plots, train
from gradwork._arrays import to_host
from gradwork.autograd import no_grad
from gradwork.tensor import Tensor
from gradwork.train import build as builder
from gradwork.train.metrics import confusion_matrix


def model_figures(figures: Any, run: train.RunFolder, config: dict, info: dict) -> tuple:
    """Draw the model's pictures into `figures`; returns (a fresh session or None, notes).

    The session (fresh weights, data loaders) is what the doctor examines; the
    pictures use a second copy of the model with the checkpoint's weights.
    """
    notes: list[str] = []
    try:
        session = builder.build(config)
    except Exception as error:  # e.g. a data file that moved since the run
        return None, [f"the run's setup could not be rebuilt: {error}"]
    checkpoint = run.best_checkpoint if run.best_checkpoint.is_file() else run.last_checkpoint
    if not checkpoint.is_file() or figures.missing:
        return session, notes + (
            ["no checkpoint yet: no pictures of the trained model"]
            if not checkpoint.is_file()
            else []
        )
    # The pictures are drawn on the host: a CPU copy of the model, whatever the run used.
    trained = builder.build(config, with_data=False, info=info).model.cpu()
    trained.load_state_dict(train.load_checkpoint(checkpoint)["model"])
    trained.eval()
    split = "val" if session.loaders.get("val") is not None else "train"
    if split == "train":
        notes.append("no validation split: the pictures show training data")
    inputs, targets = _arrays(session.loaders[split])
    outputs = _predict(trained, inputs)
    where = f"{split} data, {checkpoint.name} weights"
    if info.get("task") == "classification":
        _classification(figures, inputs, targets, outputs, info, where)
        if list(info.get("input_shape", [])) == [2]:
            train_x, train_y = _arrays(session.loaders["train"])
            figures.draw(
                "decision_boundary",
                f"Predicted class over the plane (training data, {checkpoint.name} weights).",
                plots.plot_decision_boundary,
                train_x,
                train_y,
                lambda grid: _predict(trained, grid),
                title=f"Decision boundary ({config['data']['name']})",
            )
    convolution = next((m for m in trained.modules() if isinstance(m, nn.Conv2d)), None)
    if convolution is not None:
        figures.draw(
            "filters",
            "The first Conv2d layer's kernels after training.",
            plots.plot_filters,
            np.asarray(convolution.weight.detach().array),
        )
    maps = attention_maps(trained, inputs[:1])
    if maps:
        name, weights = next(iter(maps.items()))
        figures.draw(
            "attention",
            f"Attention weights of `{name}` for the first {split} example, one panel per head.",
            plots.plot_attention,
            weights[0],
            queries=_tokens(inputs[0], info, weights.shape[-2]),
            keys=_tokens(inputs[0], info, weights.shape[-1]),
            title=f"Attention weights ({name})",
        )
    return session, notes


def _tokens(sample: np.ndarray, info: dict, length: int) -> list[str] | None:
    """The characters of a text sample (a language model's vocabulary), shown visibly."""
    vocabulary = info.get("vocabulary")
    if not vocabulary or sample.ndim != 1 or len(sample) != length:
        return None
    visible = {" ": "␣", "\n": "↵", "\t": "⇥"}
    return [visible.get(str(vocabulary[int(i)]), str(vocabulary[int(i)])) for i in sample]


def _arrays(loader: Any) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for batch in loader:
        # The figures are drawn from host data: device batches are copied there, explicitly.
        xs.append(np.asarray(to_host(getattr(batch[0], "array", batch[0]))))
        ys.append(np.asarray(to_host(getattr(batch[1], "array", batch[1]))))
    return np.concatenate(xs), np.concatenate(ys)


@no_grad()
def _predict(model: Any, inputs: np.ndarray, batch: int = 256) -> np.ndarray:
    chunks = [model(Tensor(inputs[i : i + batch])) for i in range(0, len(inputs), batch)]
    return np.concatenate([np.asarray(c.array) for c in chunks])


def _classification(figures, inputs, targets, outputs, info, where) -> None:
    scores = outputs.reshape(len(outputs), -1)
    if scores.shape[1] == 1:  # one logit: the positive class when above 0
        predicted = (scores[:, 0] > 0).astype(int)
        confidence = 1 / (1 + np.exp(-np.abs(scores[:, 0])))
    else:
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        probabilities = shifted / shifted.sum(axis=1, keepdims=True)
        predicted, confidence = probabilities.argmax(axis=1), probabilities.max(axis=1)
    targets = targets.reshape(len(targets)).astype(int)
    classes = max(int(info.get("outputs", 2)), 2, int(targets.max()) + 1)
    matrix = confusion_matrix(targets, predicted, classes)
    figures.draw(
        "confusion_matrix",
        f"Rows: true class; columns: predicted ({where}).",
        plots.plot_confusion_matrix,
        matrix,
        title=f"Confusion matrix ({where})",
    )
    wrong = np.flatnonzero(predicted != targets)
    if plots.is_image_batch(inputs.shape[1:]) and wrong.size:
        wrong = wrong[np.argsort(-confidence[wrong])]  # the most confident mistakes first
        figures.draw(
            "misclassified",
            f"{wrong.size} of {len(targets)} examples are wrong "
            f"({where}); the most confident mistakes first.",
            plots.plot_misclassified,
            inputs[wrong],
            targets[wrong],
            predicted[wrong],
            confidence=confidence[wrong],
            title=f"Misclassified ({where})",
        )


def attention_maps(model: Any, inputs: np.ndarray) -> dict[str, np.ndarray]:
    """Every MultiheadAttention's weights, (batch, heads, queries, keys), for `inputs`.

    Each attention module's forward is wrapped for one pass to ask for per-head weights
    (layers such as TransformerEncoderLayer call it with need_weights=False).
    """
    found: dict[str, np.ndarray] = {}
    wrapped = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.MultiheadAttention)]
    for name, module in wrapped:
        module.forward = _recording(module.forward, name, found)
    try:
        _predict(model, inputs)
    except Exception:  # the attention picture is a bonus; the model's own errors show elsewhere
        found.clear()
    finally:
        for _, module in wrapped:
            del module.forward  # back to the class's method
    return found


def _recording(forward: Callable, name: str, found: dict) -> Callable:
    def call(*args: Any, **kwargs: Any) -> Any:
        kwargs.update(need_weights=True, average_attn_weights=False)
        output, weights = forward(*args, **kwargs)
        if weights is not None and name not in found:
            array = np.asarray(weights.array)
            found[name] = array if array.ndim == 4 else array[None]
        return output, weights

    return call
