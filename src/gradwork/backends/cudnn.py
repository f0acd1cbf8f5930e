"""`gradwork.backends.cudnn`: the switches torch scripts set; they change nothing here.

`torch.backends.cudnn.benchmark = True` and `deterministic = True` are common
first lines of training scripts. gradwork has no cuDNN, so the flags are kept
(scripts may read them back) and have no effect: CPU results are already
deterministic.
"""

from __future__ import annotations

enabled = True
benchmark = False
deterministic = False
allow_tf32 = False


def is_available() -> bool:
    """False: gradwork does not use cuDNN."""
    return False


def version() -> None:
    """None, as torch returns when cuDNN is absent."""
    return None
