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
    │   ├── TransientExecutionError (→ ThrottledError, JobFailedError),
    │   ├── IncompleteResultError, InvalidResultError, JobLostError
    ├── BudgetExceededError
    ├── ConfigError (→ SimulationMethodError, CredentialsError)
    ├── CheckpointError (→ CheckpointMismatchError)
    ├── PassError (→ NotAPassError)
    ├── NoiseModelError
    └── StorageError (also OSError)
        ├── DiskFullError, NotReadableError, NotWritableError
        └── CorruptFileError
"""

from __future__ import annotations

import errno
import os


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


class JobFailedError(TransientExecutionError):
    """A provider reported a submitted job failed or cancelled (retried under the policy).

    Attributes:
        job_id: the provider's job id.
        status: the provider's final status (``"ERROR"``, ``"CANCELLED"``).
    """

    def __init__(self, message: str, job_id: str = "", status: str = "") -> None:
        super().__init__(message)
        self.job_id = job_id
        self.status = status


class JobLostError(ExecutionError):
    """A job recorded as pending cannot be retrieved by id: its work is submitted again.

    The provider forgot it, or cannot look jobs up at all (Aer runs jobs in-process).
    """


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


class ShotAllowanceError(BudgetExceededError):
    """Retrying a call would pass the shots it was allowed; ``spent`` is what it spent."""

    def __init__(self, message: str, spent: int) -> None:
        super().__init__(message)
        self.spent = spent


class ConfigError(QtrainError, ValueError):
    """A configuration key, type or value is invalid."""


class SimulationMethodError(ConfigError):
    """A simulation method that cannot run the task: unknown, or wrong for the noise or shots.

    For example ``method="trajectories"`` with ``shots=None`` (trajectories only estimate) or
    ``method="statevector"`` with a noise model that has channels.
    """


class CheckpointError(QtrainError, ValueError):
    """A checkpoint or run directory is missing, unreadable or from another format."""


class CheckpointMismatchError(CheckpointError):
    """A checkpoint was written by a run with a different configuration."""


class PassError(QtrainError, ValueError):
    """A compiler pass was given options it cannot honour, or returned something it must not."""


class NotAPassError(PassError, TypeError):
    """A pipeline step is not a transform pass (a plain function, or an analysis pass)."""


class StorageError(QtrainError, OSError):
    """A file of a run or of a result store cannot be read or written.

    Raised for a full disk, a file or folder without permission, a read-only file system and
    a file whose contents are damaged: the environment failed, not the input. The message
    names the file and what to do; ``path`` is the file (or folder).
    """

    def __init__(self, message: str, *, path: str | os.PathLike[str] | None = None) -> None:
        super().__init__(message)
        self.path = None if path is None else os.fspath(path)

    def __str__(self) -> str:  # OSError would print ``[Errno ...]`` forms of the arguments
        return str(self.args[0]) if self.args else ""

    @staticmethod
    def from_os(
        error: OSError, path: str | os.PathLike[str], action: str, *, remedy: str = ""
    ) -> StorageError:
        """The storage error for ``error``, met while trying to ``action`` ``path``.

        ``action`` reads after "cannot" (``"write the checkpoint"``); a write is any action
        that does not start with ``read`` or ``open``. ``remedy`` replaces the default advice.

        >>> import errno
        >>> e = StorageError.from_os(OSError(errno.ENOSPC, "No space left on device"),
        ...                          "runs/a/checkpoint.json", "write")
        >>> type(e).__name__, str(e)  # doctest: +NORMALIZE_WHITESPACE
        ('DiskFullError', 'disk full: cannot write runs/a/checkpoint.json (No space left on
        device); free space on that file system, then try again')
        """
        if isinstance(error, StorageError):
            return error
        name, reason = os.fspath(path), error.strerror or str(error)
        reading = action.startswith(("read", "open"))
        kind: type[StorageError] = StorageError
        advice = "check the disk and the file, then try again"
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            kind, advice = DiskFullError, "free space on that file system, then try again"
            lead = "disk full: "
        elif error.errno == errno.EROFS:
            kind, lead = NotWritableError, "read-only file system: "
            advice = "use a run folder on a writable file system"
        elif error.errno in (errno.EACCES, errno.EPERM):
            kind = NotReadableError if reading else NotWritableError
            lead = "permission denied: "
            advice = (
                "give the user running qtrain read and write access to it (or its folder)"
                if reading
                else "give the user running qtrain write access to its folder, or use another"
                " folder"
            )
        else:
            lead = "I/O error: "
        return kind(f"{lead}cannot {action} {name} ({reason}); {remedy or advice}", path=path)


class DiskFullError(StorageError):
    """No space is left on the file system (or the user's quota is spent)."""


class NotReadableError(StorageError):
    """A file exists but this user may not read it."""


class NotWritableError(StorageError):
    """A file or folder may not be written: no permission, or a read-only file system."""


class CorruptFileError(StorageError):
    """A file's contents are damaged beyond what qtrain repairs by itself."""


class NoiseModelError(QtrainError, ValueError):
    """A noise channel, readout error, noise model or calibration is invalid.

    Raised for a channel that is not completely positive and trace preserving, a probability
    outside ``[0, 1]``, ``t2 > 2·t1``, an unknown gate name or a wire the circuit lacks.
    """


class MitigationError(ConfigError):
    """Error mitigation cannot be applied as asked.

    Raised for bad ``qt.ZNE`` / ``qt.ReadoutMitigation`` options (scale factors below 1 or not
    increasing, an unknown extrapolation), too few shots to split over the scale factors, a
    readout calibration that cannot be measured or inverted.
    """


class ExtrapolationError(MitigationError):
    """A zero-noise extrapolation has no answer: e.g. an exponential fit on values of mixed sign."""


class InteropError(QtrainError, ValueError):
    """A circuit or observable cannot be converted to or from another library's form.

    Raised by :mod:`qtrain.interop` for a gate or instruction qtrain has no exact equivalent
    for (reset, mid-circuit measurement, classical control, an opaque gate), a non-affine
    parameter expression and a non-Hermitian or parameterized Pauli sum; the message names
    the offending instruction, its position and the value.
    """


class DeviceCapabilityError(QtrainError, ValueError):
    """A task the target device cannot run, found before any job is submitted.

    Too many qubits for the device, a gate it cannot transpile to, or exact values asked of
    hardware. Not transient: retrying cannot help.
    """


class CredentialsError(ConfigError):
    """No usable credentials for a remote provider (saved account or environment variables).

    The message names where credentials were looked for, never a token's value.
    """
