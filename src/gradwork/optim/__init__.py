"""gradwork.optim: optimizers, learning-rate schedules, and decay groups.

Every optimizer subclasses `Optimizer` and writes only its update rule on
raw arrays; the base handles groups, state, checkpoints and the flat fast
path (one vectorised update per parameter group). `schedules` holds the
learning-rate schedules as pure functions of the step; `lr_scheduler` the
torch-compatible schedulers built over them.

Example:
    >>> import gradwork as gw
    >>> from gradwork import optim
    >>> w = gw.tensor([3.0], requires_grad=True)
    >>> opt = optim.SGD([w], lr=0.1)
    >>> for _ in range(50):
    ...     opt.zero_grad()
    ...     ((w - 1.0) ** 2).sum().backward()
    ...     opt.step()
    >>> round(w.item(), 4)
    1.0
"""

from gradwork.optim import lr_scheduler, schedules
from gradwork.optim._groups import param_groups_no_decay
from gradwork.optim.adadelta import Adadelta
from gradwork.optim.adagrad import Adagrad
from gradwork.optim.adam import Adam
from gradwork.optim.adamax import Adamax
from gradwork.optim.adamw import AdamW
from gradwork.optim.lbfgs import LBFGS
from gradwork.optim.nadam import NAdam
from gradwork.optim.optimizer import Optimizer
from gradwork.optim.radam import RAdam
from gradwork.optim.rmsprop import RMSprop
from gradwork.optim.sgd import SGD

__all__ = [
    "Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam",
    "RAdam", "LBFGS",
    "lr_scheduler", "schedules", "param_groups_no_decay",
]  # fmt: skip
