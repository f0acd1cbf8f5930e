"""gradwork.train: the `Trainer` loop, callbacks, metrics, checkpoints and run folders.

The loop is only the loop; progress display, logging, checkpoints, early
stopping, learning-rate schedules, Ctrl-C handling and the run summary are
callbacks (see `callbacks.py`).
"""

from gradwork.train import metrics
from gradwork.train._accumulators import (
    METRIC_NAMES,
    Accuracy,
    ConfusionMatrix,
    F1Score,
    MeanAbsoluteError,
    MeanSquaredError,
    Metric,
    Precision,
    R2Score,
    Recall,
    TopKAccuracy,
    get_metric,
)
from gradwork.train._interrupt import InterruptHandler
from gradwork.train._model_checkpoint import ModelCheckpoint
from gradwork.train._progress import ProgressBar
from gradwork.train._summary import RunSummary
from gradwork.train.callbacks import (
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    History,
    LRSchedulerCallback,
    TerminateOnNaN,
)
from gradwork.train.checkpoint import load_checkpoint, save_checkpoint
from gradwork.train.run import RunFolder
from gradwork.train.trainer import Trainer

__all__ = [
    "Trainer",
    "Callback",
    "CallbackList",
    "History",
    "EarlyStopping",
    "ModelCheckpoint",
    "LRSchedulerCallback",
    "ProgressBar",
    "CSVLogger",
    "TerminateOnNaN",
    "InterruptHandler",
    "RunSummary",
    "Metric",
    "Accuracy",
    "TopKAccuracy",
    "Precision",
    "Recall",
    "F1Score",
    "ConfusionMatrix",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "R2Score",
    "METRIC_NAMES",
    "get_metric",
    "metrics",
    "save_checkpoint",
    "load_checkpoint",
    "RunFolder",
]
