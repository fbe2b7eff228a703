"""Benchmark: what the 2ⁿ-term global cost 1 − |0⟩⟨0| costs the observable and measurement code.

Builds the projector as a Pauli sum (2ⁿ Z strings) without qtrain.diagnostics, so the same
script runs on commits before the diagnostics existed, and times: building it, hashing it
(every cache lookup hashes the observable), grouping, fingerprinting and the measurement
plan (eigenvalue table), each uncached (the functions under their caches), and an exact
expectation of a product state (warm caches: what every further call costs), checked
against the analytic value. Best of three, with a garbage collection before each call
(single calls were dominated by collector pauses over the 2ⁿ term objects).

    python bench/bench_global_cost.py               # n = 10, 12, 14
"""

from __future__ import annotations

import gc
import sys
import time
from pathlib import Path

import numpy as np

try:
    import qtrain as qt
except ImportError:  # running from a checkout without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import qtrain as qt

from qtrain.ir import observables
from qtrain.ir.observables import Observable
from qtrain.ir.pauli import PauliTerm
from qtrain.sim.measure import measurement_plan


def projector_cost(n: int) -> Observable:
    terms = [(PauliTerm(()), 1.0)]
    for mask in range(1 << n):
        wires = [w for w in range(n) if mask >> (n - 1 - w) & 1]
        terms.append((PauliTerm(tuple((w, "Z") for w in wires)), -1.0 / (1 << n)))
    return Observable.from_terms(terms)


def timed(function, *args):  # type: ignore[no-untyped-def]
    best, value = float("inf"), None
    for _ in range(3):
        gc.collect()
        started = time.perf_counter()
        value = function(*args)
        best = min(best, time.perf_counter() - started)
    return value, best


def main() -> None:
    sizes = [int(s) for s in sys.argv[1].split(",")] if len(sys.argv) > 1 else [10, 12, 14]
    print("| n | terms | build | hash | groups | fingerprint | plan | expval | error |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in sizes:
        cost, build = timed(projector_cost, n)
        _, first_hash = timed(hash, cost)
        _, groups = timed(observables._qubitwise_groups.__wrapped__, cost)
        _, fingerprint = timed(observables._fingerprint.__wrapped__, cost)
        _, plan = timed(measurement_plan.__wrapped__, cost, n)
        circuit = qt.Circuit(n)
        for q in range(n):
            circuit = circuit.ry(q, qt.P(q))
        theta = np.random.default_rng(1).uniform(0, 2 * np.pi, n)
        value, expval = timed(qt.expval, circuit, cost, theta)
        error = abs(value - (1 - np.prod(np.cos(theta / 2) ** 2)))
        print(
            f"| {n} | {cost.n_terms} | {build:.3f} s | {first_hash * 1e3:.2f} ms | "
            f"{groups * 1e3:.1f} ms | {fingerprint:.3f} s | {plan:.3f} s | {expval:.3f} s | "
            f"{error:.1e} |"
        )


if __name__ == "__main__":
    main()
