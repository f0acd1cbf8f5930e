"""gradwork.compile: replays are bit-identical to the eager step, and guards re-trace."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import gradwork as gw
from gradwork import nn, optim
from tests.helpers import to_numpy


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 16),
                         nn.ReLU(), nn.Linear(16, 10))  # fmt: skip


def cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32, 10))  # fmt: skip


def bn_net():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4),
                         nn.ReLU(), nn.Flatten(), nn.Linear(256, 10))  # fmt: skip


def adam(params):
    return optim.Adam(params, lr=1e-2)


def sgd_momentum(params):
    return optim.SGD(params, lr=0.05, momentum=0.9)


def twins(build, make_optimizer):
    """Two copies of one model, each with its own optimizer and training step."""
    pairs = []
    for _ in range(2):
        gw.manual_seed(0)
        model = build()
        pairs.append((model, make_optimizer(model.parameters())))
    return [(model, opt, training_step(model, opt)) for model, opt in pairs]


def training_step(model, opt):
    def step(x, y):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def batches(shape, sizes, seed=0):
    rng = np.random.default_rng(seed)
    for n in sizes:
        x = rng.standard_normal((n, *shape)).astype(np.float32)
        yield gw.tensor(x), gw.tensor(rng.integers(0, 10, n))


def value(tensor):
    return to_numpy(tensor)


def assert_same(model_a, model_b):
    for (name, a), b in zip(model_a.state_dict().items(), model_b.state_dict().values(),
                            strict=True):  # fmt: skip
        assert np.array_equal(to_numpy(a), to_numpy(b)), f"{name} differs"


@pytest.mark.parametrize("make_optimizer", [adam, sgd_momentum])
@pytest.mark.parametrize(("build", "shape"), [(mlp, (64,)), (cnn, (1, 8, 8))])
def test_replay_is_bit_identical_to_eager(build, shape, make_optimizer):
    (eager_model, _, eager), (model, _, step) = twins(build, make_optimizer)
    fast = gw.compile(step)
    sizes = [16] * 12 + [5] + [16] * 3  # a short batch re-traces once, then back to the tape
    for x, y in batches(shape, sizes):
        expected = eager(x, y)
        got = fast(x, y)
        assert np.array_equal(value(got), value(expected))
        assert_same(eager_model, model)
    assert fast.stats == {"traces": 2, "replays": 14, "eager": 0, "changed": 0}
    assert not fast.reasons()


def test_replay_skips_the_python_of_the_step():
    model = nn.Linear(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    calls = []

    def step(x):
        calls.append(1)  # a Python side effect: runs only when tracing
        opt.zero_grad()
        loss = model(x).sum()
        loss.backward()
        opt.step()
        return loss

    fast = gw.compile(step)
    before = value(model.weight).copy()
    for _ in range(4):
        fast(gw.ones(2, 3))
    assert len(calls) == 1
    # ...and yet every call stepped: the weight moved by 4 SGD steps of gradient 2 each.
    np.testing.assert_allclose(value(model.weight), before - 4 * 0.1 * 2, rtol=1e-6)


class TrainOnlyScale(nn.Module):
    """Doubles its input in training mode only: a branch on `self.training`."""

    def forward(self, x):
        return x * 2 if self.training else x


def test_train_eval_switch_retraces_and_stays_identical():
    def build():
        return nn.Sequential(mlp(), TrainOnlyScale())

    (eager_model, _, eager), (model, _, step) = twins(build, adam)
    fast = gw.compile(step)
    for i, (x, y) in enumerate(batches((64,), [8] * 6)):
        for m in (eager_model, model):
            m.train(i % 3 != 2)  # eval on every third step
        assert np.array_equal(value(fast(x, y)), value(eager(x, y)))
        assert_same(eager_model, model)
    assert fast.stats["traces"] == 2 and fast.stats["replays"] == 4  # a tape per mode


def test_batch_norm_replays_in_eval_mode_and_runs_eagerly_in_training():
    (eager_model, _, eager), (model, _, step) = twins(bn_net, sgd_momentum)
    fast = gw.compile(step)
    with pytest.warns(UserWarning, match="num_batches_tracked"):
        for x, y in batches((1, 8, 8), [8] * 3):
            assert np.array_equal(value(fast(x, y)), value(eager(x, y)))
            assert_same(eager_model, model)  # running statistics included
    assert fast.stats == {"traces": 1, "replays": 0, "eager": 2, "changed": 0}
    eager_model.eval()
    model.eval()  # running statistics are read, not advanced: the step replays
    for x, y in batches((1, 8, 8), [8] * 4, seed=1):
        assert np.array_equal(value(fast(x, y)), value(eager(x, y)))
        assert_same(eager_model, model)
    assert fast.stats["traces"] == 2 and fast.stats["replays"] == 3


def test_grad_mode_and_argument_values_are_guarded():
    model = mlp()

    def forward(x, double):
        out = model(x)
        return out * 2 if double else out

    fast = gw.compile(forward)
    x = gw.randn(4, 64)
    plain = value(model(x))
    assert np.array_equal(value(fast(x, False)), plain)
    assert np.array_equal(value(fast(x, True)), plain * 2)  # another value: another tape
    with gw.no_grad():
        assert np.array_equal(value(fast(x, True)), plain * 2)
    assert np.array_equal(value(fast(x, True)), plain * 2)
    assert fast.stats == {"traces": 3, "replays": 1, "eager": 0, "changed": 0}


def test_unguarded_branch_is_replayed_unless_check_every():
    model = nn.Linear(3, 1)
    flags = {"double": False}

    def forward(x):
        out = model(x)
        return out * 2 if flags["double"] else out

    for check_every, expected_factor in ((0, 1), (1, 2)):
        fast = gw.compile(forward, check_every=check_every)
        x = gw.ones(2, 3)
        flags["double"] = False
        fast(x)
        flags["double"] = True
        plain = value(model(x))
        np.testing.assert_array_equal(value(fast(x)), plain * expected_factor)
        assert fast.stats["changed"] == (check_every == 1)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (lambda model, x: model(x).sum() * float(model(x).sum()), "read a tensor's value"),
        (lambda model, x: nn.functional.dropout(model(x), 0.5).sum(), "made inside the step"),
        (lambda model, x: model(x).sum().item(), "read a tensor's value"),
        (lambda model, x: model(x)[gw.tensor([0, 1]), gw.tensor([1, 0])].sum(), "frozen"),
    ],
)
def test_what_cannot_be_replayed_runs_eagerly(body, reason):
    model = nn.Linear(3, 2)
    fast = gw.compile(lambda x: body(model, x))
    x = gw.ones(2, 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = fast(x)
    assert any(reason in str(w.message) for w in caught)
    gw.manual_seed(3)
    second = fast(x)  # eager again: a fresh dropout mask, a fresh value
    gw.manual_seed(3)
    expected = body(model, x)
    assert np.array_equal(to_numpy(second), to_numpy(expected))
    assert first is not None and fast.stats["replays"] == 0 and fast.stats["eager"] == 1


def test_in_place_change_inside_the_step_is_refused():
    model = nn.Linear(3, 2)

    def recorded_in_place(x):  # the graph's in-place path snapshots the old values
        h = model(x)
        h += 1
        return h.sum()

    def unrecorded_in_place(x):  # no graph: the write goes straight into the array
        with gw.no_grad():
            h = model(x)
            h += 1
        return h

    for step, message in ((recorded_in_place, "made inside the step"),
                          (unrecorded_in_place, "changed in place")):  # fmt: skip
        fast = gw.compile(step)
        with pytest.warns(UserWarning, match=message):
            fast(gw.ones(2, 3))
        expected = value(step(gw.ones(2, 3)))
        assert np.array_equal(value(fast(gw.ones(2, 3))), expected)
        assert fast.stats["eager"] == 1 and fast.stats["replays"] == 0


def test_bad_arguments():
    with pytest.raises(TypeError, match="expected a function"):
        gw.compile(3)
    with pytest.raises(ValueError, match="check_every"):
        gw.compile(print, check_every=-1)


def test_a_schedule_outside_the_step_is_honoured():
    (eager_model, eager_opt, eager), (model, opt, step) = twins(mlp, adam)
    schedules = [optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5) for o in (eager_opt, opt)]
    fast = gw.compile(step)
    for x, y in batches((64,), [8] * 6):
        assert np.array_equal(value(fast(x, y)), value(eager(x, y)))
        for schedule in schedules:
            schedule.step()  # outside the compiled step: the replayed opt.step() reads the new lr
        assert_same(eager_model, model)
    assert opt.param_groups[0]["lr"] == 1e-2 * 0.5**3 and fast.stats["replays"] == 5


def test_two_backward_passes_in_one_step_accumulate_as_eager():
    (eager_model, _, _), (model, opt_b, _) = twins(mlp, sgd_momentum)
    eager_opt = optim.SGD(eager_model.parameters(), lr=0.05, momentum=0.9)

    def accumulate(m, o):
        def step(x1, y1, x2, y2):  # two micro-batches, one update
            o.zero_grad()
            nn.functional.cross_entropy(m(x1), y1).backward()
            loss = nn.functional.cross_entropy(m(x2), y2)
            loss.backward()
            o.step()
            return loss

        return step

    eager, fast = accumulate(eager_model, eager_opt), gw.compile(accumulate(model, opt_b))
    data = list(batches((64,), [8] * 8))
    for (x1, y1), (x2, y2) in zip(data[::2], data[1::2], strict=True):
        assert np.array_equal(value(fast(x1, y1, x2, y2)), value(eager(x1, y1, x2, y2)))
        assert_same(eager_model, model)
    assert fast.stats["replays"] == 3


def test_an_error_while_tracing_leaves_nothing_patched():
    from gradwork.autograd import function
    from gradwork.tensor import Tensor

    init, item = Tensor.__init__, Tensor.item

    def broken(x):
        gw.ones(2) + x
        raise KeyError("inside the step")

    fast = gw.compile(broken)
    with pytest.raises(KeyError, match="inside the step"):
        fast(gw.ones(2))
    assert function._tracer is None and Tensor.__init__ is init and Tensor.item is item
    assert gw.tensor([1.5]).item() == 1.5 and fast.stats["traces"] == 0


def test_a_replay_drops_each_value_after_its_last_use():
    (_, _, _), (model, _, step) = twins(mlp, adam)
    fast = gw.compile(step)
    for x, y in batches((64,), [8] * 2):
        fast(x, y)
    (tape,) = next(iter(fast._tapes.values()))
    released = [k for values, _, _, walk in tape.releases for k in (*values, *sum(walk, ()))]
    count = len(tape.releases[0][2])
    returned = tape.output[1]  # the loss
    assert sorted(released) == [k for k in range(count) if k != returned]
    nodes = sorted(k for _, done, _, _ in tape.releases for k in done)
    assert nodes == list(range(count))
    backward = next(i for i, e in enumerate(tape.events) if e[0] == "backward")
    # the activations the backward walk reads are still there when it runs
    read = {k for _, sources, _ in tape.events[backward][2] for kind, k in sources if kind == 1}
    dropped_before = {k for values, _, _, _ in tape.releases[:backward] for k in values}
    assert read and not read & dropped_before


def manual_sgd(model, opt):
    def step(x, y):
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        with gw.no_grad():
            for p in model.parameters():
                p.array -= 0.1 * p.grad.array  # raw arrays: no op, no optimizer
                p.grad = None
        return loss

    return step


def scheduled(model, opt):
    schedule = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)

    def step(x, y):
        loss = training_step(model, opt)(x, y)
        schedule.step()  # inside the step: a replay would not halve the rate
        return loss

    return step


def clipped(model, opt):
    def step(x, y):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        for p in model.parameters():
            p.grad.array *= 0.5  # clipping by hand on raw arrays
        opt.step()
        return loss

    return step


@pytest.mark.parametrize(
    ("make_step", "message"),
    [(manual_sgd, "parameter's values"), (scheduled, "hyperparameters"), (clipped, "gradient")],
)
def test_raw_writes_inside_the_step_run_eagerly(make_step, message):
    pairs = []
    for _ in range(2):
        gw.manual_seed(0)
        model = mlp()
        opt = adam(model.parameters())
        pairs.append((model, make_step(model, opt)))
    (eager_model, eager), (model, step) = pairs
    fast = gw.compile(step)
    with pytest.warns(UserWarning, match=message):
        for x, y in batches((64,), [8] * 4):
            assert np.array_equal(value(fast(x, y)), value(eager(x, y)))
            assert_same(eager_model, model)
    assert fast.stats["replays"] == 0 and fast.stats["eager"] == 3
