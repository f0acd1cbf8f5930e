"""gradwork.load(map_location=...): torch's forms, and torch's errors for a missing CUDA."""

from __future__ import annotations

import io

import numpy as np
import pytest

import gradwork as gw
from gradwork import cuda
from tests.helpers import without_cuda

CPU_FORMS = ["cpu", b"cpu", gw.device("cpu"), {"cpu": "cpu"}, {"cuda:0": "cpu"},
             lambda tensor, location: None, lambda tensor, location: tensor]  # fmt: skip
CUDA_FORMS = ["cuda", "cuda:1", gw.device("cuda"), gw.device("cuda", 0), {"cpu": "cuda:0"}]


def _saved():
    buffer = io.BytesIO()
    with gw.device("cpu"):  # saved from the CPU, whatever the default device
        gw.save({"w": gw.tensor([1.0, 2.0]), "step": 3, "layers": [gw.zeros(2, 2)]}, buffer)
    buffer.seek(0)
    return buffer


@pytest.mark.parametrize("map_location", CPU_FORMS)
def test_every_form_of_map_location_loads_onto_the_cpu(map_location):
    state = gw.load(_saved(), map_location=map_location)
    assert state["step"] == 3 and state["w"].tolist() == [1.0, 2.0]
    assert state["w"].device == gw.device("cpu") and state["layers"][0].shape == (2, 2)


def test_a_callable_sees_each_tensor_and_its_saved_location_and_may_replace_it():
    calls = []

    def move(tensor, location):
        calls.append((tensor.shape, location))
        return tensor + 1

    state = gw.load(_saved(), map_location=move)
    assert calls == [((2,), "cpu"), ((2, 2), "cpu")]
    assert state["w"].tolist() == [2.0, 3.0] and state["layers"][0].tolist() == [[1, 1], [1, 1]]


@without_cuda
def test_safetensors_files_take_map_location_too(tmp_path):
    path = tmp_path / "model.safetensors"
    gw.save({"w": gw.ones(3)}, path)
    assert gw.load(path, map_location="cpu")["w"].tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(RuntimeError, match="CUDA device"):
        gw.load(path, map_location="cuda")


@pytest.mark.parametrize("map_location", CUDA_FORMS)
def test_cuda_without_cuda_raises_torchs_error(map_location, monkeypatch):
    monkeypatch.setattr(cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError) as error:
        gw.load(_saved(), map_location=map_location)
    assert str(error.value) == (
        "Attempting to deserialize object on a CUDA device but gradwork.cuda.is_available() is "
        "False. If you are running on a CPU-only machine, please use gradwork.load with "
        "map_location=gradwork.device('cpu') to map your storages to the CPU."
    )


@without_cuda
def test_the_message_has_torchs_shape(torch):
    buffer = io.BytesIO()
    torch.save(torch.ones(2), buffer)
    buffer.seek(0)
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: torch loads onto it")
    with pytest.raises(RuntimeError) as theirs:
        torch.load(buffer, map_location="cuda")
    with pytest.raises(RuntimeError) as ours:
        gw.load(_saved(), map_location="cuda")
    translated = str(theirs.value).replace("torch", "gradwork")
    assert str(ours.value) == translated


def test_a_device_index_past_the_last_gpu_is_refused(monkeypatch):
    monkeypatch.setattr(cuda, "is_available", lambda: True)
    monkeypatch.setattr(cuda, "device_count", lambda: 1)
    with pytest.raises(RuntimeError, match="CUDA device 3 but gradwork.cuda.device_count.. is 1"):
        gw.load(_saved(), map_location="cuda:3")


@pytest.mark.parametrize(
    "map_location,error,match",
    [("gpu", RuntimeError, "don't know how to restore data location.*tagged with gpu"),
     ("mps", RuntimeError, "MPS device"),
     (5, TypeError, "map_location must be None, a device string")],
)  # fmt: skip
def test_unknown_locations_are_refused(map_location, error, match):
    with pytest.raises(error, match=match):
        gw.load(_saved(), map_location=map_location)


def test_arrays_stay_arrays_whatever_the_map_location():
    buffer = io.BytesIO()
    gw.save({"mask": np.arange(3)}, buffer)
    buffer.seek(0)
    assert gw.load(buffer, map_location="cpu")["mask"].tolist() == [0, 1, 2]
