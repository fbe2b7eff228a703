"""``RunLogger``: a torch training loop's steps in a qtrain run folder's ``metrics.jsonl``.

Each :meth:`RunLogger.log` appends one :class:`~qtrain.train.records.StepRecord` line
through qtrain's :class:`~qtrain.train.tracking.JsonlTracker` (one write, ``fsync``), so
``read_metrics`` and the run tools read a torch loop's folder like a ``qt.fit`` run's. The
record holds what a torch loop knows; fields it cannot know are left at their "not measured"
values:

* ``loss`` (and ``loss_stderr`` when given), ``learning_rate`` (the optimizer's first
  parameter group), ``grad_norm`` (the 2-norm of every ``.grad`` of the model, classical
  parameters included; no stderr, no SNR);
* ``shots``, ``circuits`` (rows) spent by the model's :class:`QuantumLayer` s since the last
  record, ``retries``, ``failures`` and ``cached`` rows of their executors, the layers'
  ``method`` and ``backend``;
* ``seconds`` since the last record, ``elapsed`` since the logger started;
* ``gradient``, ``theta`` and their stderr stay empty (a torch model's parameters are not one
  ``(P,)`` vector).

Resuming a loop from step ``k`` (its state dicts saved after step ``k - 1``):
``RunLogger(run_dir, model, resume_step=k)`` first drops the records of steps ``≥ k``
that a crash left behind, so the file again has one record per step, and continues
``shots_total`` from the last record kept.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from qtrain.errors import ConfigError
from qtrain.exec.executor import Executor
from qtrain.torch.layer import QuantumLayer
from qtrain.train.history import read_metrics, truncate_metrics
from qtrain.train.records import StepRecord
from qtrain.train.tracking import JsonlTracker

__all__ = ["RunLogger"]

_COUNTERS = ("retried", "failed", "cached")


class RunLogger:
    """Step records of a torch loop in ``run_dir/metrics.jsonl``.

    Args:
        run_dir: the run folder (created if missing).
        model: the model whose gradients and quantum layers are reported.
        resume_step: drop the records of steps ``≥ resume_step`` first (see the module).

    >>> import tempfile, torch
    >>> import qtrain as qt
    >>> from qtrain.torch import QuantumLayer
    >>> layer = QuantumLayer(qt.Circuit(1).rx(0, qt.P(0)), qt.Z(0), input_params=[],
    ...                      weight_params=[0], weights=[0.5])
    >>> folder = tempfile.mkdtemp()
    >>> with RunLogger(folder, layer) as logger:
    ...     loss = layer(torch.zeros(1, 0)).sum()
    ...     loss.backward()
    ...     record = logger.log(0, loss)
    >>> record.circuits, round(record.grad_norm, 6), record.method
    (1, 0.479426, 'adjoint')
    """

    def __init__(
        self, run_dir: str | Path, model: nn.Module, *, resume_step: int | None = None
    ) -> None:
        if not isinstance(model, nn.Module):
            raise ConfigError(f"RunLogger needs the torch model, got {type(model).__name__}")
        self.directory = Path(run_dir)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.model = model
        path = self.directory / "metrics.jsonl"
        kept: list[StepRecord] = []
        if resume_step is not None:
            kept = [r for r in read_metrics(path) if r.step < resume_step]
            truncate_metrics(path, len(kept))
        self.tracker = JsonlTracker(path)
        self.tracker.start({})
        self._start = self._last = time.perf_counter()
        self._seen = self._totals()
        self._shots_total = kept[-1].shots_total if kept else 0

    def _layers(self) -> list[QuantumLayer]:
        return [m for m in self.model.modules() if isinstance(m, QuantumLayer)]

    def _executors(self) -> list[Executor]:
        found: dict[int, Executor] = {}
        for layer in self._layers():
            found.setdefault(id(layer.evaluator.executor), layer.evaluator.executor)
        return list(found.values())

    def _totals(self) -> dict[str, int]:
        totals = {"shots": 0, "rows": 0, **dict.fromkeys(_COUNTERS, 0)}
        for layer in self._layers():
            totals["shots"] += layer.shots_spent
            totals["rows"] += layer.rows_spent
        for executor in self._executors():
            for name in _COUNTERS:
                totals[name] += int(getattr(executor.counters, name))
        return totals

    def _grad_norm(self) -> float:
        squares = [
            float((p.grad.detach().double() ** 2).sum())
            for p in self.model.parameters()
            if p.grad is not None
        ]
        return float(np.sqrt(sum(squares)))

    def log(
        self,
        step: int,
        loss: float | torch.Tensor,
        *,
        optimizer: torch.optim.Optimizer | None = None,
        loss_stderr: float | None = None,
    ) -> StepRecord:
        """Append the record of ``step`` (call it after ``backward``) and return it."""
        now = time.perf_counter()
        totals = self._totals()
        spent = {key: totals[key] - self._seen[key] for key in totals}
        self._seen, self._shots_total = totals, self._shots_total + spent["shots"]
        layers = self._layers()
        rate = float(optimizer.param_groups[0]["lr"]) if optimizer is not None else 0.0
        record = StepRecord(
            step=int(step),
            loss=float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss),
            loss_stderr=loss_stderr,
            grad_norm=self._grad_norm(),
            grad_norm_stderr=None,
            grad_snr=None,
            learning_rate=rate,
            shots=spent["shots"],
            shots_total=self._shots_total,
            circuits=spent["rows"],
            retries=spent["retried"],
            failures=spent["failed"],
            cached=spent["cached"],
            seconds=now - self._last,
            elapsed=now - self._start,
            method=",".join(sorted({layer.method for layer in layers})),
            backend=",".join(sorted({e.name for e in self._executors()})),
        )
        self._last = now
        self.tracker.log(record)
        return record

    def close(self) -> None:
        """Close the file."""
        self.tracker.close()

    def __enter__(self) -> RunLogger:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
