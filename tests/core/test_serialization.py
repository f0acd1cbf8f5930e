"""`gradwork.save` / `gradwork.load`: npz+JSON trees and safetensors, never pickle."""

import io
import json
import struct

import numpy as np
import pytest

import gradwork as gw
from gradwork.serialization import FileFormatError
from tests.helpers import to_numpy

try:
    import torch
except ImportError:
    torch = None


def test_state_dict_round_trip(tmp_path):
    model = gw.nn.Sequential(gw.nn.Linear(3, 4), gw.nn.BatchNorm1d(4))
    gw.save(model.state_dict(), tmp_path / "model.pt")
    other = gw.nn.Sequential(gw.nn.Linear(3, 4), gw.nn.BatchNorm1d(4))
    other.load_state_dict(gw.load(tmp_path / "model.pt"))
    for (name, a), (_, b) in zip(
        model.state_dict().items(), other.state_dict().items(), strict=True
    ):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b), err_msg=name)
    assert (tmp_path / "model.pt").exists()  # no suffix added


def test_nested_tree_keeps_types(tmp_path):
    tree = {
        "t": gw.tensor([1.0, 2.0], requires_grad=True),
        "a": np.arange(3, dtype=np.int16),
        "scalar": np.float32(2.5),
        "list": [1, 2.0, "x", None, True, (gw.zeros(1), "y")],
        "by_index": {0: {"momentum": gw.ones(2)}},
    }
    gw.save(tree, str(tmp_path / "tree"))
    back = gw.load(str(tmp_path / "tree"))
    assert isinstance(back["t"], gw.Tensor) and back["t"].requires_grad
    assert back["t"].array.tolist() == [1.0, 2.0]
    assert isinstance(back["a"], np.ndarray) and back["a"].dtype == np.int16
    assert back["scalar"] == np.float32(2.5)
    assert back["list"][:5] == [1, 2.0, "x", None, True]
    assert isinstance(back["list"][5], tuple) and back["list"][5][1] == "y"
    assert back["by_index"][0]["momentum"].array.tolist() == [1.0, 1.0]


def test_file_objects_and_a_single_tensor():
    buffer = io.BytesIO()
    gw.save(gw.arange(4), buffer)
    buffer.seek(0)
    loaded = gw.load(buffer, map_location="cpu", weights_only=True)
    assert loaded.array.tolist() == [0, 1, 2, 3]


def test_refuses_objects_it_would_have_to_pickle(tmp_path):
    with pytest.raises(TypeError, match="never pickles"):
        gw.save({"fn": print}, tmp_path / "x.pt")


def test_checkpoints_share_the_format(tmp_path):
    from gradwork.train import load_checkpoint

    gw.save({"w": gw.ones(2)}, tmp_path / "c.npz")
    assert isinstance(load_checkpoint(tmp_path / "c.npz")["w"], np.ndarray)


@pytest.mark.parametrize("suffix", ["model.pt", "model.safetensors"])
def test_bad_files_name_the_file(tmp_path, suffix):
    path = tmp_path / suffix
    gw.save({"w": gw.ones(50)}, path)
    path.write_bytes(path.read_bytes()[:40])  # truncated
    with pytest.raises(FileFormatError, match=suffix):
        gw.load(path)
    path.write_bytes(b"not a model at all")
    with pytest.raises(RuntimeError, match=suffix):
        gw.load(path)
    with pytest.raises(FileNotFoundError, match="missing"):
        gw.load(tmp_path / "missing.pt")


@pytest.mark.skipif(torch is None, reason="torch not installed")
def test_a_torch_pickle_is_refused_with_advice(tmp_path):
    torch.save({"w": torch.ones(2)}, tmp_path / "t.pt")
    with pytest.raises(FileFormatError, match="torch.save"):
        gw.load(tmp_path / "t.pt")


def _read_safetensors(path):
    blob = path.read_bytes()
    (size,) = struct.unpack("<Q", blob[:8])
    return json.loads(blob[8 : 8 + size]), blob[8 + size :], size


def test_safetensors_layout(tmp_path):
    path = tmp_path / "w.safetensors"
    weights = {"b": gw.tensor([1.0, 2.0]), "a.weight": np.arange(6, dtype=np.int64).reshape(2, 3)}
    gw.save(weights, path)
    header, data, size = _read_safetensors(path)
    assert size % 8 == 0
    assert header["a.weight"] == {"dtype": "I64", "shape": [2, 3], "data_offsets": [0, 48]}
    assert header["b"] == {"dtype": "F32", "shape": [2], "data_offsets": [48, 56]}
    assert len(data) == 56
    np.testing.assert_array_equal(np.frombuffer(data[48:], "<f4"), [1.0, 2.0])
    back = gw.load(path)
    assert list(back) == ["a.weight", "b"] and back["a.weight"].array.tolist() == [
        [0, 1, 2],
        [3, 4, 5],
    ]


def test_safetensors_reads_bfloat16_and_metadata(tmp_path):
    values = np.array([1.5, -2.0], np.float32)
    raw = (values.view(np.uint32) >> 16).astype("<u2").tobytes()
    entry = {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}
    header = json.dumps({"__metadata__": {"format": "pt"}, "x": entry}).encode()
    path = tmp_path / "bf.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + raw)
    assert gw.load(path)["x"].array.tolist() == [1.5, -2.0]


def test_safetensors_wants_a_flat_dict(tmp_path):
    with pytest.raises(TypeError, match="flat dict"):
        gw.save(gw.ones(2), tmp_path / "x.safetensors")


def test_model_round_trip_through_safetensors(tmp_path):
    model = gw.nn.Linear(3, 2)
    gw.save(model.state_dict(), tmp_path / "m.safetensors")
    other = gw.nn.Linear(3, 2)
    other.load_state_dict(gw.load(tmp_path / "m.safetensors"))
    np.testing.assert_array_equal(to_numpy(other.weight), to_numpy(model.weight))
