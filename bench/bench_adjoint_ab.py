"""Benchmark: qtrain's adjoint gradient against lightning.qubit's, interleaved call by call.

``bench_grad.py`` times each method in its own window, so on a shared machine a neighbour's
burst can land on one library and not the other. Here the two calls alternate, round after
round, so both see the same load; the ratio of their medians is the fair comparison. The
workload is bench_grad's: ∂⟨Σ Z_i⟩/∂θ of the hardware-efficient ansatz at one seeded θ.

    python bench/bench_adjoint_ab.py --n 16 --layers 8 --rounds 15
"""

from __future__ import annotations

import argparse
import statistics
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
from qtrain.sim import fast_kernels  # noqa: F401 - sets OMP_WAIT_POLICY before the peers load


def lightning_gradient(n: int, layers: int) -> Callable[[np.ndarray], np.ndarray]:
    """``θ ↦ ∇⟨Σ Z_i⟩`` by lightning.qubit's adjoint method, on the same ansatz."""
    import pennylane as qml  # noqa: PLC0415 - optional peer, loaded after qtrain's kernels
    from pennylane import numpy as pnp  # noqa: PLC0415

    dev = qml.device("lightning.qubit", wires=n)
    obs = qml.sum(*(qml.Z(i) for i in range(n)))

    def body(theta: Any) -> Any:
        for layer in range(layers):
            base = 2 * n * layer
            for q in range(n):
                qml.RY(theta[base + q], wires=q)
            for q in range(n):
                qml.RZ(theta[base + n + q], wires=q)
            for q in range(n - 1):
                qml.CNOT([q, q + 1])
        return qml.expval(obs)

    grad = qml.grad(qml.QNode(body, dev, diff_method="adjoint"))
    return lambda theta: np.asarray(grad(pnp.array(theta, requires_grad=True)), dtype=float)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=15, help="timed calls of each library")
    parser.add_argument("--json", type=Path, help="write the times to this file")
    opts = parser.parse_args(argv)
    circuit = qt.ansatz.hardware_efficient(opts.n, opts.layers)
    obs = sum((qt.Z(i) for i in range(1, opts.n)), qt.Z(0))
    theta = np.random.default_rng([opts.n, opts.layers]).uniform(-np.pi, np.pi, circuit.n_params)
    peer = lightning_gradient(opts.n, opts.layers)
    calls: dict[str, Callable[[], np.ndarray]] = {
        "qtrain-adj": lambda: qt.grad(circuit, obs, theta, method="adjoint").value,
        "lightning-adj": lambda: peer(theta),
    }
    diff = float(np.max(np.abs(calls["qtrain-adj"]() - calls["lightning-adj"]())))  # warm-up too
    print(f"(n, L) = ({opts.n}, {opts.layers}): max |Δgrad| = {diff:.1e}")
    if diff > 1e-8:
        print("!! the gradients disagree", file=sys.stderr)
        return 1
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(opts.rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    for name, ts in times.items():
        print(f"{name}: min {min(ts) * 1e3:.1f} ms, median {statistics.median(ts) * 1e3:.1f} ms")
    ratio = statistics.median(times["qtrain-adj"]) / statistics.median(times["lightning-adj"])
    print(f"qtrain / lightning (medians): {ratio:.2f} (target ≤ 1.5)")
    if opts.json:
        payload = {"n": opts.n, "layers": opts.layers, "max_abs_diff": diff, "times_s": times}
        _results.write(opts.json, payload | {"ratio_of_medians": ratio})
    return 0


if __name__ == "__main__":
    sys.exit(main())
