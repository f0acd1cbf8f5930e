"""watch(): the mistake detectors in the Trainer and in hand-written loops, and what they leave."""

import inspect
import warnings

import numpy as np
import pytest

import gradwork as gw
from gradwork import data, nn, ops, optim, train
from gradwork.diagnose import TrainingMistakeWarning, WatchCallback, Watcher, doctor, watch
from gradwork.tensor import Tensor

ORIGINAL_BACKWARD = Tensor.__dict__["backward"]


def moons_loader(n=256, batch_size=32, shuffle=True):
    return data.DataLoader(data.make_moons(n, seed=0), batch_size=batch_size, shuffle=shuffle)


def mlp(*tail):
    gw.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2), *tail)


def line_of(text):
    source, first = inspect.getsourcelines(inspect.currentframe().f_back.f_code)
    return first + next(i for i, line in enumerate(source) if text in line)


def checks(watcher):
    assert watcher.errors == []
    return [finding.check for finding in watcher.findings]


def test_the_trainer_watches_by_default_and_names_the_fit_line():
    model = mlp(nn.Softmax(dim=1))
    trainer = train.Trainer(model, optim.Adam(model.parameters(), lr=0.01), nn.CrossEntropyLoss())
    assert any(isinstance(c, WatchCallback) for c in trainer.callbacks.callbacks)
    with pytest.warns(TrainingMistakeWarning, match="softmax_into_cross_entropy") as shown:
        trainer.fit(moons_loader(), epochs=2)  # the fit line
    assert [f.check for f in trainer.mistakes] == ["softmax_into_cross_entropy"]
    assert trainer.mistakes[0].evidence["line"] == line_of("# the fit line")
    assert len([w for w in shown if w.category is TrainingMistakeWarning]) == 1  # once
    assert Tensor.__dict__["backward"] is ORIGINAL_BACKWARD  # nothing left behind


def test_watch_false_turns_it_off():
    model = mlp(nn.Softmax(dim=1))
    trainer = train.Trainer(
        model, optim.Adam(model.parameters()), nn.CrossEntropyLoss(), watch=False
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingMistakeWarning)
        trainer.fit(moons_loader(), epochs=1)
    assert trainer.mistakes == []
    assert not any(isinstance(c, WatchCallback) for c in trainer.callbacks.callbacks)


def test_a_healthy_digits_cnn_in_the_trainer_is_not_flagged():
    digits = data.load_digits()
    train_set, val_set = data.random_split(digits, [1500, 297], seed=0)
    gw.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.1), nn.Linear(8 * 4 * 4, 10),
    )  # fmt: skip
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    trainer = train.Trainer(
        model, optimizer, nn.CrossEntropyLoss(),
        scheduler=optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=2),
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingMistakeWarning)
        trainer.fit(data.DataLoader(train_set, 32, shuffle=True), data.DataLoader(val_set, 64), 2)
    assert trainer.mistakes == []


def test_patches_come_off_and_nested_watchers_both_hear():
    model = mlp()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    x, y = gw.randn(16, 2), gw.randint(0, 2, (16,))
    with watch(warn=False) as outer:
        with watch(warn=False) as inner:
            for _ in range(3):
                loss = nn.functional.cross_entropy(model(x).log_softmax(1), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        assert Tensor.__dict__["backward"] is not ORIGINAL_BACKWARD  # outer still on
    assert checks(outer) == checks(inner) == ["log_softmax_into_cross_entropy"]
    assert Tensor.__dict__["backward"] is ORIGINAL_BACKWARD
    assert "apply" not in ops.LogSoftmax.__dict__ and "apply" not in ops.Sigmoid.__dict__
    assert not outer.active and outer.stop() == outer.findings  # stopping twice is fine


def test_a_failing_detector_never_stops_training():
    model = mlp()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    watcher = Watcher(warn=False)
    watcher.before_step = lambda *args: 1 / 0
    with watcher:
        for x, y in moons_loader():
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
    assert watcher.errors and watcher.errors[0].startswith("before_step: ZeroDivisionError")


def test_accumulation_lbfgs_full_batch_and_the_doctor_are_not_mistakes():
    model = mlp()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    loader = moons_loader()
    x_all, y_all = data.make_moons(64, seed=1).tensors
    with watch(warn=False) as watcher:
        for step, (x, y) in enumerate(loader):  # gradient accumulation over 2 batches
            nn.functional.cross_entropy(model(x), y).backward()
            if step % 2 == 1:
                optimizer.step()
                optimizer.zero_grad()
        lbfgs = optim.LBFGS(model.parameters(), max_iter=5)

        def closure():
            lbfgs.zero_grad()
            loss = nn.functional.cross_entropy(model(x_all), y_all)
            loss.backward()
            return loss

        for _ in range(3):
            lbfgs.step(closure)
        for _ in range(8):  # full-batch training: the same batch on purpose, no loader
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x_all), y_all).backward()
            optimizer.step()
        report = doctor(model, nn.CrossEntropyLoss(), (x_all, y_all), optimizer)
    assert report is not None
    assert checks(watcher) == []


def test_each_detector_reads_the_loss_graph_only_on_the_first_steps():
    model = mlp(nn.Softmax(dim=1))
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    with watch(warn=False) as watcher:
        for x, y in moons_loader():
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
    assert watcher.backwards == 8 and not watcher.reads_graphs
    assert checks(watcher) == ["softmax_into_cross_entropy"]


def test_unshuffled_but_shuffled_data_and_sorted_regression_targets_are_fine():
    # a loader of already-shuffled data without shuffle=True is still flagged on epoch 2,
    # but a regression (MSE) on sorted targets never reads labels
    x = np.linspace(-1, 1, 128, dtype=np.float32)[:, None]
    loader = data.DataLoader(data.TensorDataset(x, 2 * x), batch_size=16, shuffle=True)
    gw.manual_seed(0)
    model = nn.Linear(1, 1)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    with watch(warn=False) as watcher:
        for _ in range(2):
            for xb, yb in loader:
                optimizer.zero_grad()
                nn.functional.mse_loss(model(xb), yb).backward()
                optimizer.step()
    assert checks(watcher) == []


def test_an_unshuffled_validation_loader_inside_the_training_loop_is_fine():
    train_set, val_set = data.random_split(data.make_moons(320, seed=0), [256, 64], seed=0)
    loader = data.DataLoader(train_set, batch_size=32, shuffle=True)
    val_loader = data.DataLoader(val_set, batch_size=16)
    model = mlp()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    with watch(warn=False) as watcher:
        for _ in range(2):
            for step, (x, y) in enumerate(loader):
                optimizer.zero_grad()
                nn.functional.cross_entropy(model(x), y).backward()
                optimizer.step()
                if step % 4 == 3:  # evaluate every 4 steps, properly
                    model.eval()
                    with gw.no_grad():
                        for xv, yv in val_loader:
                            nn.functional.cross_entropy(model(xv), yv)
                    model.train()
    assert checks(watcher) == []
    assert watcher.steps == 16


def test_forwards_that_a_later_backward_uses_are_training_not_evaluation():
    # two forwards per step whose outputs are temporaries (a siamese loss), and
    # target values computed under no_grad in between (as a DQN does)
    model = mlp()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    with watch(warn=False) as watcher:
        for x, y in moons_loader():
            first = model(x)
            with gw.no_grad():
                model(x + 1)
                model(x - 1)
            loss = nn.functional.cross_entropy(first + model(x * 0.5), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    assert checks(watcher) == []


def test_a_hand_trained_model_after_an_optimizer_run_is_not_missing_zero_grad():
    model = mlp()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    x, y = data.make_moons(64, seed=1).tensors
    a = gw.zeros((), requires_grad=True)
    with watch(warn=False) as watcher:
        for _ in range(3):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()  # the model's gradients stay: nothing zeroes them afterwards
        for _ in range(3):  # then a scalar trained by hand, zeroed by hand
            loss = ((a - 1.0) ** 2).sum()
            loss.backward()
            with gw.no_grad():
                a -= 0.1 * a.grad
            a.grad = None
    assert checks(watcher) == []
