"""Benchmark: exact ⟨Σ Z_i⟩ of the hardware-efficient ansatz, qtrain against its peers.

Circuit, per layer: RY(θ) on every wire, RZ(θ) on every wire, then CNOT(q, q+1) for
q = 0..n-2; ``P = 2·n·layers`` parameters, index ``l·2n + r·n + q`` (r = 0 for RY, 1 for RZ).
Observable ``Σ_i Z_i``. Sizes (n, layers): (4,2), (8,4), (12,6), (16,8), (20,10).

Two modes per size, each timed in this one process for every library that is installed:

* ``single``: one parameter vector ``θ (P,)``.
* ``batch``: 512 parameter rows ``(512, P)``. qtrain: one ``qt.expval`` call on all rows.
  PennyLane ``lightning.qubit``: a Python loop over a QNode (``lightning-loop``) and the same
  QNode called once with the ``(512, P)`` broadcast parameter (``lightning-bcast``, which
  PennyLane expands into 512 tapes). Qiskit Aer: one ``EstimatorV2`` job whose pub carries the
  ``(512, P)`` parameter array (exact, ``precision = 0``).

Every library's value for the same seeded θ is checked against qtrain to 1e-8 before timing,
and the batch outputs are compared row by row where they overlap. Times are the median of
several repeats after a warm-up. A batch call whose full 512 rows would take longer than the
per-call cap is timed on the first ``rows`` rows only and scaled by ``512 / rows``: such
entries are flagged ``extrapolated`` (``*`` in the table). qtrain's peak memory is the
``tracemalloc`` peak of one extra untimed call on the rows that were timed.

Run (peers optional: ``pip install -e '.[bench]'``; ``--libs qtrain`` for qtrain only)::

    python bench/bench_expval.py [--quick] [--json OUT] [--sizes 4,8,12] [--libs qtrain,aer]

Full mode takes about 5-10 min on 2 cores, ``--quick`` (fewer repeats, 5 s caps) about 2 min.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _results  # bench/_results.py: the meta block every result file carries
import numpy as np

try:
    import qtrain as qt
except ImportError:  # running from a checkout without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import qtrain as qt

try:  # peers are optional: pip install -e '.[bench]'
    import pennylane as qml
except ImportError:
    qml = None
try:
    from qiskit import QuantumCircuit
    from qiskit.circuit import ParameterVector
    from qiskit.quantum_info import SparsePauliOp
    from qiskit_aer.primitives import EstimatorV2
except ImportError:
    EstimatorV2 = None

SIZES = [(4, 2), (8, 4), (12, 6), (16, 8), (20, 10)]
BATCH = 512
SEED = 20261124
TOL = 1e-8
LIBS = ["qtrain", "lightning-loop", "lightning-bcast", "aer"]
PEERS = LIBS[1:]
Fn = Callable[[np.ndarray], Any]
DISTS = "qtrain numpy numba pennylane pennylane-lightning qiskit qiskit-aer".split()
CPU_KEYS = ["Model name", "CPU(s)", "Thread(s) per core", "L2 cache", "L3 cache"]
THREAD_VARS = (
    "OMP_NUM_THREADS OPENBLAS_NUM_THREADS OPENBLAS_CORETYPE MKL_NUM_THREADS NUMBA_NUM_THREADS "
    "NUMBA_THREADING_LAYER OMP_WAIT_POLICY QTRAIN_KERNELS QTRAIN_MEMORY_BUDGET"
).split()


def make_qtrain(n: int, layers: int) -> Fn:
    circuit = qt.ansatz.hardware_efficient(n, layers)
    obs = sum((qt.Z(i) for i in range(1, n)), qt.Z(0))
    assert circuit.n_params == 2 * n * layers

    def run(theta: np.ndarray) -> Any:
        return qt.expval(circuit, obs, theta)

    return run


def make_lightning(n: int, layers: int) -> tuple[Fn, Fn, Fn] | None:
    if qml is None:
        return None
    dev = qml.device("lightning.qubit", wires=n)
    obs = qml.sum(*(qml.Z(i) for i in range(n)))

    @qml.qnode(dev, diff_method=None)
    def circuit(theta: Any) -> Any:
        for layer in range(layers):
            base = 2 * n * layer
            for q in range(n):
                qml.RY(theta[..., base + q], wires=q)
            for q in range(n):
                qml.RZ(theta[..., base + n + q], wires=q)
            for q in range(n - 1):
                qml.CNOT(wires=[q, q + 1])
        return qml.expval(obs)

    def single(theta: np.ndarray) -> float:
        return float(circuit(theta))

    def loop(thetas: np.ndarray) -> np.ndarray:
        return np.array([float(circuit(row)) for row in thetas])

    def bcast(thetas: np.ndarray) -> np.ndarray:
        return np.asarray(circuit(thetas), dtype=float).reshape(-1)

    return single, loop, bcast


def make_aer(n: int, layers: int) -> tuple[Fn, Fn] | None:
    if EstimatorV2 is None:
        return None
    params = ParameterVector("t", 2 * n * layers)
    qc = QuantumCircuit(n)
    for layer in range(layers):
        base = 2 * n * layer
        for q in range(n):
            qc.ry(params[base + q], q)
        for q in range(n):
            qc.rz(params[base + n + q], q)
        for q in range(n - 1):
            qc.cx(q, q + 1)
    obs = SparsePauliOp.from_sparse_list([("Z", [i], 1.0) for i in range(n)], n)
    estimator = EstimatorV2()  # default options: exact (precision 0), automatic method

    def run(theta: np.ndarray) -> Any:
        evs = estimator.run([(qc, obs, theta)]).result()[0].data.evs
        return float(evs) if theta.ndim == 1 else np.asarray(evs, dtype=float)

    return run, run


def build(n: int, layers: int, wanted: set[str]) -> dict[str, dict[str, Fn]]:
    """Per library, ``{"single": fn(θ (P,)) -> float, "batch": fn(θ (B,P)) -> (B,)}``."""
    qtrain = make_qtrain(n, layers)
    libs: dict[str, dict[str, Fn]] = {"qtrain": {"single": qtrain, "batch": qtrain}}
    lightning = make_lightning(n, layers) if wanted & set(PEERS[:2]) else None
    if lightning is not None:
        single, loop, bcast = lightning
        libs["lightning-loop"] = {"single": single, "batch": loop}
        libs["lightning-bcast"] = {"batch": bcast}
    aer = make_aer(n, layers) if "aer" in wanted else None
    if aer is not None:
        libs["aer"] = {"single": aer[0], "batch": aer[1]}
    return {k: v for k, v in libs.items() if k in wanted or k == "qtrain"}


def peak_bytes(fn: Fn, arg: np.ndarray) -> int:
    """``tracemalloc`` peak of one (untimed) call; numpy reports its buffers to tracemalloc."""
    tracemalloc.start()
    fn(arg)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def cpu_seconds() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, CPU seconds of this process) so far."""
    with open("/proc/stat", encoding="ascii") as stat:
        ticks = [int(x) for x in stat.readline().split()[1:9]]
    busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    return busy, os.times().user + os.times().system


def repeat(fn: Fn, arg: np.ndarray, opts: argparse.Namespace) -> tuple[dict[str, Any], Any]:
    """Median of up to ``opts.repeats`` calls, stopping once ``opts.budget`` s are spent.

    ``foreign_cpu``: share of the machine's cores that *other* processes kept busy meanwhile
    (0 below 0.05 CPU-seconds, the clock-tick noise); above 0.1 a neighbour skews the timing.
    """
    times: list[float] = []
    busy0, own0 = cpu_seconds()
    while len(times) < opts.repeats and sum(times) <= opts.budget:
        t0 = time.perf_counter()
        out = fn(arg)
        times.append(time.perf_counter() - t0)
    busy1, own1 = cpu_seconds()
    foreign = max(0.0, (busy1 - busy0) - (own1 - own0))
    share = foreign / (sum(times) * (os.cpu_count() or 1)) if foreign >= 0.05 else 0.0
    return {"median_s": statistics.median(times), "times_s": times, "foreign_cpu": share}, out


def check_agreement(libs: dict[str, dict[str, Fn]], thetas: np.ndarray) -> dict[str, Any]:
    """Every library against qtrain on θ = row 0 (this is also each single-mode warm-up)."""
    ref = float(libs["qtrain"]["single"](thetas[0]))
    diffs: dict[str, float] = {}
    for name, fns in libs.items():
        if name != "qtrain" and "single" in fns:
            diffs[name] = abs(float(fns["single"](thetas[0])) - ref)
    if "lightning-bcast" in libs:  # no single mode of its own: compare 2 broadcast rows
        two = libs["lightning-bcast"]["batch"](thetas[:2])
        diffs["lightning-bcast"] = float(np.max(np.abs(two - libs["qtrain"]["batch"](thetas[:2]))))
    return {"value_row0": ref, "max_abs_diff": diffs}


def time_batch(name: str, fn: Fn, thetas: np.ndarray, per_row: float, opts: argparse.Namespace):
    """Batch timing: a pilot on ``k`` rows sets how many rows fit the cap; scaled to 512."""
    k = max(1, min(8, int(opts.cap / (4 * per_row))))
    t0 = time.perf_counter()
    fn(thetas[:k])  # pilot, also the batch-path warm-up
    pilot = (time.perf_counter() - t0) / k
    rows = BATCH if pilot * BATCH <= opts.cap else min(BATCH, max(2, int(opts.cap / pilot)))
    rec, out = repeat(fn, thetas[:rows], opts)
    rec |= {"rows_timed": rows, "extrapolated": rows < BATCH, "pilot_s_per_row": pilot}
    rec["median_s_512"] = rec["median_s"] * BATCH / rows
    if name == "qtrain":  # untimed, same rows as timed
        rec["tracemalloc_peak_bytes"] = peak_bytes(fn, thetas[:rows])
    return rec, np.asarray(out, dtype=float)


def bench_size(n: int, layers: int, opts: argparse.Namespace) -> dict[str, Any]:
    rng = np.random.default_rng([SEED, n, layers])
    thetas = rng.uniform(-np.pi, np.pi, size=(BATCH, 2 * n * layers))
    libs = build(n, layers, opts.libs)
    check = check_agreement(libs, thetas)
    failed = {k: v for k, v in check["max_abs_diff"].items() if not v <= TOL}
    entry: dict[str, Any] = {"n": n, "layers": layers, "params": 2 * n * layers, "libs": {}}
    entry |= {"value_row0": check["value_row0"], "max_abs_diff_vs_qtrain": check["max_abs_diff"]}
    single: dict[str, float] = {}
    for name, fns in libs.items():
        if "single" in fns:
            rec = repeat(fns["single"], thetas[0], opts)[0]
            entry["libs"].setdefault(name, {})["single"] = rec
            single[name] = rec["median_s"]
    q_single = entry["libs"]["qtrain"]["single"]
    q_single["tracemalloc_peak_bytes"] = peak_bytes(libs["qtrain"]["single"], thetas[0])
    outputs = {}
    for name, fns in libs.items():
        per_row = single.get(name, single.get("lightning-loop", 1.0))
        rec, outputs[name] = time_batch(name, fns["batch"], thetas, per_row, opts)
        entry["libs"].setdefault(name, {})["batch"] = rec
    q_out = outputs["qtrain"]
    batch_diff = {}
    for name, out in outputs.items():  # rows that both timed calls computed
        k = min(len(out), len(q_out))
        if name != "qtrain":
            batch_diff[name] = float(np.max(np.abs(out[:k] - q_out[:k])))
            if not batch_diff[name] <= TOL:
                failed[f"{name} (batch)"] = batch_diff[name]
    entry["batch_max_abs_diff_vs_qtrain"] = batch_diff
    if failed:
        entry["agreement_failed"] = failed
        print(f"  !! n={n}: values differ from qtrain by > {TOL}: {failed}", file=sys.stderr)
    return entry


def qtrain_kernels() -> str | None:
    """Module of the kernel set qtrain resolves to (internal API: best effort, may be absent)."""
    try:
        statevector = importlib.import_module("qtrain.sim.statevector")
        return str(statevector.select_kernels().__name__)
    except Exception:
        return None


def environment() -> dict[str, Any]:
    versions = {}
    for dist in DISTS:
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = getattr(qt, "__version__", None) if dist == "qtrain" else None
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        cpu = {
            k.strip(): v.strip()
            for k, v in (ln.split(":", 1) for ln in lscpu.splitlines() if ":" in ln)
        }
    except OSError:
        cpu = {}
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "cpu": {k: cpu.get(k) for k in CPU_KEYS},
        "avx2": "avx2" in cpu.get("Flags", ""),
        "avx512f": "avx512f" in cpu.get("Flags", ""),
        "cpu_count": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "thread_env": {k: os.environ.get(k) for k in THREAD_VARS},
        "qtrain_kernels": qtrain_kernels(),
        "numba_threads": sys.modules["numba"].get_num_threads() if "numba" in sys.modules else None,
        "mem_total_gib": round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30, 1),
    }


NOTES = """
(×) = peer time / qtrain time (> 1: qtrain faster). * = timed on the first `rows` rows and
scaled linearly to 512. ! = other processes used > 10 % of the machine meanwhile (noisy).
qtrain peak = tracemalloc peak of one qt.expval call (rows in brackets when a subset)."""


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def fmt_bytes(count: int) -> str:
    return f"{count / 2**10:.0f} KiB" if count < 2**20 else f"{count / 2**20:.1f} MiB"


def cell(rec: dict[str, Any], key: str) -> str:
    flags = ("*" if rec.get("extrapolated") else "") + ("!" if rec["foreign_cpu"] > 0.1 else "")
    return fmt_time(rec[key]) + flags


def table(results: list[dict[str, Any]]) -> str:
    head = ["n", "L", "rows", "qtrain", *(f"{p} (×)" for p in PEERS), "qtrain peak"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for entry in results:
        for mode, key in (("single", "median_s"), ("batch", "median_s_512")):
            q = entry["libs"]["qtrain"][mode]
            cells = [str(entry["n"]), str(entry["layers"]), "1" if mode == "single" else "512"]
            cells.append(cell(q, key))
            for peer in PEERS:
                rec = entry["libs"].get(peer, {}).get(mode)
                cells.append("-" if rec is None else f"{cell(rec, key)} ({rec[key] / q[key]:.2f})")
            cells.append(fmt_bytes(q["tracemalloc_peak_bytes"]))
            if mode == "batch" and q["extrapolated"]:
                cells[-1] += f" ({q['rows_timed']} rows)"
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(results: list[dict[str, Any]]) -> list[str]:
    """Targets: (a) batch at n ≤ 12 ≥ 3× faster than the lightning loop; (b) n=20 single ≤ 2×."""
    out = []
    for entry in results:
        q, lq, n = entry["libs"]["qtrain"], entry["libs"].get("lightning-loop"), entry["n"]
        if lq is not None and n <= 12:
            ratio = lq["batch"]["median_s_512"] / q["batch"]["median_s_512"]
            verdict = "MET" if ratio >= 3 else "MISSED"
            out.append(f"(a) n={n} batch: lightning-loop / qtrain = {ratio:.2f} (≥ 3): {verdict}")
        if lq is not None and n == 20:
            ratio = q["single"]["median_s"] / lq["single"]["median_s"]
            verdict = "MET" if ratio <= 2 else "MISSED"
            out.append(f"(b) n=20 single: qtrain / lightning = {ratio:.2f} (≤ 2): {verdict}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, tighter caps")
    parser.add_argument("--json", type=Path, help="write all results to this file")
    parser.add_argument("--sizes", help="comma-separated n to run, e.g. 4,8,12 (default all)")
    parser.add_argument("--libs", default=",".join(LIBS), help=f"subset of {','.join(LIBS)}")
    opts = parser.parse_args(argv)
    opts.libs = set(opts.libs.split(","))
    # cap: longest batch call timed in full; budget: seconds of repeats per measurement.
    opts.repeats, opts.cap, opts.budget = (3, 5.0, 5.0) if opts.quick else (7, 8.0, 20.0)
    wanted = {int(s) for s in opts.sizes.split(",")} if opts.sizes else None
    env = environment()
    print(json.dumps(env, indent=1, ensure_ascii=False))
    started = time.perf_counter()
    results = []
    for n, layers in SIZES:
        if wanted is not None and n not in wanted:
            continue
        t0 = time.perf_counter()
        results.append(bench_size(n, layers, opts))
        print(f"n={n:2d} L={layers:2d} done in {time.perf_counter() - t0:.1f} s", flush=True)
    total = time.perf_counter() - started
    print()
    print(table(results))
    print(NOTES)
    verdicts = targets(results)
    print("\n".join(verdicts))
    failed = [e["n"] for e in results if "agreement_failed" in e]
    print(f"agreement to {TOL}: " + ("FAILED for n=" + str(failed) if failed else "all passed"))
    print(f"total {total:.0f} s")
    if opts.json:
        settings = {"repeats": opts.repeats, "cap_s": opts.cap, "budget_s": opts.budget}
        payload = {"mode": "quick" if opts.quick else "full", "batch_rows": BATCH, "seed": SEED}
        payload |= {"tolerance": TOL, **settings, "environment": env, "results": results}
        payload |= {"targets": verdicts, "total_s": total}
        _results.write(opts.json, payload)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
