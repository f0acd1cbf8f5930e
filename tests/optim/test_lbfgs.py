"""LBFGS against torch: whole trajectories with and without the strong-Wolfe line search."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest

import gradwork as gw
from gradwork import optim
from gradwork.optim._line_search import cubic_interpolate
from tests.helpers import to_numpy
from tests.optim.cases import LBFGS_CASES, Problem


def _rosenbrock(xy):
    x, y = xy[:-1], xy[1:]
    return ((1 - x) ** 2 + 100 * (y - x * x) ** 2).sum()


def _least_squares(lib):
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((20, 5)), rng.standard_normal(20)
    w = lib.tensor(np.zeros(5), requires_grad=True)
    b = lib.tensor(np.zeros(1), requires_grad=True)
    return [w, b], lambda: ((lib.tensor(x) @ w + b - lib.tensor(y)) ** 2).mean()


def _network(lib):
    problem = Problem(lib)
    return problem.params, problem.loss


PROBLEMS = {
    "rosenbrock2": lambda lib: _one([-1.5, 2.0], lib),
    "rosenbrock4": lambda lib: _one([-1.2, 1.0, 0.3, -0.7], lib),
    "least_squares": _least_squares,
    "network": _network,
}


def _one(start, lib):
    xy = lib.tensor(np.array(to_numpy(start)), requires_grad=True)
    return [xy], lambda: _rosenbrock(xy)


def _run(lib, module, problem, kwargs, steps, checkpoint_at=None, load=None):
    """Losses, parameters and counters after `steps` calls of step(closure)."""
    params, loss_fn = PROBLEMS[problem](lib)
    opt = module.LBFGS(params, **kwargs)

    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    losses, saved = [], None
    for step in range(steps):
        if step == checkpoint_at:
            saved = copy.deepcopy(opt.state_dict())
            if load is not None:
                load(opt, params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch: float() of a tensor that requires grad
            losses.append(float(closure_loss(opt.step(closure))))
    values = [np.array(to_numpy(p) if lib is not gw else to_numpy(p)) for p in params]
    state = opt.state[params[0]]
    return losses, values, (int(state["func_evals"]), int(state["n_iter"])), saved


def closure_loss(loss):
    return loss.detach() if hasattr(loss, "detach") else loss


@pytest.mark.parametrize("case", LBFGS_CASES, ids=[c.id for c in LBFGS_CASES])
def test_trajectory_matches_torch(case, torch):
    problem, kwargs, steps = case.kwargs["problem"], case.kwargs["options"], case.kwargs["steps"]
    ours = _run(gw, optim, problem, kwargs, steps)
    theirs = _run(torch, torch.optim, problem, kwargs, steps)
    assert ours[2] == theirs[2]  # the same number of evaluations and iterations
    np.testing.assert_allclose(to_numpy(ours[0]), to_numpy(theirs[0]), rtol=1e-9, atol=1e-12)
    for a, b in zip(ours[1], theirs[1], strict=True):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-9, atol=1e-12)
    assert ours[0][-1] < ours[0][0]


def test_strong_wolfe_solves_rosenbrock():
    kwargs = {"line_search_fn": "strong_wolfe", "tolerance_change": 1e-14}
    losses, values, _, _ = _run(gw, optim, "rosenbrock2", kwargs, 5)
    np.testing.assert_allclose(to_numpy(values[0]), [1.0, 1.0], atol=1e-6)
    assert losses[-1] < 1e-10


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_loads_torch_state_mid_run(line_search_fn, torch):
    kwargs = {"line_search_fn": line_search_fn, "history_size": 4, "max_iter": 5}
    if line_search_fn is None:
        kwargs["lr"] = 0.1
    theirs = _run(torch, torch.optim, "least_squares", kwargs, 6, checkpoint_at=3)
    saved, torch_values = theirs[3], None

    def load(opt, params):  # parameters and optimizer state as torch had them after 3 steps
        nonlocal torch_values
        run = _run(torch, torch.optim, "least_squares", kwargs, 3)
        torch_values = run[1]
        for p, v in zip(params, torch_values, strict=True):
            p.array[...] = v
        opt.load_state_dict(saved)

    ours = _run(gw, optim, "least_squares", kwargs, 6, checkpoint_at=3, load=load)
    assert torch_values is not None
    np.testing.assert_allclose(to_numpy(ours[0][3:]), to_numpy(theirs[0][3:]), rtol=1e-9)
    for a, b in zip(ours[1], theirs[1], strict=True):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-9, atol=1e-12)


def test_state_dict_round_trip_and_copy():
    kwargs = {"line_search_fn": "strong_wolfe", "history_size": 3, "max_iter": 4}
    full = _run(gw, optim, "rosenbrock4", kwargs, 6, checkpoint_at=3)
    saved = full[3]
    assert set(saved["state"]) == {0}
    assert {"d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad"} <= set(
        saved["state"][0]
    )
    assert len(saved["state"][0]["old_dirs"]) <= 3

    def load(opt, params):
        part = _run(gw, optim, "rosenbrock4", kwargs, 3)
        for p, v in zip(params, part[1], strict=True):
            p.array[...] = v
        opt.load_state_dict(saved)

    resumed = _run(gw, optim, "rosenbrock4", kwargs, 6, checkpoint_at=3, load=load)
    assert resumed[0][3:] == full[0][3:]


def test_stops_at_once_when_the_gradient_is_zero():
    w = gw.tensor([1.0, 1.0], requires_grad=True)
    opt = optim.LBFGS([w])

    def closure():
        opt.zero_grad()
        loss = ((w - 1.0) ** 2).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 0.0
    assert opt.state[w]["func_evals"] == 1 and opt.state[w]["n_iter"] == 0


def test_bad_arguments_raise():
    w, b = gw.ones(2, requires_grad=True), gw.ones(1, requires_grad=True)
    with pytest.raises(ValueError, match="per-parameter options"):
        optim.LBFGS([{"params": [w]}, {"params": [b]}])
    opt = optim.LBFGS([w], line_search_fn="armijo")
    (w * w).sum().backward()
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(lambda: (w * w).sum())
    assert optim.LBFGS([w], max_iter=8).defaults["max_eval"] == 10


def test_cubic_interpolate_matches_torch(torch):
    from torch.optim.lbfgs import _cubic_interpolate

    args = [
        (0.0, 1.0, -2.0, 2.0, 1.0, 2.0, None),
        (1.0, 0.5, -1.0, 0.2, 0.9, -3.0, None),
        (0.0, 1.0, -1.0, 1.0, 0.5, -0.2, (1.01, 10.0)),
        (0.0, 1.0, 1.0, 1.0, 0.0, 1.0, None),  # no real minimum: the midpoint
    ]
    for *points, bounds in args:
        t = [torch.tensor(v, dtype=torch.float64) for v in points]
        expected = float(_cubic_interpolate(*t, bounds=bounds))
        assert float(cubic_interpolate(*points, bounds=bounds)) == pytest.approx(expected, 1e-14)
