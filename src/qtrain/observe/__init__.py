"""Telemetry: Prometheus metrics and their schema, the MLflow tracker, plots and the report.

Fed by :class:`~qtrain.train.records.StepRecord` s (through the
:class:`~qtrain.train.tracking.Tracker` protocol, which ``fit`` sees without importing this
package) and by the executor's counters.
"""

from qtrain.observe.metrics import MetricsTracker as MetricsTracker
from qtrain.observe.metrics import serve_metrics as serve_metrics
from qtrain.observe.mlflow_tracker import MlflowTracker as MlflowTracker
from qtrain.observe.report import write_report as write_report

__all__ = ["MetricsTracker", "MlflowTracker", "serve_metrics", "write_report"]
