"""Export a model, run the file in ONNX Runtime, compare with gradwork's forward."""

from __future__ import annotations

import io

import numpy as np
import pytest

import gradwork as gw
from tests.helpers import to_numpy

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

ATOL = 1e-5


def flat(value):
    if isinstance(value, tuple | list):
        return [t for item in value for t in flat(item)]
    return [] if value is None else [value]


def run_onnx(data: bytes, names: list, inputs: tuple) -> list:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    return session.run(None, {n: to_numpy(x) for n, x in zip(names, inputs, strict=True)})


def reference(model, inputs: tuple) -> list:
    model.eval()
    with gw.no_grad():
        return [to_numpy(t) for t in flat(model(*inputs))]


def export_bytes(model, inputs: tuple, dynamic: dict | None = None, **options) -> tuple:
    """(ONNX bytes, input names) with `dynamic` = {input index: [axes]} (outputs follow)."""
    names = [f"input_{i}" for i in range(len(inputs))]
    axes = {names[i]: list(a) for i, a in (dynamic or {}).items()}
    buffer = io.BytesIO()
    gw.onnx.export(model, inputs, buffer, input_names=names, dynamic_axes=axes, **options)
    data = buffer.getvalue()
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    return data, names


def check(model, inputs, dynamic=None, others=(), atol=ATOL, **options):
    """Export at `inputs`; ONNX Runtime must match gradwork there and at every `others`."""
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    data, names = export_bytes(model, inputs, dynamic, **options)
    for case in (inputs, *others):
        case = case if isinstance(case, tuple) else (case,)
        expected = reference(model, case)
        got = run_onnx(data, names, case)
        assert len(got) == len(expected)
        for value, want in zip(got, expected, strict=True):
            assert value.shape == want.shape
            np.testing.assert_allclose(to_numpy(value), to_numpy(want), rtol=0, atol=atol)
    return data
