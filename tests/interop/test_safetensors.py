"""`.safetensors` files: byte for byte the reference format, read and written by torch's
tooling in both directions, and weights that survive gradwork -> torch -> gradwork."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

import gradwork as gw
from gradwork import nn
from gradwork.serialization import FileFormatError
from tests.helpers import to_numpy

safetensors_numpy = pytest.importorskip("safetensors.numpy")

ROOT = Path(__file__).resolve().parents[2]


def workloads():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        return importlib.import_module("_models")
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


ARRAYS = {
    "weight": np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
    "double": np.linspace(-1, 1, 5),
    "half": np.ones(3, np.float16) / 3,
    "steps": np.array(7, np.int64),
    "ids": np.arange(4, dtype=np.int32),
    "bytes": np.arange(3, dtype=np.uint8),
    "mask": np.array([True, False]),
    "empty": np.zeros((0, 2), np.float32),
}


def test_files_are_byte_for_byte_the_reference_writers(tmp_path):
    path = tmp_path / "w.safetensors"
    gw.save({name: gw.tensor(a) if a.dtype.kind == "f" else a for name, a in ARRAYS.items()}, path)
    assert path.read_bytes() == safetensors_numpy.save(ARRAYS)
    back = safetensors_numpy.load_file(str(path))
    for name, array in ARRAYS.items():
        assert back[name].dtype == array.dtype and np.array_equal(back[name], array), name


def test_reads_what_the_reference_writes(tmp_path):
    path = tmp_path / "ref.safetensors"
    safetensors_numpy.save_file(ARRAYS, str(path), metadata={"format": "pt"})
    loaded = gw.load(path)
    assert sorted(loaded) == sorted(ARRAYS)
    for name, array in ARRAYS.items():
        assert isinstance(loaded[name], gw.Tensor)
        assert to_numpy(loaded[name]).dtype == array.dtype
        assert np.array_equal(to_numpy(loaded[name]), array), name


def test_works_without_the_safetensors_package(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "safetensors", None)
    path = tmp_path / "w.safetensors"
    gw.save({"w": gw.ones(2, 3)}, path)
    assert gw.load(path)["w"].tolist() == [[1.0] * 3] * 2


@pytest.mark.parametrize("name", ["cnn", "resnet_small", "row_lstm"])
def test_weights_round_trip_through_torch(tmp_path, torch, name):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    build = getattr(workloads(), name)
    model = build(gw.nn)
    model.train()
    model(gw.rand(4, 1, 28, 28))  # batch-norm statistics off their initial values
    model.eval()
    original = {k: np.array(to_numpy(v)) for k, v in model.state_dict().items()}
    first = tmp_path / "gradwork.safetensors"
    gw.save(model.state_dict(), first)

    torch_model = build(torch.nn)
    torch_model.load_state_dict(safetensors_torch.load_file(str(first)))
    torch_model.eval()
    x = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    with torch.no_grad():
        torch_out = to_numpy(torch_model(torch.from_numpy(x)))
    np.testing.assert_allclose(
        to_numpy(model(gw.tensor(x))), to_numpy(torch_out), atol=1e-5, rtol=1e-5
    )

    second = tmp_path / "torch.safetensors"
    safetensors_torch.save_file(torch_model.state_dict(), str(second))
    again = build(gw.nn)
    again.load_state_dict(gw.load(second))
    again.eval()
    for key, value in again.state_dict().items():
        assert np.array_equal(to_numpy(value), original[key]), key
        assert to_numpy(value).dtype == original[key].dtype, key
    assert np.array_equal(to_numpy(again(gw.tensor(x))), to_numpy(model(gw.tensor(x))))


def test_bfloat16_from_torch_reads_as_float32(tmp_path, torch):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    values = torch.tensor([1.5, -2.0, 3.0e10], dtype=torch.bfloat16)
    path = tmp_path / "bf16.safetensors"
    safetensors_torch.save_file({"w": values}, str(path))
    loaded = gw.load(path)["w"]
    assert loaded.dtype == gw.float32
    assert loaded.tolist() == values.float().tolist()


def _damaged(tmp_path, blob: bytes) -> Path:
    path = tmp_path / "damaged.safetensors"
    path.write_bytes(blob)
    return path


@pytest.mark.parametrize("cut", [0, 5, 20, -3])
def test_truncated_files_raise_an_error_naming_the_file(tmp_path, cut):
    blob = safetensors_numpy.save({"w": np.ones((4, 4), np.float32)})
    path = _damaged(tmp_path, blob[:cut])
    with pytest.raises(FileFormatError, match="damaged.safetensors"):
        gw.load(path)


@pytest.mark.parametrize("header", [
    b'{"w": 3}',
    b'{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0]}}',
    b'{"w": {"dtype": "F32", "shape": "2", "data_offsets": [0, 8]}}',
    b'{"w": {"dtype": "Q99", "shape": [2], "data_offsets": [0, 8]}}',
    b'{"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}',
    b"[1, 2]",
    b"\xff\xfe not json",
])  # fmt: skip
def test_damaged_headers_raise_an_error_naming_the_file(tmp_path, header):
    header += b" " * (-len(header) % 8)
    blob = len(header).to_bytes(8, "little") + header + bytes(8)
    with pytest.raises(FileFormatError, match="damaged.safetensors"):
        gw.load(_damaged(tmp_path, blob))


def test_checkpoints_export_their_model_weights(tmp_path, torch):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    moons = gw.data.make_moons(64, seed=0)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
    checkpoint = gw.train.ModelCheckpoint(tmp_path / "ckpt", monitor="loss", safetensors=True)
    trainer = gw.train.Trainer(model, gw.optim.Adam(model.parameters(), lr=0.01),
                               nn.CrossEntropyLoss(), callbacks=[checkpoint])  # fmt: skip
    trainer.fit(gw.data.DataLoader(moons, 16, shuffle=True), epochs=2)
    weights = {k: to_numpy(v) for k, v in model.state_dict().items()}
    for name in ("last.safetensors", "best.safetensors"):
        loaded = safetensors_torch.load_file(str(tmp_path / "ckpt" / name))
        assert sorted(loaded) == sorted(weights)
    last = safetensors_torch.load_file(str(tmp_path / "ckpt" / "last.safetensors"))
    for key, value in weights.items():
        assert np.array_equal(to_numpy(last[key]), value)
    exported = gw.train.export_weights(tmp_path / "ckpt" / "last.npz", tmp_path / "m.safetensors")
    assert exported.read_bytes() == (tmp_path / "ckpt" / "last.safetensors").read_bytes()
    assert gw.train.export_weights(trainer, tmp_path / "t.safetensors").read_bytes() == (
        exported.read_bytes()
    )


def test_checkpoint_config_key_turns_it_on(tmp_path):
    from gradwork.train import build
    from gradwork.train.config import resolve

    config = resolve({
        "data": {"name": "moons", "n_samples": 64},
        "model": {"arch": "mlp", "hidden": [4]},
        "callbacks": {"checkpoint": {"safetensors": True}},
    })  # fmt: skip
    trainer = build.make_trainer(build.build(config), run_dir=tmp_path)
    (checkpoint,) = [
        c for c in trainer.callbacks.callbacks if isinstance(c, gw.train.ModelCheckpoint)
    ]
    assert checkpoint.safetensors
    assert resolve({})["callbacks"]["checkpoint"]["safetensors"] is False
