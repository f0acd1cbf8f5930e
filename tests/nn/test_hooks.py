"""nn.Module hooks: forward (pre-)hooks with kwargs, full backward (pre-)hooks, vs torch."""

import numpy as np
import pytest

import gradwork as gw
from tests.helpers import to_numpy

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed")


class Scale(gw.nn.Module):
    def forward(self, x, factor=2.0):
        return x * factor


def test_forward_pre_hook_with_kwargs_and_prepend():
    module, calls = Scale(), []
    module.register_forward_pre_hook(lambda m, a: calls.append("plain"))
    module.register_forward_pre_hook(
        lambda m, a, k: (a, {**k, "factor": 10.0}), with_kwargs=True, prepend=True
    )
    assert module(gw.ones(1), factor=3.0).array.tolist() == [10.0]
    assert calls == ["plain"]


def test_pre_hook_with_kwargs_must_return_a_pair():
    module = Scale()
    module.register_forward_pre_hook(lambda m, a, k: a, with_kwargs=True)
    with pytest.raises(RuntimeError, match="tuple of \\(new_args, new_kwargs\\)"):
        module(gw.ones(1))


def test_forward_hook_with_kwargs_always_call_and_removal():
    module, seen = Scale(), []
    handle = module.register_forward_hook(
        lambda m, a, k, out: seen.append(k) or out + 1, with_kwargs=True
    )
    assert module(gw.ones(1), factor=3.0).array.tolist() == [4.0]
    assert seen == [{"factor": 3.0}]
    handle.remove()
    assert not module._forward_hooks and not module._forward_hooks_with_kwargs
    module.register_forward_hook(lambda m, a, out: seen.append(out), always_call=True)
    with pytest.raises(TypeError):
        module(gw.ones(1), bad=1)
    assert seen[-1] is None


def _pair(lib, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((4, 3)).astype(np.float64)
    x = rng.standard_normal((5, 3)).astype(np.float64)
    layer = lib.nn.Linear(3, 4).double()
    if lib is torch:
        with torch.no_grad():
            layer.weight.copy_(torch.tensor(w))
        return layer, torch.tensor(x, requires_grad=True)
    layer.weight.array[...] = w
    return layer, gw.tensor(x, requires_grad=True)


def _run(lib, replace):
    layer, x = _pair(lib)
    if lib is torch:
        layer.bias.data.zero_()
    else:
        layer.bias.array[...] = 0
    record = {}

    def pre(module, grad_output):
        record["pre"] = to_numpy(grad_output[0].detach()).copy()
        return (grad_output[0] * 3,)

    def full(module, grad_input, grad_output):
        record["in"] = to_numpy(grad_input[0].detach()).copy()
        record["out"] = to_numpy(grad_output[0].detach()).copy()
        return (grad_input[0] * 0.5,) if replace else None

    layer.register_full_backward_pre_hook(pre)
    layer.register_full_backward_hook(full)
    (layer(x) ** 2).sum().backward()
    record["x.grad"] = to_numpy(x.grad.detach()).copy()
    record["w.grad"] = to_numpy(layer.weight.grad.detach()).copy()
    return record


@needs_torch
@pytest.mark.parametrize("replace", [False, True])
def test_full_backward_hooks_match_torch(replace):
    mine, theirs = _run(gw, replace), _run(torch, replace)
    assert mine.keys() == theirs.keys()
    for key in mine:
        np.testing.assert_allclose(mine[key], theirs[key], rtol=1e-10, err_msg=key)


class TwoInTwoOut(gw.nn.Module):
    def forward(self, a, flag, b):
        return a * b, a + b


def test_several_inputs_and_outputs_meet_once():
    module, calls = TwoInTwoOut(), []
    module.register_full_backward_pre_hook(lambda m, gout: calls.append(("pre", len(gout))))
    module.register_full_backward_hook(
        lambda m, gin, gout: calls.append(("full", gin[1], gout[1].array.tolist()))
    )
    a = gw.tensor([1.0, 2.0], requires_grad=True)
    b = gw.tensor([3.0, 4.0], requires_grad=True)
    p, s = module(a, "flag", b)
    ((p * 2).sum() + s.sum()).backward()
    assert calls == [("pre", 2), ("full", None, [1.0, 1.0])]
    np.testing.assert_allclose(to_numpy(a.grad), 2 * to_numpy(b) + 1)
    np.testing.assert_allclose(to_numpy(b.grad), 2 * to_numpy(a) + 1)


def test_hook_when_no_input_requires_grad():
    layer, calls = gw.nn.Linear(2, 1), []
    layer.register_full_backward_hook(lambda m, gin, gout: calls.append(gin))
    layer(gw.ones(3, 2)).sum().backward()
    assert calls == [(None,)] and layer.weight.grad is not None


def test_wrong_number_of_grad_inputs_raises():
    layer = gw.nn.Linear(2, 1)
    layer.register_full_backward_hook(lambda m, gin, gout: (gin[0], gin[0]))
    with pytest.raises(RuntimeError, match="invalid number of grad_input, got 2, but expected 1"):
        layer(gw.ones(3, 2, requires_grad=True)).sum().backward()


def test_removed_backward_hook_and_no_grad_calls():
    layer, calls = gw.nn.Linear(2, 1), []
    handle = layer.register_full_backward_hook(lambda m, gin, gout: calls.append(1))
    with gw.no_grad():
        layer(gw.ones(1, 2))
    handle.remove()
    layer(gw.ones(1, 2, requires_grad=True)).sum().backward()
    assert calls == []
