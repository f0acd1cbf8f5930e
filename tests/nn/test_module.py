"""Module features: registry names and orders, state_dict loading, dtype, containers, repr."""

from __future__ import annotations

import numpy as np
import pytest

import gradwork as gw
from gradwork import nn
from tests.helpers import to_numpy


def _nested(m):
    """The same nested model in gradwork (m = gradwork.nn) or torch (m = torch.nn)."""

    class Block(m.Module):
        def __init__(self):
            super().__init__()
            self.conv = m.Conv2d(2, 3, 3, padding=1)
            self.bn = m.BatchNorm2d(3)
            self.act = m.ReLU()

        def forward(self, x):
            return self.act(self.bn(self.conv(x)))

    class Net(m.Module):
        def __init__(self):
            super().__init__()
            self.features = m.Sequential(Block(), m.MaxPool2d(2))
            self.heads = m.ModuleDict({"cls": m.Linear(12, 4), "aux": m.Linear(12, 2)})
            self.extra = m.ModuleList([m.Linear(4, 4), m.Linear(4, 4)])
            self.register_buffer("scale", m.Parameter(m.init.ones_(m.Linear(1, 3).bias)).array
                                 if False else _ones(m, 3))  # fmt: skip
            self.register_buffer("cache", _ones(m, 2), persistent=False)

        def forward(self, x):
            x = self.features(x).flatten(1)
            return self.heads["cls"](x)

    return Net()


def _ones(m, n):
    import importlib

    root = importlib.import_module(m.__name__.split(".")[0])
    return root.ones(n)


def test_named_members_match_torch(torch):
    ours, theirs = _nested(nn), _nested(torch.nn)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert "cache" not in ours.state_dict()
    assert len(list(ours.parameters())) == len(list(theirs.parameters()))


def test_torch_state_dict_loads_and_outputs_match(torch):
    ours, theirs = _nested(nn), _nested(torch.nn)
    result = ours.load_state_dict(theirs.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    x = np.random.default_rng(0).standard_normal((2, 2, 4, 4)).astype(np.float32)
    ours.eval(), theirs.eval()
    np.testing.assert_allclose(to_numpy(ours(gw.tensor(x))), to_numpy(theirs(torch.tensor(x))),
                               atol=1e-5)  # fmt: skip


def test_strict_loading_reports_the_full_diff():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    state = model.state_dict()
    del state["1.running_var"]
    state["2.weight"] = np.zeros(3)
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(state)
    message = str(info.value)
    assert "missing keys (1): 1.running_var" in message
    assert "unexpected keys (1): 2.weight" in message
    assert "strict=False" in message
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert (missing, unexpected) == (["1.running_var"], ["2.weight"])


def test_shape_mismatch_raises_even_when_not_strict():
    model = nn.Linear(2, 3)
    with pytest.raises(RuntimeError, match=r"weight: checkpoint \(3, 4\), model \(3, 2\)"):
        model.load_state_dict({"weight": np.zeros((3, 4)), "bias": np.zeros(3)}, strict=False)


def test_loading_is_in_place_and_casts():
    model = nn.Linear(2, 3)
    weight = model.weight
    model.load_state_dict({"weight": np.ones((3, 2)), "bias": np.arange(3)})
    assert model.weight is weight and weight.dtype == np.float32
    np.testing.assert_array_equal(to_numpy(model.bias), [0, 1, 2])


def test_double_keeps_parameter_identity_and_converts_buffers():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    parameters = list(model.parameters())
    assert model.double() is model
    assert all(a is b for a, b in zip(parameters, model.parameters(), strict=True))
    assert all(p.dtype == np.float64 and isinstance(p, nn.Parameter) for p in parameters)
    assert model[1].running_mean.dtype == np.float64
    assert model[1].num_batches_tracked.dtype == np.int64  # integers stay integers
    assert model.float()[0].weight.dtype == np.float32
    assert model.to("cpu") is model and model.to(gw.float64)[0].bias.dtype == np.float64


def test_sequential_indexing_slicing_and_append():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert isinstance(model[0], nn.Linear) and isinstance(model[-1], nn.Linear)
    head = model[1:]
    assert isinstance(head, nn.Sequential) and len(head) == 2
    assert list(head.state_dict()) == ["2.weight", "2.bias"]  # torch keeps the names
    assert head[1] is model[2]
    model.append(nn.Sigmoid())
    assert len(model) == 4 and [type(m).__name__ for m in model][-1] == "Sigmoid"
    del model[1]
    assert list(model._modules) == ["0", "1", "2"]
    with pytest.raises(IndexError, match="out of range"):
        model[7]


def test_repr_equals_torch(torch):
    def build(m):
        return m.Sequential(
            m.Conv2d(1, 4, 3, padding=1, bias=False),
            m.BatchNorm2d(4),
            m.ReLU(inplace=True),
            m.MaxPool2d(2),
            m.Dropout(0.25),
            m.Flatten(),
            m.Linear(16, 3),
            m.LogSoftmax(dim=1),
            m.ModuleList([m.Linear(2, 2), m.Linear(2, 2), m.GELU()]),
            m.LayerNorm(3),
            m.GroupNorm(2, 4),
            m.AvgPool2d(2),
            m.AdaptiveAvgPool2d(1),
            m.LeakyReLU(0.1),
            m.ConvTranspose2d(2, 2, 3, stride=2, output_padding=1),
            m.Softplus(),
            m.BatchNorm1d(3, affine=False, bias=False),
            m.InstanceNorm2d(2),
            m.Conv1d(2, 2, 3),
            m.Conv2d(2, 2, 3, padding="same", dilation=2, groups=2),
            m.SiLU(),
            m.ELU(),
        )

    assert repr(build(nn)) == repr(build(torch.nn))


def test_parameter_repr_and_defaults():
    p = nn.Parameter(gw.tensor([1.0, 2.0], device="cpu"))  # a CPU repr names no device
    assert p.requires_grad and p.is_leaf
    assert repr(p).startswith("Parameter containing:\ntensor([1., 2.], requires_grad=True)")
    frozen = nn.Parameter(np.zeros(2), requires_grad=False)
    assert not frozen.requires_grad


def test_train_eval_apply_zero_grad_requires_grad():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout())
    assert model.eval() is model and not model[1].training
    model.train()
    assert all(m.training for m in model.modules())
    seen = []
    model.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "Dropout", "Sequential"]
    model(gw.randn(3, 2)).sum().backward()
    assert model[0].weight.grad is not None
    model.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(to_numpy(model[0].weight.grad), 0)
    model.zero_grad()
    assert model[0].weight.grad is None
    model.requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())


def test_assigning_a_plain_tensor_to_a_parameter_slot_is_refused():
    layer = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="nn.Parameter"):
        layer.weight = gw.zeros(2, 2)
    layer.bias = None
    assert "bias" not in layer.state_dict()


def test_forward_hooks_and_pre_hooks_follow_torch_semantics():
    layer = nn.Linear(2, 2)
    calls = []
    pre = layer.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    post = layer.register_forward_hook(lambda m, args, out: calls.append(out.shape) or out * 2)
    out = layer(gw.ones(1, 2))
    np.testing.assert_allclose(to_numpy(out), 2 * to_numpy(layer.bias)[None], rtol=1e-6)
    assert calls == [(1, 2)]
    pre.remove(), post.remove()
    np.testing.assert_allclose(to_numpy(layer(gw.zeros(1, 2))), to_numpy(layer.bias)[None])


def test_anomaly_mode_names_the_module_path():
    class Bad(nn.Module):
        def forward(self, x):
            return (x - 1).log()

    model = nn.Sequential(nn.Linear(2, 2))
    model.encoder = nn.Sequential(nn.Identity(), Bad())
    with gw.detect_anomaly(), pytest.raises(FloatingPointError, match=r"encoder\.1"):
        model.encoder(gw.zeros(1, 2))
