"""Diagnostics: gradient checks, layer-health monitors, the training doctor, flow plots.

Example:
    >>> import gradwork as gw
    >>> from gradwork import nn
    >>> from gradwork import diagnose
    >>> model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    >>> monitor = diagnose.GradientMonitor(model)
    >>> model(gw.randn(8, 3)).sum().backward()
    >>> monitor.record()
    True
"""

from gradwork.diagnose._gradient_report import GradientReport, LayerGradients
from gradwork.diagnose.activation_monitor import (
    ActivationMonitor,
    ActivationReport,
    LayerActivations,
)
from gradwork.diagnose.compare import CompareReport, LayerDiff, compare
from gradwork.diagnose.doctor import DoctorReport, doctor
from gradwork.diagnose.findings import Finding
from gradwork.diagnose.flow_plot import gradient_flow_table, plot_gradient_flow
from gradwork.diagnose.gradcheck import GradcheckError, GradcheckReport, gradcheck
from gradwork.diagnose.gradient_monitor import GradientMonitor, GradientRecord
from gradwork.diagnose.lr_find import LRFindResult, lr_find
from gradwork.diagnose.mistakes import TrainingMistakeWarning, WatchCallback, Watcher, watch
from gradwork.diagnose.monitor_callbacks import ActivationMonitorCallback, GradientMonitorCallback

__all__ = [
    "gradcheck", "GradcheckError", "GradcheckReport",
    "GradientMonitor", "GradientRecord", "GradientReport", "LayerGradients",
    "ActivationMonitor", "ActivationReport", "LayerActivations",
    "GradientMonitorCallback", "ActivationMonitorCallback",
    "doctor", "DoctorReport", "Finding", "gradient_flow_table", "plot_gradient_flow",
    "watch", "Watcher", "WatchCallback", "TrainingMistakeWarning",
    "lr_find", "LRFindResult",
    "compare", "CompareReport", "LayerDiff",
]  # fmt: skip
