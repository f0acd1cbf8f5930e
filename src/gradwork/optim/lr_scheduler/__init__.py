"""Learning-rate schedulers with torch's interface, over `gradwork.optim.schedules`.

Create one after the optimizer and call `scheduler.step()` once per epoch
(OneCycleLR, CyclicLR and WarmupLR: once per batch), after `optimizer.step()`.
`ReduceLROnPlateau.step(metric)` takes the watched metric.

Example:
    >>> import gradwork as gw
    >>> from gradwork import optim
    >>> opt = optim.SGD([gw.ones(1, requires_grad=True)], lr=0.1)
    >>> scheduler = optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    >>> opt.step(); scheduler.step()
    >>> scheduler.get_last_lr()
    [0.05]
"""

from gradwork.optim.lr_scheduler._base import LRScheduler
from gradwork.optim.lr_scheduler._cyclic import CosineAnnealingWarmRestarts, CyclicLR
from gradwork.optim.lr_scheduler._decay import (
    CosineAnnealingLR,
    ExponentialLR,
    InverseTimeLR,
    LambdaLR,
    LinearLR,
    MultiStepLR,
    PolynomialLR,
    StepLR,
)
from gradwork.optim.lr_scheduler._one_cycle import OneCycleLR
from gradwork.optim.lr_scheduler._plateau import ReduceLROnPlateau
from gradwork.optim.lr_scheduler._sequential import SequentialLR, WarmupLR

__all__ = [
    "LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR",
    "LambdaLR", "OneCycleLR", "ReduceLROnPlateau", "SequentialLR", "InverseTimeLR", "WarmupLR",
    "CosineAnnealingWarmRestarts", "PolynomialLR", "CyclicLR",
]  # fmt: skip
