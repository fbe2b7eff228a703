"""Benchmark: single (complex64) against double (complex128) precision on the local simulator.

The hardware-efficient ansatz of bench_grad.py / bench_expval.py (per layer RY, RZ on every
wire, then a CNOT chain; ⟨Σ Z_i⟩), one expectation and one adjoint gradient per size, each
precision timed in the same process (median of ``--repeats`` after a warm-up call that also
compiles the numba kernels for the dtype). Records the speed-up and the largest difference
between the precisions' numbers next to the documented bound (``sim.error_bound``).

    python bench/bench_precision.py                      # n = 16, 18, 20 (layers n/2)
    python bench/bench_precision.py --sizes 12,14 --json bench/results/precision-quick.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

try:
    import qtrain as qt
except ImportError:  # running from a checkout without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import qtrain as qt

from qtrain.grad.error_bound import adjoint_error_bound
from qtrain.sim.error_bound import expectation_bound
from qtrain.sim.program import compile_program

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _results  # bench/_results.py: the meta block every result file carries

SEED = 20261124


def _median_seconds(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    out = fn()  # warm-up: compiles the kernels for this dtype, fills the program caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def measure(n: int, layers: int, repeats: int) -> dict[str, Any]:
    """Expectation and adjoint gradient at ``(n, layers)`` in both precisions."""
    circuit = qt.ansatz.hardware_efficient(n, layers)
    obs = sum((qt.Z(i) for i in range(1, n)), qt.Z(0))
    theta = np.random.default_rng(SEED).uniform(-np.pi, np.pi, circuit.n_params)
    row: dict[str, Any] = {"n": n, "layers": layers}
    outs: dict[str, dict[str, Any]] = {}
    for precision in ("double", "single"):
        sim = qt.LocalSimulator(precision=precision)
        ev_s, ev = _median_seconds(lambda s=sim: qt.expval(circuit, obs, theta, backend=s), repeats)
        adj_s, grad = _median_seconds(
            lambda s=sim: qt.grad(circuit, obs, theta, method="adjoint", backend=s).value,
            repeats,
        )
        outs[precision] = {"expval": float(ev), "grad": np.asarray(grad)}
        row[f"expval_s_{precision}"] = ev_s
        row[f"adjoint_s_{precision}"] = adj_s
    row["expval_speedup"] = row["expval_s_double"] / row["expval_s_single"]
    row["adjoint_speedup"] = row["adjoint_s_double"] / row["adjoint_s_single"]
    row["expval_error"] = abs(outs["single"]["expval"] - outs["double"]["expval"])
    row["expval_bound"] = expectation_bound(compile_program(circuit, "single"), obs, "single")
    row["grad_error"] = float(np.abs(outs["single"]["grad"] - outs["double"]["grad"]).max())
    row["grad_bound"] = float(adjoint_error_bound(circuit, obs, "single").max())
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="16,18,20", help="qubit counts (layers n/2)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=Path("bench/results/precision.json"))
    opts = parser.parse_args()
    rows = []
    for n in (int(s) for s in opts.sizes.split(",")):
        row = measure(n, n // 2, opts.repeats)
        rows.append(row)
        print(
            f"n={n:2d} L={n // 2:2d}  expval {row['expval_s_double'] * 1e3:8.1f} → "
            f"{row['expval_s_single'] * 1e3:8.1f} ms ({row['expval_speedup']:.2f}×)  adjoint "
            f"{row['adjoint_s_double'] * 1e3:8.1f} → {row['adjoint_s_single'] * 1e3:8.1f} ms "
            f"({row['adjoint_speedup']:.2f}×)  |Δ⟨O⟩| {row['expval_error']:.1e} "
            f"(bound {row['expval_bound']:.1e})  |Δ∇| {row['grad_error']:.1e} "
            f"(bound {row['grad_bound']:.1e})",
            flush=True,
        )
    _results.write(opts.json, {"benchmark": "precision", "repeats": opts.repeats, "rows": rows})
    print(f"wrote {opts.json}")


if __name__ == "__main__":
    main()
