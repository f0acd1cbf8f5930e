"""Every optimizer configuration: torch's trajectory, flat = per-parameter, convergence, errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

import gradwork as gw
from gradwork import optim
from gradwork.optim import optimizer as optimizer_module
from tests.helpers import to_numpy
from tests.optim.cases import CONVERGENCE, LBFGS_CASES, OPTIMIZER_CASES, Problem, run

IDS = [case.id for case in OPTIMIZER_CASES]


@pytest.mark.parametrize("case", OPTIMIZER_CASES, ids=IDS)
def test_trajectory_matches_torch(case, torch):
    ours = run(gw, optim, case)
    theirs = run(torch, torch.optim, case)
    for name, a, b in zip(Problem(gw).arrays, ours, theirs, strict=True):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-9, atol=1e-12, err_msg=name)
    start = Problem(gw).arrays.values()
    assert any(not np.allclose(a, s) for a, s in zip(ours, start, strict=True)), (
        "the parameters never moved"
    )


@pytest.mark.parametrize("case", OPTIMIZER_CASES, ids=IDS)
def test_flat_path_equals_per_parameter_path(case, monkeypatch):
    problem = Problem(gw)
    flat = run(gw, optim, case)
    monkeypatch.setattr(optimizer_module, "can_flatten", lambda params: False)
    each = run(gw, optim, case)
    for a, b in zip(flat, each, strict=True):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))
    assert problem.params  # the problem was built


@pytest.mark.parametrize("case", OPTIMIZER_CASES, ids=IDS)
def test_chunked_flat_update_equals_per_parameter_path(case, monkeypatch):
    # The flat update runs chunk by chunk; chunks of 5 cut through every parameter.
    monkeypatch.setattr(optimizer_module, "CHUNK", 5)
    chunked = run(gw, optim, case)
    monkeypatch.setattr(optimizer_module, "can_flatten", lambda params: False)
    each = run(gw, optim, case)
    for a, b in zip(chunked, each, strict=True):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))


@pytest.mark.parametrize("case", OPTIMIZER_CASES, ids=IDS)
def test_missing_gradients_are_skipped_like_torch(case, torch):
    # The bias has no gradient on every third step: its state must not advance.
    def skip(step):
        return 1 if step % 3 == 0 else None

    ours = run(gw, optim, case, skip_grad=skip)
    theirs = run(torch, torch.optim, case, skip_grad=skip)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-9, atol=1e-12)


def test_flat_buffer_is_used_and_shared():
    problem = Problem(gw)
    opt = optim.Adam(problem.params, lr=0.01)
    before = [p.array.copy() for p in problem.params]
    tensors = list(problem.params)
    problem.backward()
    opt.step()
    buffer = opt._flat_groups[0].buffer
    assert all(p.array.base is buffer for p in problem.params)
    assert [id(p) for p in problem.params] == [id(t) for t in tensors]  # same Tensor objects
    assert buffer.size == sum(b.size for b in before)
    exp_avg = opt.state[problem.params[0]]["exp_avg"]
    assert exp_avg.base is opt._flat_groups[0].state["exp_avg"]
    assert exp_avg.shape == problem.params[0].shape


def test_reassigned_data_rebuilds_the_buffer(torch):
    case = OPTIMIZER_CASES[8]  # Adam with amsgrad
    results = []
    for lib, module in ((gw, optim), (torch, torch.optim)):
        problem = Problem(lib)
        opt = getattr(module, case.name)(problem.params, **case.kwargs)
        for step in range(12):
            opt.zero_grad()
            problem.backward()
            opt.step()
            if step == 4 and lib is gw:
                old = opt._flat_groups[0].buffer
                problem.params[2].data = problem.params[2].data.clone()  # a user swaps the array
        results.append(problem.values())
    assert opt is not None and old is not None
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-9, atol=1e-12)


def test_mixed_dtypes_take_the_per_parameter_path():
    w32 = gw.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    w64 = gw.tensor(np.ones(2), requires_grad=True)
    opt = optim.Adam([w32, w64], lr=0.1)
    ((w32 * w32).sum() + (w64 * w64).sum()).backward()
    opt.step()
    assert opt._flat_groups[0] is None
    assert w32.dtype == np.float32 and w64.dtype == np.float64
    np.testing.assert_allclose(to_numpy(w32), 0.9, rtol=1e-6)
    np.testing.assert_allclose(to_numpy(w64), 0.9, rtol=1e-8)  # eps shifts it by 5e-10


def test_float32_parameters_stay_float32(torch):
    case = OPTIMIZER_CASES[7]
    ours = Problem(gw, dtype="float32")
    theirs = Problem(torch, dtype="float32")
    opts = [optim.Adam(ours.params, **case.kwargs), torch.optim.Adam(theirs.params, **case.kwargs)]
    for _ in range(10):
        for problem, opt in zip((ours, theirs), opts, strict=True):
            opt.zero_grad()
            problem.backward()
            opt.step()
    for a, b in zip(ours.values(), theirs.values(), strict=True):
        assert a.dtype == np.float32
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted(CONVERGENCE))
def test_converges_on_least_squares(name):
    kwargs, steps, tolerance = CONVERGENCE[name]
    rng = np.random.default_rng(0)
    x = gw.tensor(rng.standard_normal((32, 3)))
    truth = np.array([1.5, -2.0, 0.5])
    y = gw.tensor(to_numpy(x) @ truth)
    w = gw.zeros(3, dtype=gw.float64, requires_grad=True)
    opt = getattr(optim, name)([w], **kwargs)

    def closure():  # every optimizer takes one; LBFGS needs it
        opt.zero_grad()
        loss = ((x @ w - y) ** 2).mean()
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)
    np.testing.assert_allclose(to_numpy(w), to_numpy(truth), atol=tolerance)


def test_adam_solves_rosenbrock():
    xy = gw.tensor([-1.5, 2.0], dtype=gw.float64, requires_grad=True)
    opt = optim.Adam([xy], lr=0.05)
    scheduler = optim.lr_scheduler.ExponentialLR(opt, gamma=0.999)
    for _ in range(3000):
        opt.zero_grad()
        x, y = xy[0], xy[1]
        ((1 - x) ** 2 + 100 * (y - x * x) ** 2).backward()
        opt.step()
        scheduler.step()
    # NOTE: the valley is flat along its floor; 3000 decaying steps get within 1e-2.
    np.testing.assert_allclose(to_numpy(xy), [1.0, 1.0], atol=1e-2)


def test_closure_is_evaluated_with_grad_and_returned():
    w = gw.tensor([2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with gw.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 4.0
    np.testing.assert_allclose(to_numpy(w), [1.0])  # 2 - 0.25 * 4


def test_zero_grad():
    w = gw.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    grad = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is grad and np.all(grad.array == 0)
    opt.zero_grad()
    assert w.grad is None


def test_param_groups_get_their_own_hyperparameters(torch):
    ours, theirs = Problem(gw), Problem(torch)
    results = []
    for problem, module in ((ours, optim), (theirs, torch.optim)):
        w1, b1, w2 = problem.params
        opt = module.SGD([{"params": [w1, w2]}], lr=0.1, momentum=0.5)
        opt.add_param_group({"params": [b1], "lr": 0.3, "nesterov": True})
        assert [g["lr"] for g in opt.param_groups] == [0.1, 0.3]
        assert opt.param_groups[1]["momentum"] == 0.5
        for _ in range(15):
            opt.zero_grad()
            problem.backward()
            opt.step()
        results.append(problem.values())
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-9, atol=1e-12)


BAD_HYPERPARAMETERS = [
    ("SGD", dict(lr=-0.1), "Invalid learning rate: -0.1"),
    ("SGD", dict(momentum=-0.5), "Invalid momentum value: -0.5"),
    ("SGD", dict(weight_decay=-1.0), "Invalid weight_decay value: -1.0"),
    ("SGD", dict(nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1), "Nesterov momentum requires"),
    ("Adam", dict(lr=-1e-3), "Invalid learning rate: -0.001"),
    ("Adam", dict(eps=-1e-8), "Invalid epsilon value: -1e-08"),
    ("Adam", dict(betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    ("Adam", dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    ("Adam", dict(weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    ("AdamW", dict(betas=(0.9, 1.5)), "Invalid beta parameter at index 1: 1.5"),
    ("RMSprop", dict(alpha=-0.9), "Invalid alpha value: -0.9"),
    ("RMSprop", dict(momentum=-0.1), "Invalid momentum value: -0.1"),
    ("RMSprop", dict(eps=-1.0), "Invalid epsilon value: -1.0"),
    ("Adagrad", dict(lr_decay=-0.1), "Invalid lr_decay value: -0.1"),
    ("Adagrad", dict(initial_accumulator_value=-1.0),
     "Invalid initial_accumulator_value value: -1.0"),
    ("Adagrad", dict(eps=-1e-10), "Invalid epsilon value: -1e-10"),
    ("Adadelta", dict(rho=1.5), "Invalid rho value: 1.5"),
    ("Adadelta", dict(lr=-1.0), "Invalid learning rate: -1.0"),
    ("Adamax", dict(betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
    ("Adamax", dict(weight_decay=-1.0), "Invalid weight_decay value: -1.0"),
    ("NAdam", dict(momentum_decay=-1.0), "Invalid momentum_decay value: -1.0"),
    ("NAdam", dict(eps=-1.0), "Invalid epsilon value: -1.0"),
    ("RAdam", dict(betas=(-0.1, 0.9)), "Invalid beta parameter at index 0: -0.1"),
    ("RAdam", dict(lr=-0.5), "Invalid learning rate: -0.5"),
    ("LBFGS", dict(lr=-1.0), "Invalid learning rate: -1.0"),
]  # fmt: skip


@pytest.mark.parametrize("name, kwargs, message", BAD_HYPERPARAMETERS)
def test_bad_hyperparameters_raise_torchs_message(name, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        getattr(optim, name)([gw.ones(1, requires_grad=True)], **kwargs)


@pytest.mark.parametrize("name, kwargs, message", BAD_HYPERPARAMETERS)
def test_torch_raises_the_same_message(name, kwargs, message, torch):
    with pytest.raises(ValueError, match=re.escape(message)):
        getattr(torch.optim, name)([torch.ones(1, requires_grad=True)], **kwargs)


def test_bad_parameter_lists_raise():
    w = gw.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD([{"params": {w}}], lr=0.1)
    with pytest.raises(ValueError, match="appears twice"):
        optim.SGD([w, w], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match="Some param names are missing"):
        optim.SGD([("w", w), gw.ones(1, requires_grad=True)], lr=0.1)


def test_every_optimizer_has_table_entries():
    exported = {
        name
        for name in optim.__all__
        if isinstance(getattr(optim, name), type)
        and issubclass(getattr(optim, name), optim.Optimizer)
        and name != "Optimizer"
    }
    assert exported == {case.name for case in OPTIMIZER_CASES + LBFGS_CASES}
    assert exported == set(CONVERGENCE)
    assert exported == {name for name, _, _ in BAD_HYPERPARAMETERS}
