"""Benchmark: what qtrain's Qiskit bridge costs on top of calling Aer's primitives directly.

Issue #17 (target: under 10 % for a 12-qubit gradient). Workload: bench_grad's hardware-
efficient ansatz at its θ, (n, layers) = (4, 2), (8, 4), (12, 6), H = Σ Z_i Z_{i+1} + 0.5 Σ X_i
+ 0.25 Σ Y_i Y_{i+1} (3 qubit-wise-commuting groups); the parameter-shift gradient, 2P + 1 rows
(θ, θ ± π/2·e_k; the unshifted row is the value both sides report), in one process:

* **bridge**: ``qt.grad(c, H, θ, method="param-shift", shots=S, seed=1, backend=QiskitBackend(
  AerSimulator(method="statevector")))``, one backend (transpile cache warm after the check).
* **direct**: what a Qiskit user with a warm cache writes. Up front: ``qt.interop.to_qiskit``
  + ``qiskit.transpile`` (the bridge's options), ``SparsePauliOp.group_commuting``, one
  measured circuit per group and each group's eigenvalue per outcome. Timed: the rows,
  ``SamplerV2.from_backend(sim, seed=1)`` with one PUB per group (all rows as one parameter
  array, S shots), bits → per-shot eigenvalues (table lookup) → each row's mean and variance
  → ``g = (v₊ − v₋)/2`` and its standard error.
* **exact** (``shots=None``): the bridge's Aer ``EstimatorV2`` path (precision 0) against the
  same one-PUB ``EstimatorV2`` call built by hand.

Checks first (exit 1 on failure): exact gradients agree to 1e-10 (and with the local
simulator), sampled ones lie within 5 standard errors of the exact one. The calls alternate
round by round (same load), 3 to ``--rounds``; overhead = bridge / direct − 1 from the medians,
the best calls and the per-round ratios. Both paths run the same Aer job, so the difference is
time outside it: cProfile measures that per call (``fixed cost``, by stage: ``STAGES``), which
a busy machine's load does not move the way it moves wall-clock ratios.

    python bench/bench_qiskit_bridge.py            # about 2.5 min on 2 cores
    python bench/bench_qiskit_bridge.py --quick    # n = 4, 8; 3 rounds
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.metadata
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import time
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

SIZES = [(4, 2), (8, 4), (12, 6)]
SEED, SHOTS, SHOT_SEED, TOL, Z_MAX = 20261124, 1000, 1, 1e-10, 5.0
RESULTS = Path(__file__).resolve().parent / "results" / "qiskit-bridge.json"
DISTS = "qtrain numpy qiskit qiskit-aer qiskit-ibm-runtime numba".split()
OMP_AT_START = os.environ.get("OMP_WAIT_POLICY")  # before qtrain's kernels set their default
PEER: dict[str, Any] = {}  # qiskit modules, filled by load_qiskit()
Records = dict[str, Any]


def load_qiskit() -> str | None:
    """qtrain's kernels first (they set ``OMP_WAIT_POLICY=PASSIVE``, as in bench_grad), then
    Qiskit; the import error, if any. Aer's threads otherwise spin on a busy machine: 10-14 s
    instead of 5.3-5.8 s for the 12-qubit sampled job on 2 loaded cores."""
    importlib.import_module("qtrain.sim.statevector").select_kernels()
    try:
        for name in ("qiskit", "qiskit_aer", "qiskit_aer.primitives", "qtrain.backends.qiskit"):
            PEER[name] = importlib.import_module(name)
    except ImportError as exc:
        return str(exc)
    return None


def thetas_for(n: int, layers: int) -> np.ndarray:
    """bench_grad's θ."""
    return np.random.default_rng([SEED, n, layers]).uniform(-np.pi, np.pi, 2 * n * layers)


def observable(n: int) -> qt.Observable:
    zz = [f"Z{i} Z{i + 1}" for i in range(n - 1)]
    yy = [f"0.25 Y{i} Y{i + 1}" for i in range(n - 1)]
    return qt.Observable.parse(" + ".join(zz + [f"0.5 X{i}" for i in range(n)] + yy))


def shifted_rows(theta: np.ndarray) -> np.ndarray:
    """``(2P + 1, P)``: θ, then θ + π/2·e_k, then θ − π/2·e_k."""
    eye = (np.pi / 2) * np.eye(theta.size)
    return np.vstack([theta[None, :], theta + eye, theta - eye])


def gradient(values: np.ndarray, variances: np.ndarray | None) -> tuple[Any, Any, float]:
    """(g, stderr, value) from the rows' values (and variances) in ``shifted_rows`` order."""
    p = (values.size - 1) // 2
    g = 0.5 * (values[1 : p + 1] - values[p + 1 :])
    err = None if variances is None else 0.5 * np.sqrt(variances[1 : p + 1] + variances[p + 1 :])
    return g, err, float(values[0])


def group_values(packed: np.ndarray, table: np.ndarray) -> tuple[Any, Any]:
    """Each row's mean of a group's per-shot eigenvalue and its variance, from packed bits."""
    packed = packed.astype(np.int64)  # (R, S, bytes), big-endian
    ints = np.zeros(packed.shape[:2], dtype=np.int64)
    for b in range(packed.shape[2]):
        ints = (ints << 8) | packed[:, :, b]
    per_shot = table[ints]  # (R, S)
    return per_shot.mean(axis=1), per_shot.var(axis=1, ddof=1) / per_shot.shape[1]


class Direct:
    """Aer's primitives by hand on the same work; everything cacheable is built up front."""

    def __init__(self, n: int, layers: int, shots: int) -> None:
        self.shots, self.sampler = shots, PEER["qiskit_aer.primitives"].SamplerV2
        self.sim = PEER["qiskit_aer"].AerSimulator(method="statevector")
        estimator = PEER["qiskit_aer.primitives"].EstimatorV2
        self.estimator = estimator.from_backend(self.sim, options={"default_precision": 0})
        qc = qt.interop.to_qiskit(qt.ansatz.hardware_efficient(n, layers))
        self.circuit = PEER["qiskit"].transpile(qc, backend=self.sim, optimization_level=1)
        order = [p.index for p in self.circuit.parameters]
        assert order == list(range(2 * n * layers)), "transpile dropped or reordered θ"
        op, layout = qt.interop.to_sparse_pauli_op(observable(n), n), self.circuit.layout
        self.op = op if layout is None else op.apply_layout(layout)
        self.groups = [self._measured(g) for g in self.op.group_commuting(qubit_wise=True)]

    def _measured(self, group: Any) -> tuple[Any, np.ndarray]:
        """(circuit with the group's rotations and measurements, its eigenvalue per outcome)."""
        x, z, qc = group.paulis.x, group.paulis.z, self.circuit.copy()  # (T, n) bool
        for q in range(qc.num_qubits):
            if x[:, q].any() and z[:, q].any():  # Y
                qc.sdg(q)
            if x[:, q].any():
                qc.h(q)
        qc.measure_all()  # register "meas": clbit q holds qubit q, bit q of the outcome
        masks = ((x | z).astype(np.int64) << np.arange(qc.num_qubits)).sum(axis=1)
        coeffs = np.real(group.coeffs * (-1j) ** group.paulis.phase)  # Hermitian: real
        outcomes = np.arange(1 << qc.num_qubits, dtype=np.int64)
        odd = np.bitwise_count(outcomes[:, None] & masks) & 1  # (2ⁿ, T) each term's parity
        return qc, (1.0 - 2.0 * odd) @ coeffs

    def sampled(self, theta: np.ndarray) -> tuple[Any, Any, float]:
        rows = shifted_rows(theta)
        sampler = self.sampler.from_backend(self.sim, seed=SHOT_SEED)
        results = sampler.run([(qc, rows, self.shots) for qc, _ in self.groups]).result()
        values, variances = np.zeros(rows.shape[0]), np.zeros(rows.shape[0])
        for (_, table), result in zip(self.groups, results, strict=True):
            mean, var = group_values(result.data.meas.array, table)
            values, variances = values + mean, variances + var
        return gradient(values, variances)

    def exact(self, theta: np.ndarray) -> tuple[Any, Any, float]:
        result = self.estimator.run([(self.circuit, self.op, shifted_rows(theta))], precision=0.0)
        return gradient(np.asarray(result.result()[0].data.evs, dtype=float), None)


def bridge(n: int, layers: int, backend: Any) -> dict[str, Callable[[np.ndarray], Any]]:
    circuit, obs = qt.ansatz.hardware_efficient(n, layers), observable(n)

    def run(theta: np.ndarray, shots: int | None) -> tuple[Any, Any, float]:
        seed = SHOT_SEED if shots else None
        g = qt.grad(circuit, obs, theta, method="param-shift", shots=shots, seed=seed,
                    backend=backend)  # fmt: skip
        return np.asarray(g.value), None if g.stderr is None else np.asarray(g.stderr), g.fun

    return {"sampled": lambda th: run(th, SHOTS), "exact": lambda th: run(th, None)}


def cpu_seconds() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, CPU seconds of this process) so far."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK"), sum(os.times()[:2])


def race(fns: dict[str, Callable[[], Any]], rounds: int, budget: float) -> Records:
    """Every call once per round: 3 rounds, then more up to ``rounds`` within ``budget`` s."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    (busy0, own0), start = cpu_seconds(), time.perf_counter()
    while (n := len(times["bridge"])) < min(3, rounds) or (
        n < rounds and time.perf_counter() - start < budget
    ):
        for key, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t0)
    busy1, own1 = cpu_seconds()
    foreign = max(0.0, (busy1 - busy0) - (own1 - own0))
    recs: Records = {
        k: {"median_s": statistics.median(t), "best_s": min(t), "times_s": t}
        for k, t in times.items()
    }
    b, d = recs["bridge"], recs["direct"]
    paired = statistics.median(x / y for x, y in zip(b["times_s"], d["times_s"], strict=True))
    return recs | {
        "overhead": b["median_s"] / d["median_s"] - 1, "overhead_paired": paired - 1,
        "overhead_best": b["best_s"] / d["best_s"] - 1,
        "foreign_cpu": foreign / ((time.perf_counter() - start) * (os.cpu_count() or 1)),
    }  # fmt: skip


def check(n: int, layers: int, paths: dict[str, dict[str, Callable[..., Any]]]) -> Records:
    """Exact agreement (≤ 1e-10) and sampled z-scores; also the warm-up of every call."""
    theta = thetas_for(n, layers)
    local = qt.grad(qt.ansatz.hardware_efficient(n, layers), observable(n), theta,
                    method="param-shift").value  # fmt: skip
    (gb, _, vb), (gd, _, vd) = (paths[k]["exact"](theta) for k in ("bridge", "direct"))
    rec: Records = {"exact_diff": float(np.max(np.abs(gb - gd))), "exact_value_diff": abs(vb - vd)}
    rec["exact_vs_local"] = float(np.max(np.abs(gb - local)))
    rec["grad_norm"] = float(np.linalg.norm(local))
    sampled = {k: paths[k]["sampled"](theta) for k in ("bridge", "direct")}
    for key, (g, err, _) in sampled.items():
        z = (g - local) / err
        rec[f"{key}_max_abs_z"] = float(np.max(np.abs(z)))
        rec[f"{key}_rms_z"] = float(np.sqrt(np.mean(z**2)))
        rec[f"{key}_median_stderr"] = float(np.median(err))
    rec["sampled_diff"] = float(np.max(np.abs(sampled["bridge"][0] - sampled["direct"][0])))
    exact_ok = max(rec["exact_diff"], rec["exact_value_diff"], rec["exact_vs_local"]) <= TOL
    z_ok = max(rec["bridge_max_abs_z"], rec["direct_max_abs_z"]) <= Z_MAX
    return rec | {"agrees": bool(exact_ok and z_ok)}


STAGES = {  # (file suffix, function) → stage of a bridge call, by cumulative time
    "aer_job": [("primitive_job.py", "result"), ("primitives/sampler_v2.py", "run"),
                ("primitives/estimator_v2.py", "run")],
    "plan (shifted rows, shots)": [("grad/api.py", "_plan")],
    "QiskitBackend.limits": [("backends/qiskit.py", "limits")],
    "observable → SparsePauliOp": [("backends/qiskit_compile.py", "sparse_op")],
    "counts → values, variances": [("backends/qiskit_jobs.py", "aggregate")],
    "direct: counts → values": [("bench_qiskit_bridge.py", "group_values")],
}  # fmt: skip


def profile(fn: Callable[[], Any], calls: int) -> Records:
    """``calls`` calls under cProfile: seconds per call, in Aer's job and per bridge stage."""
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        fn()
    prof.disable()
    stats: Any = pstats.Stats(prof).stats  # {(file, line, name): (cc, nc, tt, ct, callers)}
    total = max(ct for _, _, _, ct, _ in stats.values()) / calls
    stages = {
        stage: sum(ct for (f, _, name), (_, _, _, ct, _) in stats.items()
                   if any(f.endswith(s) and name == want for s, want in keys)) / calls
        for stage, keys in STAGES.items()
    }  # fmt: skip
    stages = {k: v for k, v in stages.items() if v > 0}
    outside = total - stages.get("aer_job", 0.0)
    return {"calls": calls, "total_s": total, "outside_aer_s": outside, "stages_s": stages}


def measure(n: int, layers: int, opts: argparse.Namespace, backend: Any) -> Records:
    """Check, then time the bridge against the direct calls, sampled and exact."""
    theta = thetas_for(n, layers)
    direct = Direct(n, layers, SHOTS)
    by_hand = {"sampled": direct.sampled, "exact": direct.exact}
    paths = {"bridge": bridge(n, layers, backend), "direct": by_hand}
    rec: Records = {"n": n, "layers": layers, "params": theta.size, "rows": 2 * theta.size + 1}
    rec["groups"] = len(direct.groups)
    rec["checks"] = check(n, layers, paths)
    for mode in ("sampled", "exact"):
        calls = {k: (lambda f=paths[k][mode]: f(theta)) for k in ("bridge", "direct")}
        rec[mode] = race(calls, opts.rounds, opts.budget)
        if opts.profile:  # several calls where they are short
            repeats = max(1, min(10, int(1.0 / rec[mode]["direct"]["median_s"])))
            rec[mode]["profile_bridge"] = profile(calls["bridge"], repeats)
            rec[mode]["profile_direct"] = profile(calls["direct"], repeats)
            fixed = rec[mode]["profile_bridge"]["outside_aer_s"]
            fixed -= rec[mode]["profile_direct"]["outside_aer_s"]
            rec[mode]["fixed_cost_s"] = fixed  # the bridge's extra seconds outside Aer's job
            rec[mode]["overhead_profile"] = fixed / rec[mode]["direct"]["median_s"]
    c, s, e = rec["checks"], rec["sampled"], rec["exact"]
    print(f"  n={n} L={layers}: {'ok' if c['agrees'] else 'DISAGREES'} (exact Δ "
          f"{c['exact_diff']:.1e}, max|z| {c['bridge_max_abs_z']:.1f}/{c['direct_max_abs_z']:.1f});"
          f" sampled {pct(s['overhead'])}, exact {pct(e['overhead'])}", flush=True)  # fmt: skip
    return rec


def md(cells: list[Any]) -> str:
    return "| " + " | ".join(map(str, cells)) + " |"


def fmt(r: Records, key: str = "median_s") -> str:
    s = r[key]
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


def pct(x: float) -> str:
    return f"{x:+.1%}"


def table(results: list[Records]) -> str:
    """Times (medians), overheads (medians / paired rounds / CPU) and the profiled fixed cost."""
    head = ["n", "L", "P", "rows × groups"]
    for mode in ("sampled", "exact"):
        head += [f"{mode}: bridge", "direct", "overhead: medians / best / paired", "fixed cost"]
    lines = [md(head), "|---" * len(head) + "|"]
    for rec in results:
        cells = [rec["n"], rec["layers"], rec["params"], f"{rec['rows']} × {rec['groups']}"]
        for mode in ("sampled", "exact"):
            r = rec[mode]
            flag = "!" if r["foreign_cpu"] > 0.1 else ""
            over = f"{pct(r['overhead'])} / {pct(r['overhead_best'])} / {pct(r['overhead_paired'])}"
            fixed = "-"
            if "fixed_cost_s" in r:
                fixed = f"{r['fixed_cost_s'] * 1e3:.1f} ms ({pct(r['overhead_profile'])})"
            cells += [fmt(r["bridge"]), fmt(r["direct"]), over + flag, fixed]
        lines.append(md(cells))
    return "\n".join(lines)


def stages_table(results: list[Records]) -> str:
    """ms per call of each profiled stage of the bridge (and the direct path's counting)."""
    keys = [k for k in STAGES if k != "aer_job"]
    head = ["n", "mode", "total", "Aer job", "outside Aer: bridge", "direct", *keys]
    lines = [md(head), "|---" * len(head) + "|"]
    for rec in results:
        for mode in ("sampled", "exact"):
            b, d = rec[mode].get("profile_bridge"), rec[mode].get("profile_direct")
            if not b or not d:
                continue
            stage = {**b["stages_s"], **{k: v for k, v in d["stages_s"].items() if "direct" in k}}
            cells = [rec["n"], mode, f"{b['total_s'] * 1e3:.1f}",
                     f"{b['stages_s'].get('aer_job', 0) * 1e3:.1f}",
                     f"{b['outside_aer_s'] * 1e3:.1f}", f"{d['outside_aer_s'] * 1e3:.1f}",
                     *(f"{stage.get(k, 0) * 1e3:.2f}" for k in keys)]  # fmt: skip
            lines.append(md(cells))
    return "\n".join(lines)


def report(results: list[Records], profiled: bool) -> None:
    print(f"\nparam-shift gradient, {SHOTS} shots per row and group; overhead = bridge / direct"
          " - 1 (target < 10 %); ! > 10 % CPU used by others; fixed cost: the bridge's extra"
          f" time outside Aer's job per call (cProfile)\n{table(results)}")  # fmt: skip
    if profiled:
        print(f"\nprofiled ms per call (cProfile inflates Python time)\n{stages_table(results)}")


def environment() -> Records:
    found = {
        d.name.replace("_", "-").lower(): d.version for d in importlib.metadata.distributions()
    }

    def sh(*cmd: str) -> str:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()

    git = ["git", "-C", str(Path(__file__).resolve().parents[1])]
    return {
        "python": platform.python_version(), "platform": platform.platform(),
        "versions": {k: found.get(k) for k in DISTS},
        "commit": sh(*git, "log", "-1", "--format=%h %s"), "qtrain_path": qt.__file__,
        "src_uncommitted_changes": sh(*git, "status", "--porcelain", "src").splitlines(),
        "cpu_count": os.cpu_count(), "lscpu_head": sh("lscpu").splitlines()[:10],
        "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "QTRAIN_KERNELS")},
        "OMP_WAIT_POLICY_at_start": OMP_AT_START, "OMP_WAIT_POLICY_aer_loaded_with":
        os.environ.get("OMP_WAIT_POLICY"),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 4, 8; 3 rounds")
    parser.add_argument("--sizes", help="comma-separated n:layers (default 4:2,8:4,12:6)")
    parser.add_argument("--rounds", type=int, help="timed rounds per measurement (5; quick 3)")
    parser.add_argument("--budget", type=float, default=60.0, help="rounds past 3 stop here, s")
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"default {RESULTS}")
    opts = parser.parse_args(argv)
    missing = load_qiskit()
    if missing:
        print(f"cannot compare: {missing} (pip install 'qtrain[qiskit]')")
        return 2
    opts.rounds = opts.rounds or (3 if opts.quick else 5)
    sizes = [tuple(int(x) for x in s.split(":")) for s in opts.sizes.split(",")] if opts.sizes \
        else SIZES[: 2 if opts.quick else 3]  # fmt: skip
    env = environment()
    print(json.dumps(env, indent=1, ensure_ascii=False), flush=True)
    simulator = PEER["qiskit_aer"].AerSimulator(method="statevector")
    backend = PEER["qtrain.backends.qiskit"].QiskitBackend(simulator)  # one, as a user keeps it
    started = time.perf_counter()
    results = [measure(n, layers, opts, backend) for n, layers in sizes]
    total = time.perf_counter() - started
    report(results, opts.profile)
    failed = [r["n"] for r in results if not r["checks"]["agrees"]]
    print(f"agreement: {failed or 'ok'}; {total:.0f} s")
    payload: Records = {"shots": SHOTS, "seed": SHOT_SEED, "tolerance": TOL, "z_max": Z_MAX,
        "observable": "sum Z_i Z_i+1 + 0.5 sum X_i + 0.25 sum Y_i Y_i+1", "rounds": opts.rounds,
        "budget_s": opts.budget, "env": env, "s": total, "results": results,
        "table": table(results), "stages": opts.profile and stages_table(results)}  # fmt: skip
    opts.json.parent.mkdir(parents=True, exist_ok=True)
    _results.write(opts.json, payload)
    print(f"wrote {opts.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
