"""What is checked before any run folder, progress bar or log line exists, and how it is named.

``prepare`` builds a run's parts from a validated config; the parts can still refuse it: an
observable on a wire the circuit lacks, θ₀ of the wrong length, a problem option out of
range, a first step that the gradient method or the memory budget refuses (the adjoint
method with a shot-adaptive optimizer, its states or the metric tensor's too large, an
option the method does not take). :func:`keyed` names the config key of each such error and
:func:`in_file` the config file, so ``train``, ``resume``, ``grad`` and ``plan`` refuse the
same configs with the same one line, before any work:
``h2.yaml: observable: observable acts on wire 7 but the circuit has 2 qubit(s)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.local import LocalSimulator
from qtrain.backends.protocol import Backend
from qtrain.errors import (
    AdjointShotsError,
    ConfigError,
    GradientError,
    QtrainError,
    StateTooLargeError,
    StorageError,
    UnknownMethodError,
)
from qtrain.grad.shots import ShotPolicy
from qtrain.optim import Optimizer
from qtrain.sim.statevector import (
    BYTES_PER_AMPLITUDE,
    WORKING_COPIES,
    chunk_rows,
    format_bytes,
)
from qtrain.train.objective import Objective, group_terms
from qtrain.train.state import measurement

__all__ = ["check_first_step", "in_file", "keyed"]

_KEY = "config_key"  # the attribute that marks an error whose message names its key


def _prefixed(error: QtrainError, prefix: str) -> None:
    """Put ``prefix`` before ``error``'s message, keeping its type (callers may catch it)."""
    error.args = (f"{prefix}{error}", *error.args[1:])


def _name_key(error: QtrainError, key: str) -> None:
    """Name ``key`` in ``error``'s message unless a key is named already (the innermost wins)."""
    if getattr(error, _KEY, None) is None:
        _prefixed(error, f"{key}: ")
        setattr(error, _KEY, key)


@contextmanager
def keyed(key: str) -> Iterator[None]:
    """Name the config ``key`` in a ``QtrainError`` raised inside (once: the innermost wins).

    A storage failure is the environment's, not the config's: it passes unchanged.

    >>> from qtrain.errors import ObservableError
    >>> try:
    ...     with keyed("observable"):
    ...         raise ObservableError("wire 7 is not in the circuit")
    ... except ObservableError as error:
    ...     print(error)
    observable: wire 7 is not in the circuit
    """
    try:
        yield
    except StorageError:
        raise
    except QtrainError as error:
        _name_key(error, key)
        raise


@contextmanager
def in_file(source: str | None) -> Iterator[None]:
    """Name the config file ``source`` in a ``QtrainError`` raised inside (not storage errors)."""
    try:
        yield
    except StorageError:
        raise
    except QtrainError as error:
        if source and not str(error).startswith(source):
            _prefixed(error, f"{source}: ")
        raise


def _adjoint_chosen(method: str, policy: ShotPolicy | None, backend: Backend) -> bool:
    """Whether the step's gradient runs the adjoint method (``best`` picks it when it can)."""
    if not isinstance(backend, LocalSimulator):
        return False
    return method == "adjoint" or (method == "best" and policy is None and backend.is_ideal)


def _check_adjoint_memory(
    objective: Objective, simulator: LocalSimulator, method: str, memory_key: str
) -> None:
    """Refuse the adjoint method when its states do not fit (``grad/adjoint.py`` would, later).

    It keeps ψ, one λ per observable of a circuit and a scratch copy at once.
    """
    for circuit, terms in group_terms(objective.circuits):
        needed, n = len(terms) + 2, circuit.n_qubits
        if chunk_rows(n, needed, simulator.memory_budget) >= needed:
            continue
        chosen = "" if method == "adjoint" else " (gradient.method best chooses it here)"
        size = format_bytes(needed * BYTES_PER_AMPLITUDE * WORKING_COPIES << n)
        raise ConfigError(
            f"{memory_key}: the adjoint method{chosen} keeps {needed} {n}-qubit states at once "
            f"({size} with working copies), more than the memory budget of "
            f"{format_bytes(simulator.memory_budget)}; raise {memory_key} or use "
            "gradient.method param-shift"
        )


def _blamed(error: QtrainError, optimizer_method: bool, options: bool) -> str:
    """The key a refused first step is blamed on: the method, the optimizer's, the options."""
    if isinstance(error, (AdjointShotsError, UnknownMethodError)):
        return "gradient.method"
    if optimizer_method:  # SPSA measures with its own method and options
        return "optimizer"
    return "gradient.options" if options and isinstance(error, GradientError) else "gradient"


def check_first_step(
    objective: Objective,
    theta0: NDArray[np.float64],
    optimizer: Optimizer,
    gradient: tuple[str, Mapping[str, Any], ShotPolicy | None],
    *,
    seed: int | None,
    backend: Backend,
    memory_key: str,
) -> None:
    """Plan the first step as ``fit`` will (nothing runs): what refuses it refuses the run.

    ``gradient``: the config's method, its options and the shot policy.

    Raises:
        ConfigError: naming ``gradient.options``, ``gradient.method`` or ``memory_key``.
        QtrainError: another refusal, named ``gradient.method`` (e.g. ``AdjointShotsError``).
    """
    request = optimizer.ask(optimizer.init(theta0))
    method, options, policy = measurement(request, *gradient)
    try:
        objective.plan(
            theta0,
            method=method,
            shots=policy,
            seed=seed,
            backend=backend,
            metric=request.metric_tensor,
            options=options,
        )
    except TypeError as error:  # an option the method's planner does not take
        raise ConfigError(f"gradient.options: {method} does not take them ({error})") from None
    except StateTooLargeError as error:
        raise ConfigError(f"{memory_key}: {error}") from None
    except QtrainError as error:
        _name_key(error, _blamed(error, request.method is not None, bool(options)))
        raise
    if _adjoint_chosen(method, policy, backend):
        assert isinstance(backend, LocalSimulator)  # checked by _adjoint_chosen
        _check_adjoint_memory(objective, backend, method, memory_key)
