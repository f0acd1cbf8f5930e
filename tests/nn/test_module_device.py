"""Module.to("cuda") on the CPU stand-in for CuPy: the GPU code path, checked without a GPU.

The stand-in's arrays refuse implicit conversion to NumPy, as CuPy's do, so a
hidden host conversion anywhere in a layer's forward/backward, a loss or an
optimizer step fails here. Each model trains a few steps on "cuda" and on the
CPU from the same weights and data; the two runs must agree step for step.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import gradwork as gw
from gradwork import nn, optim


class Classifier(nn.Module):
    """A backbone (CNN, LSTM, Transformer) and a linear head over its last features."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        if kind == "cnn":
            self.body = nn.Sequential(
                # no bias before BatchNorm: its gradient is ~0, and Adam would amplify the
                # rounding noise of that ~0 into full-size steps that differ by device
                nn.Conv2d(2, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(4, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            )  # fmt: skip
            width = 4
        elif kind == "lstm":
            self.body = nn.LSTM(3, 5, num_layers=2, batch_first=True)
            width = 5
        elif kind == "transformer":
            self.body = nn.TransformerEncoder(
                nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True), 2
            )
            width = 8
        else:
            self.body = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU())
            width = 16
        self.head = nn.Linear(width, 3)

    def forward(self, x):
        if self.kind == "lstm":
            return self.head(self.body(x)[0][:, -1])
        if self.kind == "transformer":
            return self.head(self.body(x).mean(dim=1))
        return self.head(self.body(x))


INPUTS = {"mlp": (6,), "cnn": (2, 6, 6), "lstm": (4, 3), "transformer": (5, 8)}


def _batches(kind: str, steps: int = 3, batch: int = 6) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(1)
    return [
        (rng.standard_normal((batch, *INPUTS[kind])).astype(np.float32),
         rng.integers(0, 3, batch))
        for _ in range(steps)
    ]  # fmt: skip


def _train(model, device: str, batches) -> tuple[list[float], dict]:
    model.to(device)
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for x, y in batches:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(gw.tensor(x).to(device)), gw.tensor(y).to(device))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    weights = {name: value.cpu().numpy() for name, value in model.state_dict().items()}
    return losses, weights


@pytest.mark.parametrize("kind", ["mlp", "cnn", "lstm", "transformer"])
def test_a_model_moved_to_cuda_trains_as_on_the_cpu_step_for_step(cuda_standin, kind):
    gw.manual_seed(0)
    on_cpu = Classifier(kind)
    on_gpu = Classifier(kind)
    on_gpu.load_state_dict(on_cpu.state_dict())
    batches = _batches(kind)
    cpu_losses, cpu_weights = _train(on_cpu, "cpu", batches)
    gpu_losses, gpu_weights = _train(on_gpu, "cuda", batches)
    assert all(p.device.type == "cuda" for p in on_gpu.parameters())
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=1e-5, atol=1e-6)
    assert cpu_losses[-1] != cpu_losses[0]  # the steps changed the weights
    for name, value in cpu_weights.items():
        np.testing.assert_allclose(gpu_weights[name], value, rtol=1e-4, atol=1e-5, err_msg=name)


def test_to_moves_parameters_buffers_and_gradients_in_place(cuda_standin):
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    model(gw.randn(4, 2)).sum().backward()
    weight, counter = model[0].weight, model[1].num_batches_tracked
    assert model.to("cuda") is model
    assert model[0].weight is weight and weight.device == gw.device("cuda", 0)
    assert weight.grad.device.type == "cuda"
    assert model[1].running_mean.device.type == "cuda"
    assert counter.device.type == "cuda" and counter.dtype == np.int64  # a dtype moves floats only
    model.cpu()
    assert weight.device.type == "cpu" and weight.grad.device.type == "cpu"
    model.cuda()
    assert weight.device.type == "cuda"


def test_to_takes_device_and_dtype_together_as_torch(cuda_standin):
    model = nn.Linear(2, 2)
    model.to("cuda", gw.float64)
    assert model.weight.device.type == "cuda" and model.weight.dtype == np.float64
    model.to(device="cpu", dtype=gw.float32)
    assert model.weight.device.type == "cpu" and model.weight.dtype == np.float32
    model.to(gw.zeros(1, dtype=gw.float64, device="cuda"))  # a tensor: its device and dtype
    assert model.weight.device.type == "cuda" and model.weight.dtype == np.float64
    with pytest.raises(TypeError, match="only accepts floating point"):
        model.to(gw.int64)


def test_optimizer_state_made_before_a_move_follows_its_parameters(cuda_standin):
    gw.manual_seed(0)
    model = nn.Linear(3, 2)
    reference = nn.Linear(3, 2)
    reference.load_state_dict(model.state_dict())
    x, y = gw.randn(4, 3), gw.randn(4, 2)
    runs = []
    for net, move in ((model, True), (reference, False)):
        opt = optim.Adam(net.parameters(), lr=0.1)
        for step in range(3):
            if move and step == 1:
                net.to("cuda")  # after Adam's state exists, on the CPU
            device = net.weight.device
            opt.zero_grad()
            loss = ((net(x.to(device)) - y.to(device)) ** 2).mean()
            loss.backward()
            opt.step()
        runs.append((net.weight.cpu().detach().numpy(), opt.state[net.weight]["exp_avg"]))
    (moved, moved_state), (kept, _) = runs
    np.testing.assert_allclose(moved, kept, rtol=1e-5, atol=1e-6)
    assert not isinstance(moved_state, np.ndarray)  # on the device


def test_load_state_dict_crosses_devices_both_ways(cuda_standin):
    gw.manual_seed(0)
    source = nn.Linear(3, 2).to("cuda")
    on_cpu = nn.Linear(3, 2).to("cpu")  # on the CPU whatever the default device
    on_cpu.load_state_dict(source.state_dict())  # cuda tensors into CPU parameters
    np.testing.assert_array_equal(
        on_cpu.weight.detach().numpy(), source.weight.cpu().detach().numpy()
    )
    target = nn.Linear(3, 2).to("cuda")
    weight = target.weight
    target.load_state_dict(on_cpu.state_dict())  # host tensors into cuda parameters
    assert target.weight is weight and weight.device.type == "cuda"
    np.testing.assert_array_equal(weight.cpu().detach().numpy(), on_cpu.weight.detach().numpy())


def test_an_optimizer_checkpoint_loads_onto_the_parameters_device(cuda_standin):
    model = nn.Linear(3, 2).to("cpu")  # on the CPU whatever the default device
    opt = optim.Adam(model.parameters())
    model(gw.randn(2, 3, device="cpu")).sum().backward()
    opt.step()
    saved = opt.state_dict()  # host arrays
    moved = nn.Linear(3, 2).to("cuda")
    restored = optim.Adam(moved.parameters())
    restored.load_state_dict(saved)
    state = restored.state[moved.weight]
    assert not isinstance(state["exp_avg"], np.ndarray) and state["step"] == 1.0
    np.testing.assert_array_equal(
        gw.Tensor(state["exp_avg"]).cpu().numpy(), opt.state[model.weight]["exp_avg"]
    )


def _both(build, run):
    """run(module, device) on the CPU and on "cuda" from the same module; both results."""
    gw.manual_seed(0)
    module = build()
    twin = copy.deepcopy(module)
    return run(module.to("cpu"), "cpu"), run(twin.to("cuda"), "cuda")


def test_attention_masks_on_cuda_give_the_cpu_result(cuda_standin):
    x = np.random.default_rng(0).standard_normal((2, 5, 8)).astype(np.float32)
    padding = np.array([[False] * 4 + [True], [False] * 5])

    def run(module, device):
        inputs = gw.tensor(x).to(device)
        causal = nn.Transformer.generate_square_subsequent_mask(5).to(device) < 0  # bool, as the
        # padding mask (torch warns when the two masks' types differ)
        out = module(inputs, mask=causal, src_key_padding_mask=gw.tensor(padding).to(device))
        out.sum().backward()
        return out.cpu().detach().numpy(), module.layers[0].linear1.weight.grad.cpu().numpy()

    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    (cpu_out, cpu_grad), (gpu_out, gpu_grad) = _both(lambda: nn.TransformerEncoder(layer, 2), run)
    np.testing.assert_allclose(gpu_out, cpu_out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gpu_grad, cpu_grad, rtol=1e-4, atol=1e-6)


def test_recurrent_dropout_cells_and_packed_sequences_on_cuda(cuda_standin):
    from gradwork.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)

    def run(module, device):
        gw.manual_seed(1)  # the dropout mask between layers: drawn on the host, the same
        gru, cell, lstm = module
        out = gru(gw.tensor(x).to(device))[0].sum() + cell(gw.tensor(x[:, 0]).to(device)).sum()
        packed = pack_padded_sequence(gw.tensor(x).to(device), gw.tensor([5, 3]), batch_first=True)
        out = out + pad_packed_sequence(lstm(packed)[0], batch_first=True)[0].sum()
        out.backward()
        return out.item(), gru.weight_ih_l0.grad.cpu().numpy()

    build = lambda: nn.ModuleList(  # noqa: E731
        [nn.GRU(3, 4, num_layers=2, dropout=0.5, batch_first=True), nn.RNNCell(3, 4),
         nn.LSTM(3, 4, batch_first=True)]
    )  # fmt: skip
    (cpu_loss, cpu_grad), (gpu_loss, gpu_grad) = _both(build, run)
    assert gpu_loss == pytest.approx(cpu_loss, rel=1e-5)
    np.testing.assert_allclose(gpu_grad, cpu_grad, rtol=1e-4, atol=1e-6)


def test_utilities_and_hooks_on_cuda(cuda_standin):
    seen = []

    def run(module, device):
        module.register_full_backward_hook(lambda m, gi, go: seen.append(go[0].device.type))
        x = np.arange(12, dtype=np.float32).reshape(3, 4) / 10
        module(gw.tensor(x).to(device).requires_grad_()).sum().backward()
        norm = nn.utils.clip_grad_norm_(module.parameters(), max_norm=0.1)
        assert norm.device.type == device
        return norm.item(), module[0].weight.grad.cpu().numpy()

    build = lambda: nn.Sequential(nn.Linear(4, 4), nn.ReLU())  # noqa: E731
    (cpu_norm, cpu_grad), (gpu_norm, gpu_grad) = _both(build, run)
    assert seen == ["cpu", "cuda"]
    assert gpu_norm == pytest.approx(cpu_norm, rel=1e-5)
    np.testing.assert_allclose(gpu_grad, cpu_grad, rtol=1e-5, atol=1e-7)
    table = gw.randn(5, 3).to("cuda")
    embedding = nn.Embedding.from_pretrained(table, max_norm=1.0)
    assert embedding.weight.device.type == "cuda"
    embedding(gw.tensor([1, 4]).to("cuda"))  # max_norm renormalises rows in place, on the GPU


def test_gw_save_of_a_cuda_model_loads_on_either_device(cuda_standin, tmp_path):
    model = nn.Linear(3, 2).to("cuda")
    optimizer = optim.Adam(model.parameters())
    model(gw.randn(4, 3).to("cuda")).sum().backward()
    optimizer.step()
    gw.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, tmp_path / "c")
    on_cpu = gw.load(tmp_path / "c", map_location="cpu")
    assert all(v.device.type == "cpu" for v in on_cpu["model"].values())
    for device in ("cpu", "cuda"):
        restored = nn.Linear(3, 2).to(device)
        restored.load_state_dict(on_cpu["model"])
        again = optim.Adam(restored.parameters())
        again.load_state_dict(on_cpu["optimizer"])
        assert again.state[restored.weight]["exp_avg"].shape == (2, 3)
        assert isinstance(again.state[restored.weight]["exp_avg"], np.ndarray) == (device == "cpu")
        np.testing.assert_array_equal(
            restored.weight.cpu().detach().numpy(), model.weight.cpu().detach().numpy()
        )


def test_state_of_a_group_that_cannot_be_flattened_follows_a_move(cuda_standin):
    # float32 and float64 parameters in one group: no flat buffer, one update each.
    weight = nn.Parameter(gw.ones(3))
    scale = nn.Parameter(gw.ones(3, dtype=gw.float64))
    opt = optim.SGD([weight, scale], lr=0.1, momentum=0.9)
    for step in range(3):
        if step == 1:
            for p in (weight, scale):
                p.array = p.to("cuda").array  # moved after the momentum buffers exist
        opt.zero_grad()
        (weight * weight).sum().backward()
        (scale * 2).sum().backward()
        opt.step()
    assert not isinstance(opt.state[scale]["momentum_buffer"], np.ndarray)
    # the same three steps on the CPU: momentum 0.9, lr 0.1
    expected_scale = 1 - 0.1 * 2 * (1 + 1.9 + 2.71)
    np.testing.assert_allclose(scale.cpu().detach().numpy(), expected_scale, rtol=1e-12)


def test_moving_to_cuda_without_a_backend_says_how_to_install_cupy():
    if gw.cuda.is_available():
        pytest.skip("a CUDA backend is registered (a GPU, or GRADWORK_CUDA_STANDIN=1)")
    model = nn.Linear(2, 2)
    with pytest.raises(AssertionError, match=r"gradwork\[cuda12\]"):
        model.to("cuda")
    assert model.weight.device.type == "cpu"  # nothing moved
    assert nn.ReLU().cuda() is not None  # no tensors to move: nothing to refuse, as torch
