"""The optimizer and scheduler tables, and a tiny non-quadratic problem in both libraries.

The problem is a 3-4-1 tanh network on fixed data, in float64: small enough
that 30 steps take milliseconds, non-quadratic enough that a wrong update
rule shows in the trajectory. `Problem` builds it for gradwork or torch from
the same arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import gradwork as gw
from tests.helpers import to_numpy

STEPS = 30


@dataclass
class OptimizerCase:
    name: str  # the optimizer's class name, in gradwork.optim and torch.optim
    kwargs: dict
    id: str = ""

    def __post_init__(self):
        if not self.id:
            flags = "-".join(f"{k}={v}" for k, v in self.kwargs.items())
            self.id = f"{self.name}[{flags}]"

    @property
    def maximize(self) -> bool:
        return bool(self.kwargs.get("maximize"))


OPTIMIZER_CASES = [
    OptimizerCase("SGD", dict(lr=0.1)),
    OptimizerCase("SGD", dict(lr=0.1, momentum=0.9)),
    OptimizerCase("SGD", dict(lr=0.1, momentum=0.9, dampening=0.5)),
    OptimizerCase("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    OptimizerCase("SGD", dict(lr=0.1, weight_decay=0.05)),
    OptimizerCase("SGD", dict(lr=0.1, maximize=True)),
    OptimizerCase(
        "SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1, maximize=True)
    ),
    OptimizerCase("Adam", dict(lr=0.05)),
    OptimizerCase("Adam", dict(lr=0.05, amsgrad=True)),
    OptimizerCase("Adam", dict(lr=0.05, weight_decay=0.1)),
    OptimizerCase("Adam", dict(lr=0.05, maximize=True)),
    OptimizerCase("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-4)),
    OptimizerCase("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1, maximize=True)),
    OptimizerCase("AdamW", dict(lr=0.05)),
    OptimizerCase("AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
    OptimizerCase("AdamW", dict(lr=0.05, maximize=True)),
    OptimizerCase("RMSprop", dict(lr=0.01)),
    OptimizerCase("RMSprop", dict(lr=0.01, momentum=0.9)),
    OptimizerCase("RMSprop", dict(lr=0.01, centered=True)),
    OptimizerCase("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-4, weight_decay=0.1)),
    OptimizerCase("RMSprop", dict(lr=0.005, centered=True, momentum=0.5, maximize=True)),
    OptimizerCase("Adagrad", dict(lr=0.1)),
    OptimizerCase("Adagrad", dict(lr=0.1, lr_decay=0.05)),
    OptimizerCase("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5)),
    OptimizerCase("Adagrad", dict(lr=0.1, weight_decay=0.1, eps=1e-3)),
    OptimizerCase("Adagrad", dict(lr=0.1, maximize=True)),
    OptimizerCase("Adadelta", dict(lr=1.0)),
    OptimizerCase("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4)),
    OptimizerCase("Adadelta", dict(lr=1.0, weight_decay=0.1)),
    OptimizerCase("Adadelta", dict(lr=1.0, maximize=True)),
    OptimizerCase("Adadelta", dict(lr=2.0, rho=0.95, weight_decay=0.05, maximize=True)),
    OptimizerCase("Adamax", dict(lr=0.05)),
    OptimizerCase("Adamax", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-4)),
    OptimizerCase("Adamax", dict(lr=0.05, betas=(0.3, 0.9))),  # torch's lerp for weights >= 0.5
    OptimizerCase("Adamax", dict(lr=0.05, weight_decay=0.1)),
    OptimizerCase("Adamax", dict(lr=0.05, weight_decay=0.1, maximize=True)),
    OptimizerCase("NAdam", dict(lr=0.05)),
    OptimizerCase("NAdam", dict(lr=0.05, momentum_decay=0.05, betas=(0.8, 0.99))),
    OptimizerCase("NAdam", dict(lr=0.05, weight_decay=0.1)),
    OptimizerCase("NAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    OptimizerCase("NAdam", dict(lr=0.05, eps=1e-4, maximize=True)),
    OptimizerCase("RAdam", dict(lr=0.05)),  # rho_t passes 5 at step 6
    OptimizerCase("RAdam", dict(lr=0.05, betas=(0.9, 0.9))),  # rho_t never passes 5
    OptimizerCase("RAdam", dict(lr=0.05, betas=(0.3, 0.99), eps=1e-4)),
    OptimizerCase("RAdam", dict(lr=0.05, weight_decay=0.1)),
    OptimizerCase("RAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    OptimizerCase("RAdam", dict(lr=0.05, maximize=True)),
]


# LBFGS needs step(closure): its own table, run on named problems by test_lbfgs.py.
LBFGS_CASES = [
    OptimizerCase("LBFGS", dict(problem=problem, options=options, steps=steps), id=name)
    for name, problem, options, steps in [
        ("fixed-rosenbrock2", "rosenbrock2", dict(lr=0.01), 10),
        ("fixed-rosenbrock4", "rosenbrock4", dict(lr=0.02, history_size=5), 8),
        ("fixed-least_squares", "least_squares", dict(lr=0.5, max_iter=7), 5),
        ("fixed-network", "network", dict(lr=0.2, history_size=3, max_eval=15), 3),
        ("wolfe-rosenbrock2", "rosenbrock2", dict(line_search_fn="strong_wolfe"), 4),
        ("wolfe-rosenbrock4", "rosenbrock4",
         dict(line_search_fn="strong_wolfe", history_size=4), 6),
        ("wolfe-least_squares", "least_squares", dict(line_search_fn="strong_wolfe"), 3),
        ("wolfe-network", "network", dict(line_search_fn="strong_wolfe", max_iter=10), 4),
        ("wolfe-lr-tolerances", "network",
         dict(line_search_fn="strong_wolfe", lr=0.5, tolerance_change=1e-5, max_eval=12), 4),
    ]
]  # fmt: skip


# Each optimizer, tuned to reach the least-squares minimum: (kwargs, steps, tolerance).
CONVERGENCE = {
    "SGD": (dict(lr=0.1, momentum=0.9, nesterov=True), 300, 1e-6),
    "Adam": (dict(lr=0.05), 1000, 1e-4),
    "AdamW": (dict(lr=0.05, weight_decay=0.0), 1000, 1e-4),
    "RMSprop": (dict(lr=0.01, centered=True, momentum=0.5), 1000, 1e-3),
    "Adagrad": (dict(lr=0.5), 1000, 1e-4),
    "Adadelta": (dict(lr=1.0, eps=1e-3), 1000, 1e-4),
    "Adamax": (dict(lr=0.05), 1000, 1e-4),
    "NAdam": (dict(lr=0.05), 1000, 1e-4),
    "RAdam": (dict(lr=0.05), 1000, 1e-4),
    "LBFGS": (dict(line_search_fn="strong_wolfe", tolerance_change=1e-14), 3, 1e-6),
}


class Problem:
    """A 3-4-1 tanh network's loss on fixed data, for gradwork (`lib=gw`) or torch."""

    def __init__(self, lib: Any, dtype: str = "float64") -> None:
        rng = np.random.default_rng(42)
        self.arrays = {
            "hidden.weight": rng.standard_normal((4, 3)),
            "hidden.bias": rng.standard_normal(4) * 0.1,
            "out.weight": rng.standard_normal((1, 4)),
        }
        self.x = rng.standard_normal((16, 3)).astype(dtype)
        self.y = np.sin(self.x.sum(axis=1, keepdims=True))
        self.lib = lib
        self.params = [
            lib.tensor(a.astype(dtype), requires_grad=True) for a in self.arrays.values()
        ]

    def named_parameters(self) -> list[tuple[str, Any]]:
        return list(zip(self.arrays, self.params, strict=True))

    def loss(self) -> Any:
        w1, b1, w2 = self.params
        x, y = self.lib.tensor(self.x), self.lib.tensor(self.y)
        h = (x @ w1.T + b1).tanh()
        return ((h @ w2.T - y) ** 2).mean()

    def backward(self, sign: float = 1.0) -> Any:
        """Gradients of sign * loss (a maximizing optimizer gets -loss, which stays bounded)."""
        loss = self.loss() * sign
        loss.backward()
        return loss

    def values(self) -> list[np.ndarray]:
        return [np.array(to_numpy(p) if hasattr(p, "detach") else to_numpy(p)) for p in self.params]


def run(
    lib: Any,
    optim_module: Any,
    case: OptimizerCase,
    steps: int = STEPS,
    skip_grad: Callable[[int], int | None] | None = None,
) -> list[np.ndarray]:
    """Parameters after `steps` steps of `case` (optionally dropping one grad on some steps)."""
    problem = Problem(lib)
    optimizer = getattr(optim_module, case.name)(problem.params, **case.kwargs)
    sign = -1.0 if case.maximize else 1.0
    for step in range(steps):
        optimizer.zero_grad()
        problem.backward(sign)
        if skip_grad is not None and skip_grad(step) is not None:
            problem.params[skip_grad(step)].grad = None
        optimizer.step()
    return problem.values()


@dataclass
class SchedulerCase:
    id: str
    build: Callable  # build(lr_scheduler_module, optimizer) -> scheduler
    torch_build: Callable | None = None  # the torch equivalent, when torch has another name
    optimizer: str = "SGD"  # "SGD" (with momentum) or "Adam"
    steps: int = 40
    metrics: list = field(default_factory=list)  # scripted metric for ReduceLROnPlateau

    @property
    def exported(self) -> str:
        return self.id.split("[")[0]


PLATEAU_METRIC = [
    5.0,
    4.0,
    4.0,
    3.9999,
    4.1,
    4.0,
    3.0,
    3.0,
    3.0,
    3.0,
    3.0,
    2.9,
    2.9,
    2.9,
    2.9,
    2.9,
    2.0,
    2.0,
    2.0,
    2.0,
] * 2

SCHEDULER_CASES = [
    SchedulerCase("StepLR", lambda m, o: m.StepLR(o, step_size=7, gamma=0.5)),
    SchedulerCase("MultiStepLR", lambda m, o: m.MultiStepLR(o, [5, 12, 12, 30], gamma=0.3)),
    SchedulerCase("ExponentialLR", lambda m, o: m.ExponentialLR(o, gamma=0.93)),
    SchedulerCase("CosineAnnealingLR", lambda m, o: m.CosineAnnealingLR(o, T_max=15, eta_min=1e-3)),
    SchedulerCase(
        "CosineAnnealingLR[long]",
        lambda m, o: m.CosineAnnealingLR(o, T_max=1000, eta_min=0.01),
        steps=2100,
    ),
    SchedulerCase(
        "LinearLR", lambda m, o: m.LinearLR(o, start_factor=0.25, end_factor=0.9, total_iters=10)
    ),
    SchedulerCase(
        "LambdaLR", lambda m, o: m.LambdaLR(o, [lambda e: 0.9**e, lambda e: 1 / (1 + e)])
    ),
    SchedulerCase(
        "OneCycleLR[cos,sgd]", lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=41)
    ),
    SchedulerCase(
        "OneCycleLR[linear,three_phase,adam]",
        lambda m, o: m.OneCycleLR(
            o,
            max_lr=0.3,
            epochs=4,
            steps_per_epoch=11,
            pct_start=0.25,
            anneal_strategy="linear",
            three_phase=True,
            div_factor=10.0,
            final_div_factor=100.0,
            base_momentum=0.8,
            max_momentum=0.9,
        ),
        optimizer="Adam",
    ),
    SchedulerCase(
        "OneCycleLR[no_momentum]",
        lambda m, o: m.OneCycleLR(o, max_lr=0.2, total_steps=40, cycle_momentum=False),
    ),
    SchedulerCase(
        "ReduceLROnPlateau[min,rel]",
        lambda m, o: m.ReduceLROnPlateau(
            o, factor=0.5, patience=2, cooldown=1, min_lr=[0.01, 0.001]
        ),
        metrics=PLATEAU_METRIC,
    ),
    SchedulerCase(
        "ReduceLROnPlateau[max,abs]",
        lambda m, o: m.ReduceLROnPlateau(
            o, mode="max", threshold=0.05, threshold_mode="abs", patience=1, factor=0.3
        ),
        metrics=[-v for v in PLATEAU_METRIC],
    ),
    SchedulerCase(
        "SequentialLR",
        lambda m, o: m.SequentialLR(
            o,
            [
                m.LinearLR(o, 0.1, total_iters=5),
                m.ExponentialLR(o, 0.9),
                m.CosineAnnealingLR(o, T_max=12),
            ],
            milestones=[5, 15],
        ),
    ),
    SchedulerCase(
        "InverseTimeLR",
        lambda m, o: m.InverseTimeLR(o, decay_rate=0.3),
        torch_build=lambda m, o: m.LambdaLR(o, lambda e: 1 / (1 + 0.3 * e)),
    ),
    SchedulerCase(
        "WarmupLR[cosine]",
        lambda m, o: m.WarmupLR(o, 6, after=m.CosineAnnealingLR(o, T_max=20), start_factor=0.2),
        torch_build=lambda m, o: m.SequentialLR(
            o, [m.LinearLR(o, 0.2, 1.0, total_iters=6), m.CosineAnnealingLR(o, 20)], milestones=[6]
        ),
    ),
    SchedulerCase(
        "WarmupLR[alone]",
        lambda m, o: m.WarmupLR(o, 8),
        torch_build=lambda m, o: m.LinearLR(o, 0.1, 1.0, total_iters=8),
    ),
    SchedulerCase(
        "WarmupLR[step]",
        lambda m, o: m.WarmupLR(o, 5, after=m.StepLR(o, 4, 0.5), start_factor=0.5),
        torch_build=lambda m, o: m.SequentialLR(
            o, [m.LinearLR(o, 0.5, 1.0, total_iters=5), m.StepLR(o, 4, 0.5)], milestones=[5]
        ),
    ),
]


SCHEDULER_CASES += [
    SchedulerCase(
        "CosineAnnealingWarmRestarts",
        lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=7, eta_min=1e-3),
    ),
    SchedulerCase(
        "CosineAnnealingWarmRestarts[T_mult]",
        lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2),
        steps=60,
    ),
    SchedulerCase("PolynomialLR", lambda m, o: m.PolynomialLR(o)),
    SchedulerCase("PolynomialLR[power]", lambda m, o: m.PolynomialLR(o, total_iters=25, power=2.5)),
    SchedulerCase(
        "PolynomialLR[sqrt,adam]",
        lambda m, o: m.PolynomialLR(o, total_iters=30, power=0.5),
        optimizer="Adam",
    ),
    SchedulerCase(
        "CyclicLR[triangular,sgd]", lambda m, o: m.CyclicLR(o, 0.01, [0.5, 0.2], step_size_up=4)
    ),
    SchedulerCase(
        "CyclicLR[triangular2,down]",
        lambda m, o: m.CyclicLR(o, [0.01, 0.002], 0.3, 3, 5, mode="triangular2"),
    ),
    SchedulerCase(
        "CyclicLR[exp_range,adam]",
        lambda m, o: m.CyclicLR(
            o, 0.001, 0.1, 5, mode="exp_range", gamma=0.97, base_momentum=0.85, max_momentum=0.95
        ),
        optimizer="Adam",
    ),
    SchedulerCase(
        "CyclicLR[scale_fn,iterations]",
        lambda m, o: m.CyclicLR(
            o, 0.01, 0.1, 6, 2, scale_fn=lambda x: 1 / (1 + 0.05 * x), scale_mode="iterations"
        ),
    ),
    SchedulerCase(
        "CyclicLR[no_momentum]",
        lambda m, o: m.CyclicLR(o, 0.05, 0.2, 3, cycle_momentum=False),
    ),
]


def scheduler_optimizer(optim_module: Any, lib: Any, kind: str) -> Any:
    """An optimizer with two param groups (lr 0.1 and 0.02), as the schedulers' subject."""
    groups = [
        {"params": [lib.zeros(2, requires_grad=True)]},
        {"params": [lib.zeros(3, requires_grad=True)], "lr": 0.02},
    ]
    if kind == "Adam":
        return optim_module.Adam(groups, lr=0.1)
    return optim_module.SGD(groups, lr=0.1, momentum=0.9)


def record(optimizer: Any, scheduler: Any, case: SchedulerCase, steps: int) -> dict:
    """The lrs (and momenta) a scheduler sets over `steps` steps."""
    history: dict[str, list] = {"last_lr": [], "lr": [], "momentum": []}
    for step in range(steps):
        optimizer.step()
        if case.metrics:
            scheduler.step(case.metrics[step % len(case.metrics)])
        else:
            scheduler.step()
        history["last_lr"].append(list(scheduler.get_last_lr()))
        history["lr"].append([g["lr"] for g in optimizer.param_groups])
        history["momentum"].append(
            [g["betas"][0] if "betas" in g else g["momentum"] for g in optimizer.param_groups]
        )
    return history


def tensor_values(tensors: list) -> list[np.ndarray]:
    return [np.array(to_numpy(t) if isinstance(t, gw.Tensor) else to_numpy(t)) for t in tensors]
