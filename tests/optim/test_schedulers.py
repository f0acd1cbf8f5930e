"""Every scheduler: torch's lr sequence, checkpoint round trips; the schedule functions."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import gradwork as gw
from gradwork import optim
from gradwork.optim import lr_scheduler, schedules
from tests.helpers import to_numpy
from tests.optim.cases import SCHEDULER_CASES, record, scheduler_optimizer

IDS = [case.id for case in SCHEDULER_CASES]


def _ours(case, steps=None):
    opt = scheduler_optimizer(optim, gw, case.optimizer)
    scheduler = case.build(lr_scheduler, opt)
    return opt, scheduler


@pytest.mark.parametrize("case", SCHEDULER_CASES, ids=IDS)
def test_lr_sequence_matches_torch(case, torch):
    opt, scheduler = _ours(case)
    initial = [g["lr"] for g in opt.param_groups]
    ours = record(opt, scheduler, case, case.steps)
    torch_opt = scheduler_optimizer(torch.optim, torch, case.optimizer)
    build = case.torch_build or case.build
    torch_scheduler = build(torch.optim.lr_scheduler, torch_opt)
    assert initial == [g["lr"] for g in torch_opt.param_groups]
    theirs = record(torch_opt, torch_scheduler, case, case.steps)
    for key in ("last_lr", "lr", "momentum"):
        np.testing.assert_allclose(
            to_numpy(ours[key]), to_numpy(theirs[key]), rtol=1e-12, atol=0, err_msg=key
        )
    assert len({tuple(lrs) for lrs in ours["lr"]}) > 1, "the learning rate never changed"


@pytest.mark.parametrize("case", SCHEDULER_CASES, ids=IDS)
def test_initial_lr_is_recorded_like_torch(case, torch):
    opt, _ = _ours(case)
    torch_opt = scheduler_optimizer(torch.optim, torch, case.optimizer)
    (case.torch_build or case.build)(torch.optim.lr_scheduler, torch_opt)
    for group, reference in zip(opt.param_groups, torch_opt.param_groups, strict=True):
        assert ("initial_lr" in group) == ("initial_lr" in reference)
        assert group.get("initial_lr") == reference.get("initial_lr")


@pytest.mark.parametrize("case", SCHEDULER_CASES, ids=IDS)
def test_round_trip_mid_run_continues_identically(case):
    steps = min(case.steps, 40)
    opt, scheduler = _ours(case)
    first = record(opt, scheduler, case, 17)
    saved_opt = copy.deepcopy(opt.state_dict())
    saved_scheduler = copy.deepcopy(scheduler.state_dict())
    rest = record(opt, scheduler, case, steps - 17)

    opt2, scheduler2 = _ours(case)
    opt2.load_state_dict(saved_opt)
    scheduler2.load_state_dict(saved_scheduler)
    assert scheduler2.get_last_lr() == first["last_lr"][-1]
    assert scheduler2.last_epoch == scheduler.last_epoch - (steps - 17)
    shifted = copy.copy(case)
    shifted.metrics = case.metrics[17:] + case.metrics[:17] if case.metrics else []
    resumed = record(opt2, scheduler2, shifted, steps - 17)
    assert resumed == rest


def test_every_scheduler_has_a_table_entry():
    exported = set(lr_scheduler.__all__) - {"LRScheduler"}
    assert exported == {case.exported for case in SCHEDULER_CASES}


def test_warmup_hands_over_to_reduce_on_plateau():
    opt = optim.SGD([gw.ones(1, requires_grad=True)], lr=1.0)
    plateau = lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    scheduler = lr_scheduler.WarmupLR(opt, 2, after=plateau, start_factor=0.5)
    lrs = [scheduler.get_last_lr()[0]]
    for metric in [9.0, 9.0, 1.0, 2.0, 0.5]:  # the first two arrive during warm-up: ignored
        scheduler.step(metric)
        lrs.append(scheduler.get_last_lr()[0])
    assert lrs == [0.5, 0.75, 1.0, 1.0, 0.5, 0.5]


def test_warmup_scheduler_equals_warmup_function():
    opt = optim.SGD([gw.ones(1, requires_grad=True)], lr=0.3)
    scheduler = lr_scheduler.WarmupLR(opt, 5, after=lr_scheduler.ExponentialLR(opt, 0.8))
    function = schedules.warmup(5, after=schedules.exponential(0.8, start=0.3))
    lrs = [scheduler.get_last_lr()[0]]
    for _ in range(15):
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
    np.testing.assert_allclose(to_numpy(lrs), [function(t) for t in range(16)], rtol=1e-12)


def test_inverse_time_values():
    opt = optim.SGD([gw.ones(1, requires_grad=True)], lr=0.6)
    scheduler = lr_scheduler.InverseTimeLR(opt, decay_rate=0.5)
    lrs = [scheduler.get_last_lr()[0]]
    for _ in range(4):
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
    np.testing.assert_allclose(to_numpy(lrs), [0.6 / (1 + 0.5 * e) for e in range(5)], rtol=1e-15)


def test_one_cycle_refuses_to_step_past_the_end():
    opt = optim.SGD([gw.ones(1, requires_grad=True)], lr=0.1, momentum=0.9)
    scheduler = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        scheduler.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        scheduler.step()


@pytest.mark.parametrize(
    "build, error, message",
    [
        (lambda o: lr_scheduler.LinearLR(o, start_factor=0), ValueError, "Starting multiplicative"),
        (lambda o: lr_scheduler.LinearLR(o, end_factor=2), ValueError, "Ending multiplicative"),
        (lambda o: lr_scheduler.OneCycleLR(o, 1.0), ValueError, "You must define either"),
        (lambda o: lr_scheduler.OneCycleLR(o, 1.0, 10, pct_start=2.0), ValueError, "pct_start"),
        (lambda o: lr_scheduler.OneCycleLR(o, 1.0, 10, anneal_strategy="x"), ValueError, "anneal"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), ValueError, "Factor should be"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="up"), ValueError, "mode up is unknown"),
        (lambda o: lr_scheduler.StepLR("sgd", 2), TypeError, "str is not an Optimizer"),
        (lambda o: lr_scheduler.StepLR(o, 2, last_epoch=3), KeyError, "initial_lr"),
        (
            lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.StepLR(o, 2)], [3]),
            ValueError,
            "one more than the number of milestone",
        ),
        (lambda o: lr_scheduler.WarmupLR(o, 0), ValueError, "warmup_steps"),
        (lambda o: lr_scheduler.InverseTimeLR(o, -1.0), ValueError, "decay_rate"),
        (lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, 0), ValueError, "integer T_0"),
        (lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, 2, 0), ValueError, "T_mult >= 1"),
        (lambda o: lr_scheduler.CyclicLR(o, 0.1, 1.0, mode="x"), ValueError, "mode is invalid"),
        (lambda o: lr_scheduler.CyclicLR(o, 0.1, 1.0), ValueError, "support momentum or beta1"),
        (lambda o: lr_scheduler.CyclicLR(o, [0.1, 0.2], 1.0), ValueError, "same length"),
    ],
)
def test_bad_arguments_raise(build, error, message):
    opt = optim.Adagrad([gw.ones(1, requires_grad=True)], lr=0.1)
    with pytest.raises(error, match=message):
        build(opt)


SCHEDULE_VALUES = [
    (schedules.constant(0.5), [0.5, 0.5, 0.5]),
    (schedules.step(2, 0.1), [1.0, 1.0, 0.1, 0.1, 0.01]),
    (schedules.multistep([1, 3, 3], 0.5), [1.0, 0.5, 0.5, 0.125, 0.125]),
    (schedules.exponential(0.5, start=2.0), [2.0, 1.0, 0.5]),
    (schedules.cosine(2, start=1.0, end=0.5), [1.0, 0.75, 0.5, 0.75]),
    (schedules.linear(2, 0.5, 1.0), [0.5, 0.75, 1.0, 1.0]),
    (schedules.inverse_time(1.0), [1.0, 0.5, 1 / 3]),
    (schedules.one_cycle(5, peak=1.0, initial=0.5, final=0.0, pct_start=0.4,
                         anneal_strategy="linear"), [0.5, 1.0, 2 / 3, 1 / 3, 0.0]),
    (schedules.warmup(2, start_factor=0.0), [0.0, 0.5, 1.0, 1.0]),
    (schedules.polynomial(2, power=3.0, start=2.0), [2.0, 0.25, 0.0, 0.0]),
    (schedules.cosine_restarts(2, T_mult=2, end=0.5), [1.0, 0.75, 1.0, 0.5 + 0.25 * (1 + 0.5**0.5),
                                                       0.75]),
    (schedules.cyclic(1, 3, start=1.0, peak=2.0), [1.0, 2.0, 5 / 3, 4 / 3, 1.0, 2.0]),
    (schedules.cyclic(2, start=0.0, peak=1.0, mode="exp_range", gamma=0.5),
     [0.0, 0.25, 0.25, 0.0625, 0.0]),
]  # fmt: skip


@pytest.mark.parametrize("schedule, expected", SCHEDULE_VALUES)
def test_schedule_functions(schedule, expected):
    np.testing.assert_allclose(
        [schedule(t) for t in range(len(expected))], to_numpy(expected), rtol=1e-15
    )


def test_every_schedule_function_has_a_table_entry():
    names = {fn.__qualname__.split(".")[0] for fn, _ in SCHEDULE_VALUES}
    assert names == set(schedules.__all__)


def test_schedules_compose():
    inner = schedules.cosine(10, start=1.0, end=0.1)
    f = schedules.warmup(3, after=schedules.warmup(2, after=inner, start_factor=0.5))
    assert f(0) == pytest.approx(0.05)  # 0.1 * (0.5 * inner(0))
    assert f(5) == inner(0)
    assert f(10) == pytest.approx(inner(5))
    assert math.isclose(f(15), inner(10))


def test_warm_restarts_with_fractional_and_jumping_epochs_match_torch(torch):
    epochs = [0.5, 1.25, None, 3.9, 7.0, None, None, 21.5, 2.0, None, 45.0, 93.7, None]
    for T_mult in (1, 2, 3):
        results = []
        for lib, module in ((gw, optim), (torch, torch.optim)):
            opt = scheduler_optimizer(module, lib, "SGD")
            scheduler = module.lr_scheduler.CosineAnnealingWarmRestarts(opt, 3, T_mult, 0.001)
            lrs = []
            for epoch in epochs:
                scheduler.step(epoch)
                lrs.append(scheduler.get_last_lr() + [scheduler.last_epoch, scheduler.T_i])
            results.append(lrs)
        np.testing.assert_allclose(to_numpy(results[0]), to_numpy(results[1]), rtol=1e-12, atol=0)


def test_warm_restarts_scheduler_equals_the_schedule_function():
    opt = optim.SGD([gw.ones(1, requires_grad=True)], lr=0.4)
    scheduler = lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=3, eta_min=0.01)
    function = schedules.cosine_restarts(2, 3, start=0.4, end=0.01)
    lrs = [scheduler.get_last_lr()[0]]
    for _ in range(40):
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
    assert lrs == [function(t) for t in range(41)]


def test_cyclic_scale_fn_object_state_round_trips():
    class Decay:
        def __init__(self):
            self.rate = 0.5

        def __call__(self, x):
            return self.rate**x

    opt = optim.SGD([gw.ones(1, requires_grad=True)], lr=0.1, momentum=0.9)
    scheduler = lr_scheduler.CyclicLR(opt, 0.1, 1.0, 2, scale_fn=Decay())
    scheduler.scale_fn.rate = 0.25
    saved = scheduler.state_dict()
    assert saved["scale_fn"] == {"rate": 0.25}
    other = lr_scheduler.CyclicLR(opt, 0.1, 1.0, 2, scale_fn=Decay())
    other.load_state_dict(saved)
    assert other.scale_fn.rate == 0.25
