"""qtrain: train variational quantum circuits with exact gradients, budgets and error bars.

The front door::

    import qtrain as qt
    c = qt.Circuit(2).ry(0, qt.P(0)).cnot(0, 1)
    qt.expval(c, qt.Z(0) @ qt.Z(1), [0.3])
"""

from typing import TYPE_CHECKING

# isort: off
# First: qtrain.sim.threads copies $QTRAIN_NUM_THREADS to BLAS's variables before numpy loads.
from qtrain.sim.threads import get_num_threads as get_num_threads
from qtrain.sim.threads import set_num_threads as set_num_threads

# isort: on
from qtrain import diagnostics as diagnostics
from qtrain import interop as interop
from qtrain import mitigation as mitigation
from qtrain import noise as noise
from qtrain import observe as observe
from qtrain import optim as optim
from qtrain import problems as problems
from qtrain import train as train
from qtrain.backends.faulty import FaultProfile as FaultProfile
from qtrain.backends.faulty import FaultyBackend as FaultyBackend
from qtrain.backends.local import LocalSimulator as LocalSimulator
from qtrain.backends.protocol import Backend as Backend
from qtrain.backends.protocol import Result as Result
from qtrain.backends.protocol import Task as Task
from qtrain.errors import BudgetExceededError as BudgetExceededError
from qtrain.errors import CheckpointError as CheckpointError
from qtrain.errors import CheckpointMismatchError as CheckpointMismatchError
from qtrain.errors import CircuitError as CircuitError
from qtrain.errors import ConfigError as ConfigError
from qtrain.errors import CorruptFileError as CorruptFileError
from qtrain.errors import DiskFullError as DiskFullError
from qtrain.errors import ExecutionError as ExecutionError
from qtrain.errors import ExtrapolationError as ExtrapolationError
from qtrain.errors import IncompleteResultError as IncompleteResultError
from qtrain.errors import InteropError as InteropError
from qtrain.errors import MitigationError as MitigationError
from qtrain.errors import NoiseModelError as NoiseModelError
from qtrain.errors import NotReadableError as NotReadableError
from qtrain.errors import NotWritableError as NotWritableError
from qtrain.errors import ObservableError as ObservableError
from qtrain.errors import ParameterError as ParameterError
from qtrain.errors import QtrainError as QtrainError
from qtrain.errors import ShotsError as ShotsError
from qtrain.errors import SimulationMethodError as SimulationMethodError
from qtrain.errors import StateTooLargeError as StateTooLargeError
from qtrain.errors import StorageError as StorageError
from qtrain.exec.distributed import DaskExecutor as DaskExecutor
from qtrain.exec.dry_run import DryRun as DryRun
from qtrain.exec.dry_run import dry_run as dry_run
from qtrain.exec.executor import Executor as Executor
from qtrain.exec.expval import Estimate as Estimate
from qtrain.exec.expval import expval as expval
from qtrain.exec.pricing import PricingTable as PricingTable
from qtrain.exec.retry import RetryPolicy as RetryPolicy
from qtrain.exec.store import ResultStore as ResultStore
from qtrain.grad.api import grad as grad
from qtrain.grad.api import gradient_tasks as gradient_tasks
from qtrain.grad.api import hessian as hessian
from qtrain.grad.api import jacobian as jacobian
from qtrain.grad.api import metric_tensor as metric_tensor
from qtrain.grad.result import Gradient as Gradient
from qtrain.grad.shots import ShotPolicy as ShotPolicy
from qtrain.interop import qasm as qasm
from qtrain.ir import ansatz as ansatz
from qtrain.ir.circuit import Circuit as Circuit
from qtrain.ir.circuit import Op as Op
from qtrain.ir.gates import GATES as GATES
from qtrain.ir.gates import GateSpec as GateSpec
from qtrain.ir.observables import I as I
from qtrain.ir.observables import MeasurementGroup as MeasurementGroup
from qtrain.ir.observables import Observable as Observable
from qtrain.ir.observables import PauliTerm as PauliTerm
from qtrain.ir.observables import X as X
from qtrain.ir.observables import Y as Y
from qtrain.ir.observables import Z as Z
from qtrain.ir.params import P as P
from qtrain.ir.params import ParamExpr as ParamExpr
from qtrain.logs import configure_logging as configure_logging
from qtrain.mitigation.mitigated import Mitigated as Mitigated
from qtrain.mitigation.readout import ReadoutMitigation as ReadoutMitigation
from qtrain.mitigation.zne import ZNE as ZNE
from qtrain.noise.calibration import Calibration as Calibration
from qtrain.noise.model import NoiseModel as NoiseModel
from qtrain.observe.metrics import MetricsTracker as MetricsTracker
from qtrain.observe.metrics import serve_metrics as serve_metrics
from qtrain.observe.mlflow_tracker import MlflowTracker as MlflowTracker
from qtrain.observe.report import write_report as write_report
from qtrain.passes.core import Pass as Pass
from qtrain.passes.core import Pipeline as Pipeline
from qtrain.passes.param_shift import ParameterShiftPass as ParameterShiftPass
from qtrain.sim.wavefunction import probabilities as probabilities
from qtrain.sim.wavefunction import sample as sample
from qtrain.sim.wavefunction import state as state
from qtrain.train.canary import Canary as Canary
from qtrain.train.drift_watch import DriftWatch as DriftWatch
from qtrain.train.fallback import BackendFallback as BackendFallback
from qtrain.train.freshness import CalibrationFreshness as CalibrationFreshness
from qtrain.train.loop import FitResult as FitResult
from qtrain.train.loop import fit as fit
from qtrain.train.objective import Objective as Objective
from qtrain.train.records import StepRecord as StepRecord
from qtrain.train.stopping import Budget as Budget
from qtrain.train.stopping import StopRules as StopRules
from qtrain.train.validation import Validation as Validation

__version__ = "0.1.0"

if TYPE_CHECKING:
    from qtrain.backends.qiskit import QiskitBackend as QiskitBackend

__all__ = [
    "GATES",
    "ZNE",
    "Backend",
    "BackendFallback",
    "Budget",
    "BudgetExceededError",
    "Calibration",
    "CalibrationFreshness",
    "Canary",
    "CheckpointError",
    "CheckpointMismatchError",
    "Circuit",
    "CircuitError",
    "ConfigError",
    "CorruptFileError",
    "DaskExecutor",
    "DiskFullError",
    "DriftWatch",
    "DryRun",
    "Estimate",
    "ExecutionError",
    "Executor",
    "ExtrapolationError",
    "FaultProfile",
    "FaultyBackend",
    "FitResult",
    "GateSpec",
    "Gradient",
    "I",
    "IncompleteResultError",
    "InteropError",
    "LocalSimulator",
    "MeasurementGroup",
    "MetricsTracker",
    "Mitigated",
    "MitigationError",
    "MlflowTracker",
    "NoiseModel",
    "NoiseModelError",
    "NotReadableError",
    "NotWritableError",
    "Objective",
    "Observable",
    "ObservableError",
    "Op",
    "P",
    "ParamExpr",
    "ParameterError",
    "ParameterShiftPass",
    "Pass",
    "PauliTerm",
    "Pipeline",
    "PricingTable",
    "QiskitBackend",
    "QtrainError",
    "ReadoutMitigation",
    "Result",
    "ResultStore",
    "RetryPolicy",
    "ShotPolicy",
    "ShotsError",
    "SimulationMethodError",
    "StateTooLargeError",
    "StepRecord",
    "StopRules",
    "StorageError",
    "Task",
    "Validation",
    "X",
    "Y",
    "Z",
    "__version__",
    "ansatz",
    "configure_logging",
    "diagnostics",
    "dry_run",
    "expval",
    "fit",
    "get_num_threads",
    "grad",
    "gradient_tasks",
    "hessian",
    "interop",
    "jacobian",
    "metric_tensor",
    "mitigation",
    "noise",
    "observe",
    "optim",
    "probabilities",
    "problems",
    "qasm",
    "sample",
    "serve_metrics",
    "set_num_threads",
    "state",
    "train",
    "write_report",
]


def __getattr__(name: str) -> object:
    """``qt.QiskitBackend`` on first use: it needs the ``qiskit`` extra (PEP 562)."""
    if name == "QiskitBackend":
        from qtrain.backends.qiskit import QiskitBackend  # noqa: PLC0415 - optional extra

        return QiskitBackend
    raise AttributeError(f"module 'qtrain' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public API only (``__all__``): no ``TYPE_CHECKING``, no internal subpackages."""
    return sorted(__all__)
