"""Every exportable model of examples/, benchmarks/ and `gradwork train`'s architectures
exports, passes onnx.checker and gives gradwork's outputs in ONNX Runtime, at the
traced batch size and another one (dynamic_axes)."""

import importlib
import io
import sys
from pathlib import Path

import numpy as np
import pytest

import gradwork as gw
from gradwork import nn
from gradwork.train import architectures
from tests.helpers import to_numpy

from .onnx_check import check, onnx, run_onnx

ROOT = Path(__file__).resolve().parents[2]


def load(folder, name):
    sys.path.insert(0, str(ROOT / folder))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / folder))


def images(batch, channels=1, size=28):
    return gw.rand(batch, channels, size, size)


class Seq2SeqGraph(nn.Module):
    """examples/seq2seq_reverse.py's model as one graph: (source, lengths, tokens) -> logits."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, source, lengths, tokens):
        m = self.model
        _, state = m.encoder(m.source_embedding(source), lengths=lengths)
        output, _ = m.decoder(m.target_embedding(tokens), state)
        return m.output(output)


def _benchmark(name):
    models = load("benchmarks", "_models")
    return lambda: getattr(models, name)(nn) if name != "row_lstm" else models.row_lstm(nn, 32)


def _example(module, attribute, *args):
    return lambda: getattr(load("examples", module), attribute)(*args)


MODELS = {
    # name: (build, input of a batch size, dynamic axes of input 0)
    "benchmarks.mlp": (_benchmark("mlp"), lambda n: gw.rand(n, 784), [0]),
    "benchmarks.cnn": (_benchmark("cnn"), images, [0]),
    "benchmarks.resnet_small": (_benchmark("resnet_small"), images, [0]),
    "benchmarks.row_lstm": (_benchmark("row_lstm"), images, [0]),
    "arch.mlp": (
        lambda: architectures.mlp((2,), 3, hidden=[16, 16], dropout=0.1),
        lambda n: gw.randn(n, 2),
        [0],
    ),
    "arch.cnn-digits": (lambda: architectures.cnn((1, 8, 8), 10), lambda n: images(n, 1, 8), [0]),
    "arch.cnn-mnist": (lambda: architectures.cnn((1, 28, 28), 10, dropout=0.2), images, [0]),
    "arch.resnet-small": (
        lambda: architectures.resnet_small((1, 8, 8), 10),
        lambda n: images(n, 1, 8),
        [0],
    ),
    "pytorch_style.Net": (_example("pytorch_style", "Net"), lambda n: images(n, 1, 8), [0]),
    "tutorial_basics.Net": (_example("tutorial_basics", "Net"), lambda n: images(n, 3, 32), [0]),
    "tutorial_basics.NeuralNetwork": (
        _example("tutorial_basics", "NeuralNetwork"),
        lambda n: gw.rand(n, 28, 28),
        [0],
    ),
    "tutorial_shapes.Net": (_example("tutorial_shapes", "Net"), images, [0]),
    "tutorial_shapes.Sequence": (
        lambda: _example("tutorial_shapes", "Sequence")().double(),
        lambda n: gw.randn(n, 6).double(),
        [0],
    ),
    "autoencoders.dense": (_example("autoencoders", "dense_autoencoder", 784), images, [0]),
    "autoencoders.conv": (_example("autoencoders", "conv_autoencoder"), images, [0]),
    "doctor_demo.mlp": (
        _example("doctor_demo", "mlp", [4, 16, 16, 3], nn.Sigmoid),
        lambda n: gw.randn(n, 4),
        [0],
    ),
    "truncated_bptt.Forecaster": (
        _example("truncated_bptt", "Forecaster"),
        lambda n: gw.randn(n + 4, n, 1),
        [0, 1],
    ),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_model_matches_onnx_runtime(name):
    build, make, axes = MODELS[name]
    model = build()
    model.train()
    model(make(4))  # batch-norm statistics away from their initial values
    check(model, make(2), {0: axes}, others=[make(5)])


def test_seq2seq_example_exports_with_dynamic_batch_and_lengths():
    example = load("examples", "seq2seq_reverse")
    model = Seq2SeqGraph(example.Seq2Seq(embedding=8, hidden=16))

    def batch(n, steps):
        source = np.random.randint(3, example.VOCAB, (n, steps))
        lengths = np.random.randint(1, steps + 1, n)
        lengths[0] = steps
        tokens = np.random.randint(0, example.VOCAB, (n, steps + 1))
        return gw.tensor(source), gw.tensor(lengths), gw.tensor(tokens)

    check(model, batch(3, 5), {0: [0, 1], 1: [0], 2: [0, 1]}, others=[batch(6, 8)])


def test_vanishing_gradients_example_layers_export():
    example = load("examples", "vanishing_gradients")
    for layer in (nn.RNN(example.INPUT, example.HIDDEN), nn.LSTM(example.INPUT, example.HIDDEN)):
        check(layer, gw.randn(7, 2, example.INPUT), {0: [0, 1]},
              others=[gw.randn(9, 4, example.INPUT)])  # fmt: skip


def test_random_model_is_refused_with_a_reason():
    """The VAE samples noise in forward: its outputs can't be a function of its input."""
    model = load("examples", "tutorial_shapes").VAE()
    with pytest.raises(gw.onnx.ExportError, match="changed when the model ran on other data"):
        gw.onnx.export(model, gw.rand(2, 784), io.BytesIO())


def test_file_path_names_and_opset(tmp_path):
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.GELU(), nn.Linear(8, 2))
    path = tmp_path / "model.onnx"
    gw.onnx.export(model, (gw.randn(3, 4),), path, input_names=["features"],
                   output_names=["logits"], dynamic_axes={"features": {0: "batch"},
                   "logits": {0: "batch"}}, opset_version=18)  # fmt: skip
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version == 18
    assert [i.name for i in proto.graph.input] == ["features"]
    assert [o.name for o in proto.graph.output] == ["logits"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    initializers = {i.name for i in proto.graph.initializer}
    assert {"0.weight", "0.bias", "1.weight", "3.weight"} <= initializers
    x = gw.randn(6, 4)
    (got,) = run_onnx(path.read_bytes(), ["features"], (x,))
    model.eval()
    np.testing.assert_allclose(to_numpy(got), to_numpy(model(x)), atol=1e-5, rtol=0)


def test_training_flags_are_restored():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5), nn.BatchNorm1d(2))
    gw.onnx.export(model, gw.randn(4, 2), io.BytesIO())
    assert all(module.training for module in model.modules())


class CumProd(nn.Module):
    def forward(self, x):
        return x.cumprod(-1)


def test_unsupported_op_names_the_op_and_module_path():
    model = nn.Sequential(nn.Linear(3, 3), nn.Sequential(nn.ReLU(), CumProd()))
    with pytest.raises(gw.onnx.UnsupportedOperatorError, match=r"CumProd.*'1\.1' \(CumProd\)"):
        gw.onnx.export(model, gw.randn(2, 3), io.BytesIO())


def test_shape_that_cannot_follow_a_dynamic_axis_is_reported():
    class AllButLast(nn.Module):
        def forward(self, x):
            return x[: x.shape[0] - 1]

    with pytest.raises(gw.onnx.ExportError, match="keep that axis static"):
        gw.onnx.export(AllButLast(), gw.randn(4, 3), io.BytesIO(), input_names=["x"],
                       dynamic_axes={"x": [0]})  # fmt: skip
    check(AllButLast(), gw.randn(4, 3))  # without dynamic_axes the traced size is fixed


def test_bad_arguments():
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="opset_version=13"):
        gw.onnx.export(model, gw.randn(1, 2), io.BytesIO(), opset_version=13)
    with pytest.raises(ValueError, match="dynamic_axes names 'y'"):
        gw.onnx.export(model, gw.randn(1, 2), io.BytesIO(), dynamic_axes={"y": [0]})
    with pytest.raises(ValueError, match="dynamic_axes names 'output_3'"):
        gw.onnx.export(model, gw.randn(1, 2), io.BytesIO(), dynamic_axes={"output_3": [0]})


def test_default_names_take_dynamic_axes():
    """torch's usual call: no names given, dynamic_axes on "input" and "output"."""
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
    data = io.BytesIO()
    axes = {"input": {0: "batch"}, "output": {0: "batch"}}
    gw.onnx.export(model, gw.randn(2, 3), data, dynamic_axes=axes)
    graph = onnx.load_from_string(data.getvalue()).graph
    assert graph.output[0].name == "output"
    assert graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    x = gw.randn(7, 3)
    (got,) = run_onnx(data.getvalue(), ["input"], (x,))
    np.testing.assert_allclose(to_numpy(got), to_numpy(model(x)), atol=1e-5, rtol=0)


def test_without_onnx_the_message_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[onnx\]"'):
        gw.onnx.export(nn.Linear(2, 2), gw.randn(1, 2), io.BytesIO())


def test_keyword_tensors_are_graph_inputs():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(3, 2)

        def forward(self, x, scale=None, shift=1.0):
            return self.linear(x) * scale + shift

    model = Scaled()
    data = io.BytesIO()
    gw.onnx.export(model, (gw.randn(4, 3), {"scale": gw.randn(4, 1)}), data,
                   dynamic_axes={"input": [0], "scale": [0]})  # fmt: skip
    assert [i.name for i in onnx.load_from_string(data.getvalue()).graph.input] == [
        "input",
        "scale",
    ]
    x, scale = gw.randn(6, 3), gw.randn(6, 1)
    (got,) = run_onnx(data.getvalue(), ["input", "scale"], (x, scale))
    np.testing.assert_allclose(to_numpy(got), to_numpy(model(x, scale=scale)), atol=1e-5, rtol=0)
