"""Benchmark: the full gradient of ⟨Σ Z_i⟩ (hardware-efficient ansatz), qtrain against its peers.

Per layer RY(θ), RZ(θ) on every wire, then CNOT(q, q+1); P = 2·n·layers, index l·2n + r·n + q.
Exact and at 1000 shots per circuit; qtrain, lightning.qubit, default.qubit (backprop) and Aer.
Every gradient is checked against qtrain's adjoint, then timed (median after a warm-up); past
the cap a method is timed at fewer layers and scaled (*). qtrain's kernels (they set
OMP_WAIT_POLICY=PASSIVE) load first, so every OpenMP runtime sees one policy;
--peers-omp-unset loads the peers' runtimes first, unset. See bench/README.md and
docs/performance.md for the methods, the checks and the extrapolation.

    python bench/bench_grad.py --quick                              # about 3 min on 2 cores
    python bench/bench_grad.py --json bench/results/grad-full.json  # about 12 min
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import _results  # bench/_results.py: the meta block every result file carries
import numpy as np

try:
    import qtrain as qt
except ImportError:  # running from a checkout without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import qtrain as qt

SIZES = [(4, 2), (8, 4), (12, 6), (16, 8), (20, 10)]
SEED, SHOTS, SHOT_SEED, TOL, Z_MAX, PILOT_N, CAP_20 = 20261124, 1000, 1, 1e-8, 5.0, 16, 10.0
S = f"@{SHOTS}"  # suffix of the sampled methods
EXACT = ["qtrain-ps", "qtrain-adj", "lightning-ps", "aer-ps", "lightning-adj", "dq-backprop"]
SAMPLED = [f"qtrain-ps{S}", f"lightning-ps{S}", f"aer-sampler{S}"]
KINDS = ("ps", "adj", "expval")
DISTS = "qtrain numpy numba pennylane pennylane-lightning qiskit qiskit-aer".split()
ENV_VARS = "OMP_WAIT_POLICY OMP_NUM_THREADS NUMBA_NUM_THREADS GOMP_SPINCOUNT QTRAIN_KERNELS".split()
OMP_AT_START = os.environ.get("OMP_WAIT_POLICY")  # before qtrain's kernels set their default
PEER: dict[str, Any] = {}  # peer modules, filled by load_libraries()
REF: dict[tuple[int, int], np.ndarray] = {}  # exact gradient (qtrain adjoint) per (n, layers)
STDERR: dict[tuple[int, int], np.ndarray] = {}  # qtrain's 1000-shot standard errors


class Out(NamedTuple):
    value: np.ndarray  # (P,)
    stderr: np.ndarray | None = None
    circuits: int | None = None  # circuits run (PennyLane: counted only when tracked)


Fn = Callable[..., Out]  # fn(theta, track=False)


class Method(NamedTuple):
    order: int  # cost ∝ layers**order: 2 for shift rules (rows × depth), 1 otherwise
    baseline: str  # the qtrain method its ratio is taken against
    make: Callable[[int, int], Fn]


def qtrain_kernels() -> str:
    """Load qtrain's kernel set now (internal API; this sets OMP_WAIT_POLICY) and name it."""
    return str(importlib.import_module("qtrain.sim.statevector").select_kernels().__name__)


def load_libraries(peers_unset: bool) -> None:
    """qtrain's kernels first (default), or the peers' OpenMP runtimes first, variable unset."""
    if peers_unset:
        os.environ.pop("OMP_WAIT_POLICY", None)
    else:
        qtrain_kernels()
    for key in "pennylane pennylane.numpy qiskit.circuit qiskit.quantum_info qiskit_aer".split():
        with contextlib.suppress(ImportError):
            PEER[key] = importlib.import_module(key if key != "qiskit_aer" else f"{key}.primitives")
    with contextlib.suppress(Exception):  # lightning's OpenMP runtime loads with its first device
        PEER["pennylane"].device("lightning.qubit", wires=1)
    qtrain_kernels()


def thetas_for(n: int, layers: int) -> np.ndarray:
    return np.random.default_rng([SEED, n, layers]).uniform(-np.pi, np.pi, 2 * n * layers)


def ansatz(n: int, layers: int) -> list[tuple[str, int, int]]:  # (gate, index or target, wire)
    ops = []
    for base in range(0, 2 * n * layers, 2 * n):
        ops += [("RY", base + q, q) for q in range(n)] + [("RZ", base + n + q, q) for q in range(n)]
        ops += [("cx", q + 1, q) for q in range(n - 1)]
    return ops


def make_qtrain(method: str, shots: int | None, n: int, layers: int) -> Fn:
    circuit = qt.ansatz.hardware_efficient(n, layers)
    obs, seed = sum((qt.Z(i) for i in range(1, n)), qt.Z(0)), SHOT_SEED if shots else None

    def run(theta: np.ndarray, track: bool = False) -> Out:
        g = qt.grad(circuit, obs, theta, method=method, shots=shots, seed=seed)
        err = None if g.stderr is None else np.asarray(g.stderr, dtype=float)
        return Out(np.asarray(g.value, dtype=float), err, g.n_circuits)

    return run


def make_pennylane(device: str, diff_method: str, shots: int | None, n: int, layers: int) -> Fn:
    qml = PEER["pennylane"]
    dev = qml.device(device, wires=n, **({"seed": SHOT_SEED} if shots else {}))
    obs = qml.sum(*(qml.Z(i) for i in range(n)))

    def body(theta: Any) -> Any:
        for gate, k, q in ansatz(n, layers):
            _ = qml.CNOT([q, k]) if gate == "cx" else getattr(qml, gate)(theta[k], wires=q)
        return qml.expval(obs)

    qnode = qml.QNode(body, dev, diff_method=diff_method)
    gradient = qml.grad(qml.set_shots(qnode, shots=shots) if shots else qnode)

    def run(theta: np.ndarray, track: bool = False) -> Out:
        with qml.Tracker(dev) if track else contextlib.nullcontext() as tracker:
            value = gradient(PEER["pennylane.numpy"].array(theta, requires_grad=True))
        count = tracker.totals.get("executions") if track else None
        return Out(np.asarray(value, dtype=float).reshape(-1), None, count)

    return run


def aer_circuit(n: int, layers: int) -> tuple[Any, Any]:
    params = PEER["qiskit.circuit"].ParameterVector("t", 2 * n * layers)
    qc = PEER["qiskit.circuit"].QuantumCircuit(n)
    for gate, k, q in ansatz(n, layers):
        _ = qc.cx(q, k) if gate == "cx" else getattr(qc, gate.lower())(params[k], q)
    terms = [("Z", [i], 1.0) for i in range(n)]
    return qc, PEER["qiskit.quantum_info"].SparsePauliOp.from_sparse_list(terms, n)


def make_aer(sampled: bool, n: int, layers: int) -> Fn:
    qc, obs = aer_circuit(n, layers)
    if sampled:
        qc.measure_all()  # register "meas"
    sampler = PEER["qiskit_aer"].SamplerV2(default_shots=SHOTS, seed=SHOT_SEED)
    estimator = PEER["qiskit_aer"].EstimatorV2()  # default: exact values (precision 0)

    def run(theta: np.ndarray, track: bool = False) -> Out:
        eye = (np.pi / 2) * np.eye(theta.size)  # rows θ, θ + π/2·e_k, θ - π/2·e_k
        rows = np.vstack([theta[None, :], theta + eye, theta - eye])
        if sampled:  # ⟨Σ Z⟩ = n - 2·(mean count of ones): 50× faster than expectation_values
            bits = sampler.run([(qc, rows)]).result()[0].data.meas  # BitArray (rows,)
            ones = np.bitwise_count(bits.array).sum(axis=(-2, -1), dtype=np.int64)
            values = n - 2.0 * ones / bits.num_shots
        else:
            values = estimator.run([(qc, obs, rows)]).result()[0].data.evs
        values, p = np.asarray(values, dtype=float), theta.size
        return Out(0.5 * (values[1 : p + 1] - values[p + 1 :]), None, rows.shape[0])

    return run


def registry() -> dict[str, Method]:
    ps, adj, ps_s, lq = "qtrain-ps", "qtrain-adj", f"qtrain-ps{S}", "lightning.qubit"
    out = {
        ps: Method(2, ps, partial(make_qtrain, "param-shift", None)),
        adj: Method(1, adj, partial(make_qtrain, "adjoint", None)),
        ps_s: Method(2, ps_s, partial(make_qtrain, "param-shift", SHOTS)),
    }
    if "pennylane" in PEER:
        out["lightning-ps"] = Method(2, ps, partial(make_pennylane, lq, "parameter-shift", None))
        out["lightning-adj"] = Method(1, adj, partial(make_pennylane, lq, "adjoint", None))
        dq = partial(make_pennylane, "default.qubit", "backprop", None)
        out["dq-backprop"] = Method(1, adj, dq)
        ps_shots = partial(make_pennylane, lq, "parameter-shift", SHOTS)
        out[f"lightning-ps{S}"] = Method(2, ps_s, ps_shots)
    if {"qiskit_aer", "qiskit.circuit", "qiskit.quantum_info"} <= PEER.keys():
        out["aer-ps"] = Method(2, ps, partial(make_aer, False))
        out[f"aer-sampler{S}"] = Method(2, ps_s, partial(make_aer, True))
    return out


def cpu_seconds() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, CPU seconds of this process) so far."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK"), sum(os.times()[:2])


def repeat(fn: Fn, theta: np.ndarray, repeats: int, budget: float) -> dict[str, Any]:
    """Median of ≤ `repeats` calls in `budget` s; `foreign_cpu`: share used by other processes."""
    times: list[float] = []
    busy0, own0 = cpu_seconds()
    while len(times) < repeats and sum(times) <= budget:
        t0 = time.perf_counter()
        fn(theta)
        times.append(time.perf_counter() - t0)
    busy1, own1 = cpu_seconds()
    foreign = max(0.0, (busy1 - busy0) - (own1 - own0))
    share = foreign / (sum(times) * (os.cpu_count() or 1)) if foreign >= 0.05 else 0.0
    return {"median_s": statistics.median(times), "times_s": times, "foreign_cpu": share}


def first_call(key: str, fn: Fn, n: int, layers: int, methods: dict[str, Method]) -> dict:
    """The check call, also the warm-up: agreement with the exact gradient, circuits run."""
    theta = thetas_for(n, layers)
    t0 = time.perf_counter()
    out = fn(theta, track=True)
    rec = {"first_call_s": time.perf_counter() - t0, "circuits": out.circuits}
    if (n, layers) not in REF:
        REF[n, layers] = methods["qtrain-adj"].make(n, layers)(theta).value
    rec["max_abs_diff"] = float(np.max(np.abs(out.value - REF[n, layers])))
    rec["agrees"] = rec["max_abs_diff"] <= TOL
    if key.endswith(S):
        if key.startswith("qtrain"):
            STDERR[n, layers] = out.stderr
        elif (n, layers) not in STDERR:
            STDERR[n, layers] = methods[f"qtrain-ps{S}"].make(n, layers)(theta).stderr
        z = (out.value - REF[n, layers]) / np.maximum(STDERR[n, layers], 1e-12)
        rec |= {"max_abs_z": float(np.max(np.abs(z))), "rms_z": float(np.sqrt(np.mean(z**2)))}
        rec["agrees"] = rec["max_abs_z"] <= Z_MAX
    return rec


def measure(key: str, n: int, layers: int, methods: dict[str, Method], opts: Any) -> dict:
    """Check, warm up and time one method at (n, layers), or at fewer layers past the cap."""
    method, cap = methods[key], opts.cap if n < 20 else min(opts.cap, CAP_20)
    timed, pilot = layers, None
    if n >= PILOT_N:
        fn = method.make(n, 1)
        rec = first_call(key, fn, n, 1, methods)
        pilot = rec["first_call_s"]
        if pilot * layers**method.order > cap:
            timed = max(1, min(layers - 1, int((cap / pilot) ** (1 / method.order))))
    if pilot is None or timed > 1:
        fn = method.make(n, timed)
        rec = first_call(key, fn, n, timed, methods)
    rec |= repeat(fn, thetas_for(n, timed), opts.repeats, min(opts.budget, cap))
    scale = (layers / timed) ** method.order
    rec |= {"layers_timed": timed, "pilot_1_layer_s": pilot, "extrapolated": timed < layers}
    return rec | {"time_s": rec["median_s"] * scale, "scale": scale}


def bench_size(n: int, layers: int, methods: dict[str, Method], opts: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"n": n, "layers": layers, "params": 2 * n * layers, "methods": {}}
    for key in [k for k in opts.methods if k in methods]:
        t0 = time.perf_counter()
        rec = entry["methods"][key] = measure(key, n, layers, methods, opts)
        rec["wall_s"] = time.perf_counter() - t0
        flag = "" if rec["agrees"] else "  !! DISAGREES with qtrain's adjoint"
        print(f"  n={n} L={layers} {key} {cell(rec)} L'={rec['layers_timed']}{flag}", flush=True)
        entry.setdefault("agreement_failed", []).extend([] if rec["agrees"] else [key])
    return entry


def sweep(opts: Any, methods: dict[str, Method]) -> list[dict[str, Any]]:
    """qtrain exact param-shift, adjoint and one expval over P (n = 12) and n (L = 4)."""
    points = [(12, layers) for layers in range(1, 9)]
    points += [(n, 4) for n in range(4, 17 if opts.quick else 19, 2) if n != 12]
    out = []
    for n, layers in points:
        theta, circuit = thetas_for(n, layers), qt.ansatz.hardware_efficient(n, layers)
        obs = sum((qt.Z(i) for i in range(1, n)), qt.Z(0))
        fns = {k: methods[f"qtrain-{k}"].make(n, layers) for k in ("ps", "adj")}
        fns["expval"] = lambda th, c=circuit, o=obs: qt.expval(c, o, th)
        rec: dict[str, Any] = {"n": n, "layers": layers, "params": theta.size}
        for name, fn in fns.items():
            fn(theta)  # warm-up
            rec[name] = repeat(fn, theta, opts.repeats, 3.0 if opts.quick else 8.0)
        out.append(rec)
        times = ", ".join(f"{k} {cell(rec[k], 'median_s')}" for k in fns)
        print(f"  sweep n={n} L={layers}: {times}", flush=True)
    return out


def environment(opts: Any) -> dict[str, Any]:
    found = {d.name.replace("_", "-"): d.version for d in importlib.metadata.distributions()}
    versions = {k: found.get(k) for k in DISTS} | {"qtrain": getattr(qt, "__version__", None)}

    def sh(*cmd: str) -> str:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()

    cpu = dict(ln.split(":", 1) for ln in sh("lscpu").splitlines() if ":" in ln)
    git = ["git", "-C", str(Path(__file__).resolve().parents[1])]
    omp = os.environ.get("OMP_WAIT_POLICY")
    return {
        "python": platform.python_version(), "platform": platform.platform(),
        "versions": versions, "qtrain_commit": sh(*git, "log", "-1", "--format=%h %s"),
        "src_uncommitted_changes": sh(*git, "status", "--porcelain", "src").splitlines(),
        "cpu": cpu.get("Model name", "").strip(), "cpu_count": os.cpu_count(),
        "env": {k: os.environ.get(k) for k in ENV_VARS}, "OMP_WAIT_POLICY_at_start": OMP_AT_START,
        "OMP_WAIT_POLICY_peers_loaded_with": None if opts.peers_omp_unset else omp,
        "qtrain_kernels": qtrain_kernels(),
        "numba_threads": sys.modules["numba"].get_num_threads() if "numba" in sys.modules else None,
    }  # fmt: skip


def md(cells: list[Any]) -> str:
    return "| " + " | ".join(map(str, cells)) + " |"


def cell(rec: dict[str, Any], key: str = "time_s") -> str:
    text = f"{rec[key] * 1e3:.1f} ms" if rec[key] < 1 else f"{rec[key]:.2f} s"
    flags = ("*" if rec.get("extrapolated") else "") + ("!" if rec["foreign_cpu"] > 0.1 else "")
    return text + flags


def table(results: list[dict[str, Any]], cols: list[str], methods: dict[str, Method]) -> str:
    cols = [c for c in cols if c in methods]
    head = ["n", "L", "P", *(c if c.startswith("qtrain") else f"{c} (×)" for c in cols)]
    lines = [md(head), "|---" * len(head) + "|"]
    for entry in results:
        recs, cells = entry["methods"], [entry["n"], entry["layers"], entry["params"]]
        for key in cols:
            base = recs.get(methods[key].baseline) if not key.startswith("qtrain") else None
            ratio = f" ({recs[key]['time_s'] / base['time_s']:.2f})" if base and key in recs else ""
            cells.append(cell(recs[key]) + ratio if key in recs else "-")
        lines.append(md(cells))
    return "\n".join(lines)


def targets(results: list[dict[str, Any]]) -> list[str]:
    """PS ≥ 10× lightning, ≥ 2× Aer at n ≤ 12, ≥ 2× both at 16; adjoint ≤ 1.5× lightning's."""
    out = []
    for entry in (e for e in results if e["n"] <= 16):
        n, recs, ps_s = entry["n"], entry["methods"], f"qtrain-ps{S}"
        star = "*" if any(r["extrapolated"] for r in recs.values()) else ""
        for peer, base, need in [
            ("lightning-ps", "qtrain-ps", 10 if n <= 12 else 2), ("aer-ps", "qtrain-ps", 2),
            (f"lightning-ps{S}", ps_s, 10 if n <= 12 else 2), (f"aer-sampler{S}", ps_s, 2),
            ("lightning-adj", "qtrain-adj", 1 / 1.5),
        ]:  # fmt: skip
            if peer in recs and base in recs:
                r = recs[peer]["time_s"] / recs[base]["time_s"]
                verdict = "MET" if r >= need else "MISSED"
                out.append(f"n={n}{star}: {peer} / {base} = {r:.2f} (need ≥ {need:.3g}): {verdict}")
    return out


def report(results: list[Any], points: list[Any], methods: dict[str, Method]) -> None:
    print("\nExact gradient, median; (×) = peer time / qtrain time, > 1: qtrain faster")
    print(table(results, EXACT, methods) + f"\n\nGradient at {SHOTS} shots per circuit, median")
    print(table(results, SAMPLED, methods))
    print("PS peers vs qtrain-ps, adjoint and backprop vs qtrain-adj, sampled vs qtrain-ps@1000.")
    print("* timed at L' layers and scaled by (L/L')^k; ! > 10 % of the CPU used by others")
    for entry in results:
        for key, rec in entry["methods"].items():
            if rec["extrapolated"]:
                print(f"  * ({entry['n']},{entry['layers']}) {key}: {cell(rec, 'median_s')} at"
                      f" L' = {rec['layers_timed']} × {rec['scale']:.3g}")  # fmt: skip
    head = ["n", "L", "P", "param-shift", "adjoint", "expval (1 θ)", "ps/expval", "adj/expval"]
    lines = ["\nqtrain exact gradient vs P and n, median", md(head), "|---" * len(head) + "|"]
    for p in points:
        ps, adj, ev = (p[k]["median_s"] for k in KINDS)
        cells = [p["n"], p["layers"], p["params"], *(cell(p[k], "median_s") for k in KINDS)]
        lines.append(md([*cells, f"{ps / ev:.1f}", f"{adj / ev:.1f}"]))
    print("\n".join(lines) if points else "")
    print("\n" + "\n".join(targets(results)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats, 6 s caps, n ≤ 16")
    parser.add_argument("--json", type=Path, help="write all results to this file")
    parser.add_argument("--sizes", help="comma-separated n, e.g. 4,8,12 (default: all)")
    parser.add_argument("--methods", default=",".join(EXACT + SAMPLED), help="comma-separated")
    parser.add_argument("--cap", type=float, help="longest call timed as is, s (60; quick 6)")
    parser.add_argument("--repeats", type=int, help="timed calls per measurement (5; quick 3)")
    parser.add_argument("--no-sweep", dest="sweep", action="store_false")
    parser.add_argument("--peers-omp-unset", action="store_true", help="peers load OpenMP first")
    opts = parser.parse_args(argv)
    load_libraries(opts.peers_omp_unset)
    opts.cap = opts.cap or (6.0 if opts.quick else 60.0)
    opts.repeats = opts.repeats or (3 if opts.quick else 5)
    opts.budget = 6.0 if opts.quick else 20.0  # seconds of timed repeats per measurement
    default = [n for n, _ in SIZES if n < 20 or not opts.quick]
    opts.sizes = [int(s) for s in opts.sizes.split(",")] if opts.sizes else default
    opts.methods, methods, env = opts.methods.split(","), registry(), environment(opts)
    print(json.dumps(env, indent=1, ensure_ascii=False), flush=True)
    started = time.perf_counter()
    methods["qtrain-adj"].make(4, 1)(thetas_for(4, 1))  # compile qtrain's kernels untimed
    results = [bench_size(n, L, methods, opts) for n, L in SIZES if n in opts.sizes]
    points = sweep(opts, methods) if opts.sweep else []
    total = time.perf_counter() - started
    report(results, points, methods)
    failed = [e["n"] for e in results if e["agreement_failed"]]
    print(f"agreement (exact ≤ {TOL}, sampled |z| ≤ {Z_MAX}): {failed or 'ok'}; {total:.0f} s")
    if opts.json:
        payload = {"mode": "quick" if opts.quick else "full", "seed": SEED, "shots": SHOTS}
        payload |= {"repeats": opts.repeats, "cap_s": opts.cap, "budget_s": opts.budget, "env": env}
        payload |= {"results": results, "sweep": points, "targets": targets(results), "s": total}
        _results.write(opts.json, payload)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
