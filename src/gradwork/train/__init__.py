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
    Perplexity,
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
from gradwork.train._tensorboard import TensorBoardLogger
from gradwork.train._weights import export_weights
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
from gradwork.train.generate import generate
from gradwork.train.language_model import (
    TokenCrossEntropyLoss,
    TransformerLM,
    evaluate_perplexity,
)
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
    "TensorBoardLogger",
    "export_weights",
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
    "Perplexity",
    "TransformerLM",
    "TokenCrossEntropyLoss",
    "evaluate_perplexity",
    "generate",
    "METRIC_NAMES",
    "get_metric",
    "metrics",
    "save_checkpoint",
    "load_checkpoint",
    "RunFolder",
]
