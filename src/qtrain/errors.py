"""The exception hierarchy of qtrain.

Every error a user can cause is a :class:`QtrainError` subclass whose message names the bad
value and what was expected. Where a built-in exception means the same thing (``ValueError``,
``IndexError``, ``MemoryError``) the subclass inherits it too, so generic handlers keep working.

Tree::

    QtrainError
    ├── CircuitError
    │   ├── UnknownGateError
    │   ├── WireCountError, DuplicateWireError, WireOutOfRangeError
    │   ├── ArgumentCountError, NonUnitaryError
    ├── ParameterError
    │   ├── ParameterIndexError, ParameterValueError, ParameterShapeError
    ├── ObservableError
    │   ├── ObservableParseError, ObservableWireError, NonHermitianError
    ├── ShotsError
    ├── GradientError
    │   ├── UnknownMethodError, NoShiftRuleError, AdjointShotsError
    ├── StateTooLargeError
    ├── ExecutionError
    │   ├── TransientExecutionError (→ ThrottledError), IncompleteResultError,
    │   └── InvalidResultError
    ├── BudgetExceededError
    ├── ConfigError
    └── CheckpointError (→ CheckpointMismatchError)
"""

from __future__ import annotations


class QtrainError(Exception):
    """Base class of every error raised on purpose by qtrain."""


class CircuitError(QtrainError, ValueError):
    """A circuit is malformed: a gate, its wires or its arguments are wrong."""


class UnknownGateError(CircuitError, KeyError):
    """A gate name is not in the registry ``qtrain.GATES``."""

    def __str__(self) -> str:  # KeyError would wrap the message in quotes
        return str(self.args[0]) if self.args else ""


class WireCountError(CircuitError):
    """A gate got a different number of wires than it acts on."""


class DuplicateWireError(CircuitError):
    """One gate names the same wire twice."""


class WireOutOfRangeError(CircuitError, IndexError):
    """A wire index is negative or not below the circuit's qubit count."""


class ArgumentCountError(CircuitError):
    """A gate got a different number of angle arguments than it takes."""


class NonUnitaryError(CircuitError):
    """A fixed ``Unitary`` gate's matrix is not unitary (or not square of size 2^k)."""


class ParameterError(QtrainError, ValueError):
    """Trainable parameters or their values are wrong."""


class ParameterIndexError(ParameterError, IndexError):
    """A parameter index ``P(k)`` is negative or not an integer."""


class ParameterValueError(ParameterError):
    """A parameter value or constant angle is not a finite real number."""


class ParameterShapeError(ParameterError):
    """A parameter array has the wrong shape for the circuit."""


class ObservableError(QtrainError, ValueError):
    """An observable is malformed or does not fit the circuit."""


class ObservableParseError(ObservableError):
    """A string passed to ``Observable.parse`` is not a weighted Pauli sum."""


class ObservableWireError(ObservableError, IndexError):
    """An observable acts on a wire the circuit does not have."""


class NonHermitianError(ObservableError):
    """An observable has a complex coefficient, so its expectation is not real."""


class ShotsError(QtrainError, ValueError):
    """A shot count is not a positive integer."""


class GradientError(QtrainError, ValueError):
    """A gradient cannot be computed as asked."""


class UnknownMethodError(GradientError):
    """A differentiation method name is not one qtrain knows."""


class NoShiftRuleError(GradientError):
    """A gate has neither a generator spectrum nor a declared shift recipe."""


class AdjointShotsError(GradientError):
    """The adjoint method was asked for with finite shots (it is exact by construction)."""


class StateTooLargeError(QtrainError, MemoryError):
    """A single state would not fit in the memory budget; raised before allocating."""


class ExecutionError(QtrainError):
    """Running tasks on a backend failed."""


class TransientExecutionError(ExecutionError):
    """A failure that may succeed when retried (timeouts, throttling, dropped jobs)."""


class ThrottledError(TransientExecutionError):
    """The backend asked the caller to slow down; ``retry_after`` seconds is its hint."""

    def __init__(self, message: str, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class IncompleteResultError(ExecutionError):
    """Some tasks still had no valid result after the retry budget was spent.

    Attributes:
        missing: the content keys of the rows that never got a valid result.
    """

    def __init__(self, message: str, missing: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.missing = missing


class InvalidResultError(ExecutionError):
    """A backend returned a result of the wrong shape, non-finite values or wrong shots."""


class BudgetExceededError(QtrainError):
    """Work would exceed a hard budget (shots, steps or wall time)."""


class ConfigError(QtrainError, ValueError):
    """A configuration key, type or value is invalid."""


class CheckpointError(QtrainError, ValueError):
    """A checkpoint or run directory is missing, unreadable or from another format."""


class CheckpointMismatchError(CheckpointError):
    """A checkpoint was written by a run with a different configuration."""
