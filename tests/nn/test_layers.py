"""Generic checks run over every entry of the table in cases.py (Keras-style layer harness)."""

from __future__ import annotations

import numpy as np
import pytest

import gradwork as gw
from gradwork import nn
from gradwork.diagnose import gradcheck
from tests.helpers import to_numpy
from tests.nn.cases import ACTIVATION_CASES, CASES, LAYER_CASES, LOSS_CASES

IDS = [case.id for case in CASES]


def _inputs(case, rng=None):
    """gradwork float64 tensors; float inputs require grad (targets: unless disabled)."""
    rng = rng or np.random.default_rng(0)
    tensors = []
    for i, array in enumerate(case.inputs(rng)):
        wants = array.dtype.kind == "f" and (i == 0 or case.target_grad)
        tensors.append(gw.tensor(array, requires_grad=wants))
    return tensors


def _torch_inputs(torch, inputs):
    out = []
    for x in inputs:
        t = torch.tensor(np.array(to_numpy(x)))
        out.append(t.requires_grad_(True) if x.requires_grad else t)
    return out


def _pair(case, torch):
    """(ours, theirs) in float64, ours loaded with torch's own state_dict."""
    theirs = case.theirs(torch).double()
    ours = case.ours().double()
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def test_every_public_layer_activation_and_loss_has_an_entry():
    covered = {case.name for case in CASES}
    public = set(nn.LAYERS) | set(nn.ACTIVATIONS) | set(nn.LOSSES)
    assert public <= set(nn.__all__)
    assert public - covered == set(), f"no table entry for {sorted(public - covered)}"
    assert {c.name for c in LAYER_CASES} == set(nn.LAYERS)
    assert {c.name for c in ACTIVATION_CASES} == set(nn.ACTIVATIONS)
    assert {c.name for c in LOSS_CASES} == set(nn.LOSSES)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradcheck_input_and_parameters(case):
    module = case.ours()
    report = gradcheck(module, _inputs(case), atol=1e-6, rtol=1e-4)
    names = [check.name for check in report.inputs]
    assert names[0] == "input 0"
    assert len([n for n in names if n.startswith("parameter")]) == len(list(module.parameters()))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_state_dict_round_trip(case):
    first, second = case.ours(), case.ours()
    state = first.state_dict()
    assert all(isinstance(v, gw.Tensor) and not v.requires_grad for v in state.values())
    second.load_state_dict(state)
    for (name, a), b in zip(state.items(), second.state_dict().values(), strict=True):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b), err_msg=name)
    first.eval(), second.eval()
    inputs = _inputs(case)
    np.testing.assert_array_equal(to_numpy(first(*inputs)), to_numpy(second(*inputs)))
    # As torch's, state_dict shares storage: editing a value edits the module,
    # and a clone() is a snapshot that doesn't follow it.
    snapshot = {name: value.clone() for name, value in state.items()}
    for value in state.values():
        value.fill_(7)
    for name, value in first.state_dict().items():
        np.testing.assert_array_equal(to_numpy(value), np.full(value.shape, 7), err_msg=name)
        assert not np.array_equal(snapshot[name], value) or snapshot[name].numel() == 0


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_names_and_shapes_match_torch_state_dict(case, torch):
    theirs = case.theirs(torch).state_dict()
    ours = case.ours().state_dict()
    assert list(ours) == list(theirs)
    for name in ours:
        assert ours[name].shape == tuple(theirs[name].shape), name
        assert ours[name].dtype == to_numpy(theirs[name]).dtype or ours[name].dtype == np.float32


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_torch_parity_training_step(case, torch):
    ours, theirs = _pair(case, torch)
    inputs = _inputs(case)
    torch_inputs = _torch_inputs(torch, inputs)
    gw.manual_seed(0)
    out, expected = ours(*inputs), theirs(*torch_inputs)
    assert out.shape == tuple(expected.shape)
    if case.stochastic:
        return  # different random streams; behaviour is tested in test_train_eval.py
    np.testing.assert_allclose(to_numpy(out), to_numpy(expected), atol=1e-8, rtol=1e-6)
    weights = np.random.default_rng(1).standard_normal(out.shape)
    (out * gw.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    for i, (x, t) in enumerate(zip(inputs, torch_inputs, strict=True)):
        if x.requires_grad:
            want = np.zeros(x.shape) if t.grad is None else to_numpy(t.grad)
            got = np.zeros(x.shape) if x.grad is None else x.grad.array
            np.testing.assert_allclose(
                to_numpy(got), to_numpy(want), atol=1e-8, rtol=1e-6, err_msg=f"input {i}"
            )
    torch_parameters = dict(theirs.named_parameters())
    for name, parameter in ours.named_parameters():
        np.testing.assert_allclose(to_numpy(parameter.grad), to_numpy(torch_parameters[name].grad),
                                   atol=1e-8, rtol=1e-6, err_msg=name)  # fmt: skip
    torch_state = theirs.state_dict()
    for name, value in ours.state_dict().items():  # running statistics after the step
        np.testing.assert_allclose(
            to_numpy(value), to_numpy(torch_state[name]), atol=1e-10, err_msg=name
        )


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_torch_parity_eval_mode(case, torch):
    ours, theirs = _pair(case, torch)
    inputs = _inputs(case)
    ours(*inputs), theirs(*_torch_inputs(torch, inputs))  # one training step of statistics
    ours.eval(), theirs.eval()
    assert not ours.training and all(not m.training for m in ours.modules())
    with gw.no_grad():
        out = ours(*inputs)
    expected = to_numpy(theirs(*_torch_inputs(torch, inputs)))
    np.testing.assert_allclose(to_numpy(out), to_numpy(expected), atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("case", [c for c in CASES if list(c.ours().parameters())],
                         ids=[c.id for c in CASES if list(c.ours().parameters())])  # fmt: skip
def test_default_initialisation_matches_torch_distribution(case, torch):
    torch.manual_seed(0)
    draws = 40
    ours = [dict(case.ours().named_parameters()) for _ in range(draws)]
    theirs = [dict(case.theirs(torch).named_parameters()) for _ in range(draws)]
    for name in ours[0]:
        a = np.concatenate([to_numpy(d[name]).ravel() for d in ours])
        b = np.concatenate([to_numpy(d[name]).ravel() for d in theirs])
        if b.min() == b.max():  # a constant init (ones, zeros)
            np.testing.assert_array_equal(to_numpy(a), to_numpy(b), err_msg=name)
            continue
        bound = np.abs(b).max()
        assert np.abs(a).max() <= bound * 1.1 + 1e-12, name  # same support
        assert np.abs(a).max() >= bound * 0.9, name
        assert abs(a.std() / b.std() - 1) < 0.15, name  # same spread
        assert abs(a.mean()) < 4 * b.std() / np.sqrt(a.size), name
