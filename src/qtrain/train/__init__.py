"""Training: objectives, the ``fit`` loop, budgets, stop rules, checkpoints and run folders.

Telemetry (Prometheus, MLflow, plots, the report) lives in :mod:`qtrain.observe`, above this
package; ``fit`` sees it only through the :class:`~qtrain.train.tracking.Tracker` protocol.
"""

from qtrain.train.checkpoint import Checkpoint as Checkpoint
from qtrain.train.checkpoint import load_checkpoint as load_checkpoint
from qtrain.train.evaluation import Evaluation as Evaluation
from qtrain.train.loop import FitResult as FitResult
from qtrain.train.loop import fit as fit
from qtrain.train.losses import LOSSES as LOSSES
from qtrain.train.losses import Loss as Loss
from qtrain.train.objective import Objective as Objective
from qtrain.train.progress import ProgressTracker as ProgressTracker
from qtrain.train.records import StepRecord as StepRecord
from qtrain.train.rundir import RunDir as RunDir
from qtrain.train.stopping import Budget as Budget
from qtrain.train.stopping import StopRules as StopRules
from qtrain.train.tracking import JsonlTracker as JsonlTracker
from qtrain.train.tracking import LogTracker as LogTracker
from qtrain.train.tracking import RunContext as RunContext
from qtrain.train.tracking import Tracker as Tracker
from qtrain.train.tracking import read_metrics as read_metrics

__all__ = [
    "LOSSES",
    "Budget",
    "Checkpoint",
    "Evaluation",
    "FitResult",
    "JsonlTracker",
    "LogTracker",
    "Loss",
    "Objective",
    "ProgressTracker",
    "RunContext",
    "RunDir",
    "StepRecord",
    "StopRules",
    "Tracker",
    "fit",
    "load_checkpoint",
    "read_metrics",
]
