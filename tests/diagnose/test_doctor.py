"""doctor: every check fires on a constructed case, none on a healthy setup; nothing is changed."""

import math

import numpy as np
import pytest

import gradwork as gw
from gradwork import nn, optim
from gradwork.diagnose import doctor
from tests.diagnose._nets import SGD, classification_batch, exploding_net, mlp, vanishing_net
from tests.helpers import to_numpy

CE = nn.CrossEntropyLoss()


def healthy():
    model = mlp([8, 32, 3], nn.ReLU)
    return model, CE, classification_batch(), SGD(model.parameters(), lr=0.5)


def _with(model=None, loss=CE, batch=None, optimizer=None):
    model = model if model is not None else mlp([8, 32, 3], nn.ReLU)
    return model, loss, batch or classification_batch(), optimizer


def _nan_inputs():
    x, y = classification_batch()
    x.array[3, 2] = np.nan
    return _with(batch=(x, y))


def _pixels():
    x = gw.tensor(np.round(np.random.default_rng(0).uniform(0, 255, (32, 8))).astype(np.float32))
    return _with(batch=(x, classification_batch()[1]))


def _badly_scaled():
    x, y = classification_batch()
    return _with(batch=(x * 40.0 + 100.0, y))


def _labels_out_of_range():
    x, _ = classification_batch()
    return _with(batch=(x, gw.randint(1, 4, (32,))))  # 1-based labels for 3 classes


def _big_last_layer():
    model = mlp([8, 32, 3], nn.ReLU)
    model[2].weight.data *= 50.0
    return _with(model)


def _softmax_output():
    return _with(nn.Sequential(mlp([8, 32, 3], nn.ReLU), nn.Softmax(dim=1)))


def _eval_mode():
    return _with(nn.Sequential(nn.Linear(8, 32), nn.Dropout(0.5), nn.ReLU(),
                               nn.Linear(32, 3)).eval())  # fmt: skip


def _batchnorm_batch_one():
    x, y = classification_batch(n=1)
    return _with(nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.Linear(8, 3)), batch=(x, y))


class _Unused(nn.Module):
    def __init__(self):
        super().__init__()
        self.body, self.head, self.spare = nn.Linear(8, 16), nn.Linear(16, 3), nn.Linear(16, 3)

    def forward(self, x):
        return self.head(self.body(x).relu())


def _dead_relu():
    model = mlp([8, 32, 3], nn.ReLU)
    nn.init.constant_(model[0].bias, -100.0)
    return _with(model)


def _saturated():
    model = mlp([8, 32, 3], nn.Tanh)
    nn.init.normal_(model[0].weight, std=10.0)
    return _with(model)


def _forward_fails():
    return _with(mlp([5, 8, 3], nn.ReLU))  # expects 5 features, gets 8


def _nan_loss():
    return _with(loss=lambda output, target: output.sum() * float("nan"))


def _lr_too_high():
    model = mlp([8, 32, 3], nn.ReLU)
    return _with(model, optimizer=SGD(model.parameters(), lr=20.0))


def _lr_too_low():
    model = mlp([8, 32, 3], nn.ReLU)
    return _with(model, optimizer=SGD(model.parameters(), lr=1e-7))


def _exploding():
    model = exploding_net()
    return _with(model, batch=classification_batch(features=16))


# check name -> a setup that must fail it (and, where it matters, its severity)
CASES = {
    "finite_data": (_nan_inputs, "error"),
    "input_scale": (_pixels, "warning"),
    "input_scale/badly_scaled": (_badly_scaled, "warning"),
    "label_range": (_labels_out_of_range, "error"),
    "initial_loss": (_big_last_layer, "warning"),
    "logits": (_softmax_output, "warning"),
    "train_mode": (_eval_mode, "warning"),
    "batchnorm_batch": (_batchnorm_batch_one, "error"),
    "gradients_present": (lambda: _with(_Unused()), "error"),
    "dead_relu": (_dead_relu, "warning"),
    "saturated_activations": (_saturated, "warning"),
    "vanishing_gradients": (lambda: _with(vanishing_net()), "warning"),
    "exploding_gradients": (_exploding, "error"),
    "overfit_one_batch": (_lr_too_low, "warning"),
    "overfit_one_batch/diverged": (_lr_too_high, "error"),
    "update_ratio": (_lr_too_high, "error"),
    "update_ratio/too_low": (_lr_too_low, "warning"),
    "forward": (_forward_fails, "error"),
    "loss": (_nan_loss, "error"),
}


def _run(setup, steps=30):
    model, loss_fn, batch, optimizer = setup()
    return doctor(model, loss_fn, batch, optimizer=optimizer, steps=steps)


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_check_fires_on_its_case(case):
    build, severity = CASES[case]
    report = _run(build)
    finding = report.finding(case.split("/")[0])
    assert finding is not None, str(report)
    assert (finding.passed, finding.severity) == (False, severity), str(report)
    assert finding.fix and not report.ok
    assert f"✗ {finding.check}" in str(report)


def test_the_healthy_setup_passes_every_check():
    report = _run(healthy)
    assert report.ok, str(report)
    ran = {f.check for f in report.findings}
    assert {"finite_data", "input_scale", "train_mode", "batchnorm_batch", "label_range",
            "initial_loss", "activations", "gradients_present", "gradient_flow",
            "overfit_one_batch", "update_ratio"} == ran  # fmt: skip
    overfit = report.finding("overfit_one_batch").evidence
    assert overfit["reduction"] >= 10 and overfit["best_loss"] == min(report.losses)
    ratio = report.finding("update_ratio").evidence["median_ratio"]
    assert 1e-4 < ratio < 1e-1
    initial = report.finding("initial_loss").evidence
    assert initial["expected"] == pytest.approx(math.log(3))
    assert str(report).startswith("gradwork doctor: all checks passed")


def test_named_layers_and_numbers_in_findings():
    report = _run(lambda: _with(_Unused()))
    assert report.finding("gradients_present").layers == ["spare.weight", "spare.bias"]
    report = _run(_dead_relu)
    assert report.finding("dead_relu").layers == ["1"]
    assert report.finding("dead_relu").evidence["1"] == 1.0
    report = _run(lambda: _with(vanishing_net()))
    assert "0" in report.finding("vanishing_gradients").layers
    report = _run(_labels_out_of_range)
    assert report.finding("label_range").evidence == {"num_classes": 3, "min_label": 1,
                                                       "max_label": 3}  # fmt: skip
    model, loss_fn, (x, y), _ = _pixels()
    evidence = doctor(model, loss_fn, (x, y)).finding("input_scale").evidence
    assert evidence["max"] == float(to_numpy(x).max()) and evidence["min"] == float(
        to_numpy(x).min()
    )
    assert evidence["std"] == pytest.approx(float(to_numpy(x).astype(np.float64).std()))


def test_no_optimizer_skips_the_update_ratio_and_uses_adam():
    model, loss_fn, batch, _ = healthy()
    report = doctor(model, loss_fn, batch, lr=0.02)
    assert report.finding("update_ratio").severity == "info"
    assert report.finding("overfit_one_batch").passed and report.ok
    # the default is gradwork.optim.Adam at `lr`: the same losses, step for step
    explicit = doctor(model, loss_fn, batch, optimizer=optim.Adam(model.parameters(), lr=0.02))
    assert report.losses == explicit.losses and len(report.losses) < 100  # stops once memorised
    assert report.losses != doctor(model, loss_fn, batch, lr=0.002, steps=30).losses


def test_a_loader_like_iterable_gives_its_first_batch():
    model, loss_fn, batch, optimizer = healthy()
    report = doctor(model, loss_fn, iter([batch]), optimizer=optimizer)
    assert report.finding("label_range").passed
    with pytest.raises(TypeError, match="batch"):
        doctor(model, loss_fn, [("a", "b")])


def _snapshot(model, optimizer):
    params = {n: (p.array.copy(), None if p.grad is None else p.grad.array.copy(), p.requires_grad)
              for n, p in model.named_parameters()}  # fmt: skip
    state = {k: v.copy() for k, v in optimizer.state.items()}
    modes = [m.training for m in model.modules()]
    return params, state, modes, [dict(g, params=None) for g in optimizer.param_groups]


def _same(a, b) -> bool:
    params_a, state_a, modes_a, groups_a = a
    params_b, state_b, modes_b, groups_b = b
    same_params = all(
        np.array_equal(params_a[n][0], params_b[n][0])
        and params_a[n][0].dtype == params_b[n][0].dtype
        and ((params_a[n][1] is None and params_b[n][1] is None)
             or np.array_equal(params_a[n][1], params_b[n][1]))
        for n in params_a
    )  # fmt: skip
    same_state = state_a.keys() == state_b.keys() and all(
        np.array_equal(state_a[k], state_b[k]) for k in state_a
    )
    return same_params and same_state and modes_a == modes_b and groups_a == groups_b


def test_doctor_leaves_model_optimizer_and_random_stream_bit_identical():
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 3))
    optimizer = SGD(model.parameters(), lr=0.3, momentum=0.9)
    x, y = classification_batch()
    for _ in range(2):  # give the optimizer state and the parameters gradients
        optimizer.zero_grad()
        CE(model(x), y).backward()
        optimizer.step()
    before = _snapshot(model, optimizer)
    stream = gw.get_rng_state()
    report = doctor(model, CE, (x, y), optimizer=optimizer, steps=10)
    assert len(report.losses) == 10  # it did train (a copy), drawing dropout masks
    assert _same(before, _snapshot(model, optimizer))
    after = to_numpy(gw.rand(5))
    gw.set_rng_state(stream)
    assert np.array_equal(after, to_numpy(gw.rand(5)))


def test_doctor_leaves_a_gradwork_optimizer_untouched():
    model = mlp([8, 32, 3], nn.ReLU)
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    x, y = classification_batch()
    optimizer.zero_grad()
    CE(model(x), y).backward()
    optimizer.step()
    weights = {n: to_numpy(p).copy() for n, p in model.named_parameters()}
    saved = optimizer.state_dict()
    report = doctor(model, CE, (x, y), optimizer=optimizer, steps=10)
    assert report.finding("update_ratio").severity != "info"
    assert all(np.array_equal(weights[n], to_numpy(p)) for n, p in model.named_parameters())
    again = optimizer.state_dict()
    for index, entry in saved["state"].items():
        for key, value in entry.items():
            assert np.array_equal(to_numpy(value), to_numpy(again["state"][index][key]))
