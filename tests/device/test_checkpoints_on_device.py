"""Saving from the device and loading onto either: files are device-independent, as torch's."""

from __future__ import annotations

import io

import numpy as np

import gradwork as gw


def _save(value):
    buffer = io.BytesIO()
    gw.save(value, buffer)
    buffer.seek(0)
    return buffer


def test_a_device_tensor_comes_back_on_its_device_or_where_asked(standin):
    weight = gw.tensor([[1.0, 2.0]], device="cuda", requires_grad=True)
    state = {"w": weight, "step": 3}
    back = gw.load(_save(state))
    assert back["w"].is_cuda and back["w"].is_leaf and back["w"].requires_grad
    assert back["w"].tolist() == [[1.0, 2.0]]
    on_host = gw.load(_save(state), map_location="cpu")["w"]
    assert not on_host.is_cuda and on_host.tolist() == [[1.0, 2.0]]
    moved = gw.load(_save({"w": gw.ones(2)}), map_location="cuda")["w"]
    assert moved.is_cuda and moved.is_leaf


def test_safetensors_files_hold_host_bytes(standin, tmp_path):
    path = tmp_path / "w.safetensors"
    gw.save({"w": gw.arange(3, dtype=gw.float32, device="cuda")}, path)
    loaded = gw.load(path)["w"]
    assert not loaded.is_cuda and np.array_equal(loaded.numpy(), [0.0, 1.0, 2.0])
