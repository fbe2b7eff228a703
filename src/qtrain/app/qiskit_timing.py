"""A Qiskit target's time per job, measured once on the target itself, for local targets only.

A circuit on Aer or a fake device (Aer with the device's noise) costs what Aer spends on it
after transpilation, which depends on the device, the circuit and the shots: no
machine-wide coefficient predicts it. ``qtrain plan`` therefore measures the run's own first
task on the run's own backend, cut to one and to a few parameter rows: a cold call
(transpiling every measurement basis: the run's warm-up), then the warm ones give seconds
per job and per row. The result is cached (``app.calibration.cache_dir``) under a digest
of the device, its options, the circuit, the observables and the shots, and the Qiskit and
machine versions. A training run only reads the cache, never probes: a probe on its backend
would send jobs the run did not ask for.

A real IBM device is never probed: its time is the provider's queue and execution, which
nobody here can predict; the plan says so (``unknown``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from qtrain.app.calibration import cache_dir, machine_key
from qtrain.app.plan_model import BackendPrice
from qtrain.app.probes import time_best
from qtrain.backends.protocol import Backend, Task
from qtrain.backends.qiskit import QiskitBackend

__all__ = ["qiskit_price"]

_PROBE_ROWS = 4


def _key(backend: QiskitBackend, task: Task) -> dict[str, str]:
    shots = task.shot_matrix()
    return {
        **machine_key("numpy"),
        "device": backend.name,
        "kind": backend.target.kind,
        "transpile": json.dumps(backend.transpile_options, sort_keys=True),
        "circuit": task.circuit.fingerprint(),
        "observables": ",".join(o.fingerprint() for o in task.observables),
        "shots": "exact" if shots is None else str(int(shots.max(initial=0))),
    }


def _path(key: dict[str, str]) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir() / f"qiskit-{digest}.json"


def _read(path: Path, key: dict[str, str]) -> dict[str, float] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    found = data.get("seconds")
    names = ("job", "row", "warmup")
    if not isinstance(found, dict) or not all(isinstance(found.get(n), float) for n in names):
        return None
    return {n: max(float(found[n]), 0.0) for n in names}


def _probe(backend: QiskitBackend, task: Task) -> dict[str, float]:
    """Seconds per job, per row of ``task``, and the first call's extra (transpiling)."""
    rows = min(_PROBE_ROWS, task.params.shape[0])
    shots = task.shot_matrix()

    def cut(n: int) -> Task:
        return replace(task, params=task.params[:n], shots=None if shots is None else shots[:n])

    one, several = cut(1), cut(rows)
    cold = time_best(lambda: backend.run([one]), repeats=1)
    single = time_best(lambda: backend.run([one]), repeats=2)
    multi = time_best(lambda: backend.run([several]), repeats=2) if rows > 1 else single
    row = max(multi - single, 0.0) / max(rows - 1, 1) if rows > 1 else 0.5 * single
    return {"job": max(single - row, 0.0), "row": row, "warmup": max(cold - single, 0.0)}


def qiskit_price(backend: Backend, tasks: Sequence[Task], *, probe: bool) -> BackendPrice | None:
    """The per-job model's price of ``tasks`` on a Qiskit target (``None``: not Qiskit).

    ``probe``: measure it now if it is not cached (``qtrain plan``); otherwise an unmeasured
    target is ``unknown``.
    """
    if not isinstance(backend, QiskitBackend):
        return None
    if backend.target.kind not in ("aer", "fake"):
        return BackendPrice(
            None,
            note=f"{backend.name} runs on a provider's device: queue and execution times are "
            "the provider's, not predictable here",
        )
    if not tasks:
        return BackendPrice(0.0)
    first = max(tasks, key=lambda t: t.params.shape[0])
    key = _key(backend, first)
    path = _path(key)
    found = _read(path, key)
    if found is None and not probe:
        return BackendPrice(None, note=f"{backend.name} not measured yet: run qtrain plan once")
    if found is None:
        found = _probe(backend, first)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"key": key, "seconds": found}), encoding="utf-8")
        except OSError:
            pass  # not cached: measured again next time
    groups = max(first.n_groups, 1)
    total = 0.0
    for task in tasks:
        share = task.n_groups / groups  # a row costs per circuit: one per measurement group
        total += found["job"] + found["row"] * task.params.shape[0] * share
    return BackendPrice(total, found["warmup"], note=f"{backend.name}: measured per-job model")
