"""Benchmark: a barren-plateau scan, qtrain (local and Dask) against PennyLane's demo recipe.

The workload of McClean et al. (2018) as in PennyLane's barren-plateau demo: per point, 200
random circuits (RY(π/4) on every wire, then `depth` layers of a random RX/RY/RZ on every wire
and a CZ ladder), θ uniform in [0, 2π), the global cost 1 − |⟨0|ψ⟩|², and the variance of
∂C/∂θ₀ over the draws, for n = 2..14 at depth 50.

* `qtrain`: `qt.diagnostics.variance_scan("mcclean", ...)` (one batched task per point).
* `qtrain-dask`: the same through `qt.DaskExecutor(n_workers=2)` (start-up timed apart).
* `pl-default`: the demo's recipe: a QNode per random circuit on `default.qubit`,
  `qml.grad` (autograd backprop) of `qml.expval(qml.Projector(|0…0⟩))`, component 0. The demo
  measures a dense `qml.Hermitian` of |0⟩⟨0|; that is 2 GiB at n = 14, so the projector it
  equals is used instead.
* `pl-lightning`: the same QNodes on `lightning.qubit` with `diff_method="adjoint"`.

Before timing, every library computes the same draws (qtrain's, from the scan's seed
stream): the PennyLane gradients must equal qtrain's per draw to 1e-8, and the variances to
1e-8 relative. Past the per-point cap a PennyLane configuration is timed on its first k draws
and scaled by 200/k (draws are independent and alike, so time is linear in them): `*`.

    python bench/bench_plateau.py --quick                      # n = 2..8, about 3 min
    python bench/bench_plateau.py --json bench/results/plateau-full.json
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _results  # bench/_results.py: the meta block every result file carries
import numpy as np

try:
    import qtrain as qt
except ImportError:  # running from a checkout without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import qtrain as qt

from qtrain.diagnostics.families import FAMILIES
from qtrain.diagnostics.inits import Uniform
from qtrain.diagnostics.sampling import draw_samples, plan_gradients

SEED, TOL = 20261201, 1e-8
LIBS = ["qtrain", "qtrain-dask", "pl-default", "pl-lightning"]
DISTS = "qtrain numpy numba dask distributed pennylane pennylane-lightning".split()
ENV_VARS = "OMP_WAIT_POLICY OMP_NUM_THREADS NUMBA_NUM_THREADS QTRAIN_KERNELS".split()


def environment() -> dict[str, Any]:
    versions = {}
    for dist in DISTS:
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in lscpu.splitlines()
            if line.startswith("Model name")
        )
    except (OSError, StopIteration):
        cpu = platform.processor()
    return {
        "python": platform.python_version(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "versions": versions,
        "env": {k: os.environ.get(k) for k in ENV_VARS},
    }


def draws_of(n: int, depth: int, samples: int) -> Any:
    """The scan's own draws at (n, depth): stream 0, init 0 (see diagnostics/scan.py)."""
    rng = np.random.default_rng(np.random.SeedSequence(SEED, spawn_key=(0, 0, depth, n)))
    return draw_samples(FAMILIES["mcclean"], Uniform(), n, depth, samples=samples, rng=rng)


def qtrain_gradients(draws: Any, n: int) -> np.ndarray:
    tasks, assemble = plan_gradients(
        draws,
        (qt.diagnostics.global_cost(n),),
        np.array([0]),
        shots=None,
        seed=None,
        random_structure=True,
    )
    return assemble(qt.Executor(qt.LocalSimulator()).run(tasks)).values[0, :, 0]


def scan(n: int, depth: int, samples: int, executor: Any = None) -> tuple[float, Any]:
    started = time.perf_counter()
    result = qt.diagnostics.variance_scan(
        "mcclean",
        qubits=[n],
        depths=depth,
        cost="global",
        samples=samples,
        seed=SEED,
        executor=executor,
    )
    return time.perf_counter() - started, result.points[0]


class PennyLane:
    """The demo's recipe: one QNode per random circuit, qml.grad, one component."""

    def __init__(self, device: str, diff_method: str) -> None:
        import pennylane as qml  # noqa: PLC0415 - optional peer
        from pennylane import numpy as pnp  # noqa: PLC0415 - optional peer

        self.qml, self.pnp, self.device, self.diff = qml, pnp, device, diff_method
        self.gates = {"RX": qml.RX, "RY": qml.RY, "RZ": qml.RZ}

    def gradient(self, circuit: Any, theta: np.ndarray, dev: Any) -> float:
        qml, n = self.qml, circuit.n_qubits
        ops = [(op.gate, op.wires, op.args[0] if op.args else None) for op in circuit.ops]

        def rand_circuit(params: Any) -> Any:
            for gate, wires, arg in ops:
                if gate == "CZ":
                    qml.CZ(wires=list(wires))
                elif isinstance(arg, float):
                    self.gates[gate](arg, wires=wires[0])  # the RY(π/4) preparation
                else:
                    self.gates[gate](params[arg.terms[0][0]], wires=wires[0])
            return qml.expval(qml.Projector(np.zeros(n, dtype=int), wires=range(n)))

        qnode = qml.QNode(rand_circuit, dev, interface="autograd", diff_method=self.diff)
        params = self.pnp.array(theta, requires_grad=True)
        return -float(qml.grad(qnode)(params)[0])  # C = 1 − ⟨P₀⟩

    def run(self, draws: Any, count: int) -> tuple[float, np.ndarray]:
        dev = self.qml.device(self.device, wires=draws.circuits[0].n_qubits)
        started = time.perf_counter()
        pairs = zip(draws.circuits[:count], draws.thetas[:count], strict=True)
        values = [self.gradient(c, t, dev) for c, t in pairs]
        return time.perf_counter() - started, np.array(values)


def check(n: int, depth: int, samples: int, peers: dict[str, PennyLane]) -> dict[str, Any]:
    """Per-draw gradients and the variance: every library against qtrain, before timing."""
    draws = draws_of(n, depth, samples)
    reference = qtrain_gradients(draws, n)
    _, point = scan(n, depth, samples)
    out: dict[str, Any] = {
        "scan_variance": point.variance,
        "direct_variance": float(np.var(reference, ddof=1)),
    }
    ok = abs(point.variance / out["direct_variance"] - 1) < TOL
    for name, peer in peers.items():
        _, values = peer.run(draws, samples)
        diff = float(np.max(np.abs(values - reference)))
        rel = abs(float(np.var(values, ddof=1)) / point.variance - 1)
        out[name] = {"max_abs_diff": diff, "variance_rel_diff": rel}
        ok &= diff < TOL and rel < TOL
    out["ok"] = bool(ok)
    return out


def time_peer(peer: PennyLane, draws: Any, samples: int, cap: float) -> dict[str, Any]:
    pilot_s, _ = peer.run(draws, 2)
    count = samples if pilot_s / 2 * samples <= cap else max(2, int(cap / (pilot_s / 2)))
    if count == 2:
        seconds = pilot_s
    else:
        seconds, _ = peer.run(draws, count)
    return {
        "seconds": seconds * samples / count,
        "draws_timed": count,
        "extrapolated": count < samples,
    }


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 2..8, 100 draws, 10 s cap")
    parser.add_argument("--sizes", default=None, help="qubit counts, e.g. 2,4,6")
    parser.add_argument("--depth", type=int, default=50)
    parser.add_argument("--samples", type=int, default=None)
    parser.add_argument("--libs", default=",".join(LIBS))
    parser.add_argument("--cap", type=float, default=None, help="seconds per PennyLane point")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    full = list(range(2, 9)) if args.quick else list(range(2, 15))
    args.sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else full
    args.samples = args.samples or (100 if args.quick else 200)
    args.cap = args.cap or (10.0 if args.quick else 30.0)
    args.libs = args.libs.split(",")
    return args


def load_peers(libs: list[str]) -> dict[str, PennyLane]:
    peers: dict[str, PennyLane] = {}
    try:
        if "pl-default" in libs:
            peers["pl-default"] = PennyLane("default.qubit", "backprop")
        if "pl-lightning" in libs:
            peers["pl-lightning"] = PennyLane("lightning.qubit", "adjoint")
    except ImportError as error:
        print(f"PennyLane not installed ({error}): its columns are skipped")
    return peers


def measure(args: argparse.Namespace, peers: dict[str, PennyLane], dask: Any) -> list[Any]:
    rows = []
    for n in args.sizes:
        row: dict[str, Any] = {"n": n, "depth": args.depth, "samples": args.samples}
        if "qtrain" in args.libs:
            row["qtrain"], point = scan(n, args.depth, args.samples)
            row["variance"], row["ci"] = point.variance, [point.ci_low, point.ci_high]
        if dask is not None:
            row["qtrain-dask"], remote = scan(n, args.depth, args.samples, dask)
            row["dask_equals_local"] = "variance" not in row or remote.variance == row["variance"]
        draws = draws_of(n, args.depth, args.samples) if peers else None
        for name, peer in peers.items():
            row[name] = time_peer(peer, draws, args.samples, args.cap)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def table(rows: list[Any], peers: dict[str, PennyLane]) -> None:
    print(f"\n| n | qtrain | qtrain-dask (2 workers) | {' | '.join(peers)} | Var[∂C/∂θ₀] |")
    print("|---|---|---|" + "---|" * len(peers) + "---|")
    for row in rows:
        base = row.get("qtrain")
        cells = [f"{row['n']}", f"{base:.2f} s" if base else "-"]
        cells.append(f"{row['qtrain-dask']:.2f} s" if "qtrain-dask" in row else "-")
        for name in peers:
            t = row[name]["seconds"]
            star = "*" if row[name]["extrapolated"] else ""
            cells.append(f"{t:.1f} s{star} ({t / base:.0f}×)" if base else f"{t:.1f} s{star}")
        cells.append(f"{row.get('variance', float('nan')):.3e}")
        print("| " + " | ".join(cells) + " |")


def main() -> int:
    args = arguments()
    env = environment()
    print(json.dumps(env, indent=1))
    peers = load_peers(args.libs)
    scan(3, 2, 10)  # warm-up: numba kernels, imports
    checks = {n: check(n, args.depth, 20, peers) for n in (4, 8)}
    print("checks (20 draws):", json.dumps(checks, indent=1))
    if not all(c["ok"] for c in checks.values()):
        print("DISAGREEMENT: not timing")
        return 1
    dask = None
    if "qtrain-dask" in args.libs:
        started = time.perf_counter()
        dask = qt.DaskExecutor(n_workers=2)
        env["dask_startup_s"] = time.perf_counter() - started
        scan(3, 2, 10, dask)  # warm the workers
    rows = measure(args, peers, dask)
    if dask is not None:
        dask.close()
    table(rows, peers)
    keys = [k for k in ("qtrain", "qtrain-dask", *peers) if all(k in r for r in rows)]
    totals = {
        k: sum(r[k] if isinstance(r[k], float) else r[k]["seconds"] for r in rows) for k in keys
    }
    print("totals:", json.dumps(totals))
    if args.json:
        payload = {"environment": env, "checks": checks, "rows": rows, "totals": totals}
        _results.write(args.json, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
