"""One record per training step, as written to ``metrics.jsonl`` and kept in checkpoints.

>>> r = StepRecord(step=0, loss=-1.1, loss_stderr=0.01, grad_norm=0.2, grad_norm_stderr=0.02,
...                grad_snr=9.5, learning_rate=0.1, shots=1000, shots_total=1000, circuits=3,
...                retries=0, failures=0, cached=0, seconds=0.01, elapsed=0.01,
...                method="param-shift", calibration_ids=(), gradient=(0.2,))
>>> StepRecord.from_dict(r.to_dict()) == r
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.display import html_table, number, text_block, value_with_error, vector
from qtrain.errors import ConfigError

__all__ = ["FitResult", "StepRecord", "gradient_summary"]

_VECTORS = ("gradient", "gradient_stderr", "theta")  # (P,) each; checkpoints drop them


@dataclass(frozen=True)
class StepRecord:
    """What happened in one step: measured at θ_step, then updated to θ_{step+1}.

    Attributes:
        step: 0-based step index.
        loss: loss at θ_step; ``loss_stderr`` its standard error (``None`` when exact).
        grad_norm: ``‖ĝ‖``; ``grad_norm_stderr`` its standard error (delta method).
        grad_snr: ``‖ĝ‖ / √(Σ_k stderr_k²)``, the gradient's signal over its shot noise
            (``None`` when exact).
        learning_rate: the step size the optimizer used.
        shots: shots this step cost; ``shots_total`` the run's total after it.
        circuits: parameter rows evaluated.
        retries: backend retries; ``failures`` failed or invalid rows; ``cached`` rows read
            from the result store (all this step).
        seconds: wall time of the step; ``elapsed`` of the run so far.
        method: the gradient method used.
        calibration_ids: backend calibrations the step's results came from.
        gradient: ``(P,)`` the gradient estimate (kept in ``metrics.jsonl``; checkpoints
            drop it to stay small).
        monitor: decisions of the run's monitors, if any.
        gradient_stderr: ``(P,)`` per-component standard errors (``()`` when exact; kept in
            ``metrics.jsonl`` beside ``gradient``, dropped from checkpoints).
        theta: ``(P,)`` θ_step, the parameters the step measured at (the run's lineage;
            dropped from checkpoints).
        backend: the backend the step ran on (changes when a fallback switches).
        queue_s: seconds the step's provider jobs waited in a queue; ``execution_s`` the
            seconds they ran (0 on local simulators).
        cost: money the step cost under the run's pricing table (``None`` without one);
            ``cost_total`` the run's total after it.
        calibration_age_s: age of the backend's calibration when the step started (``None``
            when the backend reports none).
        readout_error: mean readout error rate of the measured qubits (from calibration or
            mitigation; ``None`` when unknown).
        canary: the drift canary's run at this step, if one ran (value, reference,
            standardised residual, detector statistic, drift state, action taken).
        validation: the validation objective at this step, if evaluated (loss, stderr, shots).
        mitigation: raw vs mitigated loss, when the backend mitigates.
    """

    step: int
    loss: float
    loss_stderr: float | None
    grad_norm: float
    grad_norm_stderr: float | None
    grad_snr: float | None
    learning_rate: float
    shots: int
    shots_total: int
    circuits: int
    retries: int
    failures: int
    cached: int
    seconds: float
    elapsed: float
    method: str
    calibration_ids: tuple[str, ...] = ()
    gradient: tuple[float, ...] = ()
    monitor: dict[str, Any] | None = None
    gradient_stderr: tuple[float, ...] = ()
    theta: tuple[float, ...] = ()
    backend: str = ""
    queue_s: float = 0.0
    execution_s: float = 0.0
    cost: float | None = None
    cost_total: float | None = None
    calibration_age_s: float | None = None
    readout_error: float | None = None
    canary: dict[str, Any] | None = None
    validation: dict[str, Any] | None = None
    mitigation: dict[str, Any] | None = None

    def to_dict(self, *, with_gradient: bool = True) -> dict[str, Any]:
        """JSON-ready (``with_gradient=False`` drops the ``(P,)`` vectors)."""
        data = asdict(self)
        data["calibration_ids"] = list(self.calibration_ids)
        for name in _VECTORS:
            data[name] = list(getattr(self, name)) if with_gradient else []
        return data

    @staticmethod
    def from_dict(data: dict[str, Any]) -> StepRecord:
        """Inverse of :meth:`to_dict`.

        Raises:
            ConfigError: a missing or unknown field (a file from another version).
        """
        names = {f.name for f in fields(StepRecord)}
        required = {f.name for f in fields(StepRecord) if f.default is MISSING}
        if not required <= set(data) or not set(data) <= names:
            raise ConfigError(f"not a step record: fields {sorted(set(data) ^ names)} do not match")
        record = StepRecord(**data)
        vectors: dict[str, Any] = {
            name: tuple(float(x) for x in getattr(record, name)) for name in _VECTORS
        }
        return replace(record, calibration_ids=tuple(record.calibration_ids), **vectors)


def gradient_summary(
    gradient: NDArray[np.float64], stderr: NDArray[np.float64] | None
) -> tuple[float, float | None, float | None]:
    """``(‖g‖, stderr of ‖g‖, SNR)`` of a gradient estimate.

    The norm's standard error is first order, ``√Σ_k (g_k/‖g‖)² σ_k²``; the SNR compares the
    norm with its noise level ``√Σ_k σ_k²`` (at a true zero gradient ``E‖ĝ‖² = Σ σ_k²``, so
    an SNR near 1 or below means the estimate is noise).
    """
    norm = float(np.linalg.norm(gradient))
    if stderr is None:
        return norm, None, None
    noise = float(np.sqrt(np.sum(stderr**2)))
    if norm > 0:
        norm_err = float(np.sqrt(np.sum((gradient / norm) ** 2 * stderr**2)))
    else:
        norm_err = noise
    snr = norm / noise if noise > 0 else math.inf
    return norm, norm_err, snr


@dataclass(frozen=True, eq=False)
class FitResult:
    """The outcome of :func:`fit`.

    Attributes:
        theta: ``(P,)`` final parameters.
        history: one record per step (of every session of the run).
        stopped_by: ``max_steps``, ``max_shots``, ``max_seconds``, a stop rule's name,
            ``non_finite`` (an update produced NaN/inf: the step is recorded and charged, θ
            and the optimizer state are kept) or ``interrupted``.
        shots: total shots spent by the run.
        seconds: wall time of the run (all sessions).
        final_loss: the exact loss at ``theta`` when the backend is a simulator, else ``None``.
        summary: what ``summary.json`` says.
        run_dir: the run directory, if any.
    """

    theta: NDArray[np.float64]
    history: tuple[StepRecord, ...]
    stopped_by: str
    shots: int
    seconds: float
    final_loss: float | None
    summary: Mapping[str, Any] = field(default_factory=dict)
    run_dir: Path | None = None

    @property
    def steps(self) -> int:
        """Completed steps."""
        return len(self.history)

    def _rows(self) -> list[tuple[str, str]]:
        """The few lines a person reads first (what :meth:`__repr__` and the HTML show)."""
        last = self.history[-1] if self.history else None
        rows = [
            ("stopped by", self.stopped_by),
            ("steps", str(self.steps)),
            ("final loss", "-" if self.final_loss is None else f"{self.final_loss:.8g} (exact)"),
            (
                "last measured loss",
                "-" if last is None else value_with_error(last.loss, last.loss_stderr, 6),
            ),
            ("theta", vector(self.theta)),
            ("shots", f"{self.shots:,}"),
            ("seconds", number(self.seconds, 3)),
        ]
        if self.run_dir is not None:
            rows.append(("run dir", str(self.run_dir)))
        return rows

    def __repr__(self) -> str:
        return text_block(f"FitResult({self.steps} steps, θ {self.theta.shape})", self._rows())

    def _repr_html_(self) -> str:
        return html_table(f"FitResult: {self.steps} steps", self._rows())

    def plot(self, *, ax: Any = None) -> Any:
        """The measured loss against the step, with ±1 standard-error bars.

        Args:
            ax: a matplotlib ``Axes`` to draw on (default: a new figure).

        Returns:
            The matplotlib ``Figure``.

        Raises:
            ConfigError: matplotlib is not installed (``pip install 'qtrain[plot]'``).
        """
        from qtrain.train.figures import plot_history  # noqa: PLC0415 - optional matplotlib

        return plot_history(self.history, final_loss=self.final_loss, ax=ax)
