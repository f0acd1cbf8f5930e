"""Optimizer checkpoints: torch's format, mid-run round trips, loading by name and from torch."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import gradwork as gw
from gradwork import optim
from tests.helpers import to_numpy
from tests.optim.cases import OPTIMIZER_CASES, Problem


def _steps(problem, opt, count, sign=1.0):
    for _ in range(count):
        opt.zero_grad()
        problem.backward(sign)
        opt.step()


@pytest.mark.parametrize("case", OPTIMIZER_CASES, ids=[c.id for c in OPTIMIZER_CASES])
def test_round_trip_mid_run_continues_identically(case):
    sign = -1.0 if case.maximize else 1.0
    problem = Problem(gw)
    opt = getattr(optim, case.name)(problem.params, **case.kwargs)
    _steps(problem, opt, 10, sign)
    saved = copy.deepcopy(opt.state_dict())
    values = problem.values()
    _steps(problem, opt, 15, sign)

    resumed = Problem(gw)
    for p, v in zip(resumed.params, values, strict=True):
        p.array[...] = v
    opt2 = getattr(optim, case.name)(resumed.params, lr=0.5)  # other lr: the checkpoint's wins
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == case.kwargs["lr"]
    _steps(resumed, opt2, 15, sign)
    for a, b in zip(problem.values(), resumed.values(), strict=True):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))


def test_state_dict_format_is_torchs(torch):
    ours, theirs = Problem(gw), Problem(torch)
    opts = [
        optim.Adam(ours.params, lr=0.01, amsgrad=True),
        torch.optim.Adam(theirs.params, lr=0.01, amsgrad=True),
    ]
    for problem, opt in zip((ours, theirs), opts, strict=True):
        _steps(problem, opt, 3)
    mine, reference = opts[0].state_dict(), opts[1].state_dict()
    assert set(mine) == {"state", "param_groups"}
    assert list(mine["state"]) == list(reference["state"]) == [0, 1, 2]
    assert mine["param_groups"][0]["params"] == reference["param_groups"][0]["params"]
    for index in range(3):
        assert set(mine["state"][index]) == set(reference["state"][index])
        assert mine["state"][index]["step"] == float(reference["state"][index]["step"]) == 3.0
        for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
            np.testing.assert_allclose(
                to_numpy(mine["state"][index][key]),
                to_numpy(reference["state"][index][key]),
                rtol=1e-10,
            )
    for key in ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"):
        assert mine["param_groups"][0][key] == reference["param_groups"][0][key]


def test_state_dict_is_a_copy():
    problem = Problem(gw)
    opt = optim.Adam(problem.params, lr=0.1)
    _steps(problem, opt, 1)
    saved = opt.state_dict()
    before = saved["state"][0]["exp_avg"].copy()
    _steps(problem, opt, 1)
    np.testing.assert_array_equal(to_numpy(saved["state"][0]["exp_avg"]), to_numpy(before))


def test_named_parameters_are_recorded_and_load_by_name():
    problem = Problem(gw)
    opt = optim.Adam(problem.named_parameters(), lr=0.05)
    _steps(problem, opt, 5)
    saved = copy.deepcopy(opt.state_dict())
    assert saved["param_groups"][0]["param_names"] == list(problem.arrays)
    values = dict(zip(problem.arrays, problem.values(), strict=True))
    _steps(problem, opt, 5)

    # The same model, but its parameters now come in the reverse order.
    resumed = Problem(gw)
    for name, p in resumed.named_parameters():
        p.array[...] = values[name]
    reordered = list(reversed(resumed.named_parameters()))
    opt2 = optim.Adam(reordered, lr=0.05)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["param_names"] == [name for name, _ in reordered]
    _steps(resumed, opt2, 5)
    for a, b in zip(problem.values(), resumed.values(), strict=True):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))


def test_reordered_parameters_without_names_are_caught():
    problem = Problem(gw)
    opt = optim.Adam(problem.params, lr=0.05)
    _steps(problem, opt, 2)
    saved = opt.state_dict()
    opt2 = optim.Adam(list(reversed(Problem(gw).params)), lr=0.05)
    with pytest.raises(ValueError, match="has shape .* but its parameter has shape"):
        opt2.load_state_dict(saved)


def test_unknown_name_raises():
    problem = Problem(gw)
    opt = optim.SGD(problem.named_parameters(), lr=0.05)
    saved = opt.state_dict()
    saved["param_groups"][0]["param_names"][0] = "encoder.weight"
    with pytest.raises(ValueError, match="'encoder.weight'"):
        optim.SGD(Problem(gw).named_parameters(), lr=0.05).load_state_dict(saved)


def test_group_count_and_size_mismatch_raise():
    problem = Problem(gw)
    saved = optim.SGD(problem.params, lr=0.1).state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        w1, b1, w2 = Problem(gw).params
        optim.SGD([{"params": [w1, b1]}, {"params": [w2]}], lr=0.1).load_state_dict(saved)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.SGD(Problem(gw).params[:2], lr=0.1).load_state_dict(saved)


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.01)),
        ("AdamW", dict(lr=0.05)),
        ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
        ("RMSprop", dict(lr=0.01, centered=True, momentum=0.3)),
        ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
        ("Adadelta", dict(lr=1.0, weight_decay=0.01)),
        ("Adamax", dict(lr=0.05)),
        ("NAdam", dict(lr=0.05, decoupled_weight_decay=True, weight_decay=0.1)),
        ("RAdam", dict(lr=0.05)),
    ],
)
def test_loads_a_real_torch_state_dict(name, kwargs, torch):
    theirs = Problem(torch)
    torch_opt = getattr(torch.optim, name)(theirs.params, **kwargs)
    _steps(theirs, torch_opt, 6)
    ours = Problem(gw)
    for p, v in zip(ours.params, theirs.values(), strict=True):
        p.array[...] = v
    opt = getattr(optim, name)(ours.params, lr=1.0)
    opt.load_state_dict(torch_opt.state_dict())  # torch tensors, tensor steps
    _steps(theirs, torch_opt, 10)
    _steps(ours, opt, 10)
    for a, b in zip(ours.values(), theirs.values(), strict=True):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-9, atol=1e-12)


def test_torch_sgd_state_before_momentum_starts(torch):
    # torch's SGD keeps {"momentum_buffer": None} for a parameter it has not stepped.
    saved = {
        "state": {0: {"momentum_buffer": None}},
        "param_groups": [
            {
                "lr": 0.1,
                "momentum": 0.9,
                "dampening": 0,
                "weight_decay": 0,
                "nesterov": False,
                "maximize": False,
                "params": [0],
            }
        ],
    }
    w = gw.tensor([1.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    opt.load_state_dict(saved)
    for _ in range(2):
        w.grad = gw.tensor([1.0])
        opt.step()
    np.testing.assert_allclose(to_numpy(w), [1.0 - 0.1 - 0.1 * 1.9])  # buffer 1, then 1.9


def test_adagrad_state_exists_before_the_first_step(torch):
    problem = Problem(gw)
    mine = optim.Adagrad(problem.params, initial_accumulator_value=0.3).state_dict()
    reference = torch.optim.Adagrad(Problem(torch).params, initial_accumulator_value=0.3)
    reference = reference.state_dict()
    assert list(mine["state"]) == list(reference["state"]) == [0, 1, 2]
    np.testing.assert_array_equal(
        to_numpy(mine["state"][1]["sum"]), to_numpy(reference["state"][1]["sum"])
    )


def test_nadam_state_is_torchs(torch):
    ours, theirs = Problem(gw), Problem(torch)
    opts = [optim.NAdam(ours.params, lr=0.05), torch.optim.NAdam(theirs.params, lr=0.05)]
    for problem, opt in zip((ours, theirs), opts, strict=True):
        _steps(problem, opt, 4)
    mine, reference = opts[0].state_dict()["state"], opts[1].state_dict()["state"]
    for index in range(3):
        assert set(mine[index]) == set(reference[index])
        assert mine[index]["mu_product"] == reference[index]["mu_product"].item()
