"""Where does ``qt.expval`` spend its time? A profile of the bench_expval.py workload.

Runs the hardware-efficient ansatz (RY, RZ on every wire, CNOT ladder; ``Σ Z_i``) on ``rows``
parameter rows and prints two views of the same calls after one warm-up call:

* time per simulator stage: every function of the active kernel set (``apply_one_qubit``,
  ``apply_permutation``, ...) plus gate-matrix building (``op_matrices``) and the expectation
  (``exact_values``), wrapped with a timer in this process only (nothing in src/ changes);
* the top functions of ``cProfile`` by their own time.

Run::

    python bench/profile_expval.py --n 20 --layers 10 --rows 1
    QTRAIN_KERNELS=numpy python bench/profile_expval.py --n 12 --layers 6 --rows 512
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import functools
import importlib
import pstats
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

try:
    import qtrain as qt
except ImportError:  # running from a checkout without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import qtrain as qt

STAGE_TIME: collections.Counter[str] = collections.Counter()
STAGE_CALLS: collections.Counter[str] = collections.Counter()


def timed(name: str, fn: Any) -> Any:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            STAGE_TIME[name] += time.perf_counter() - t0
            STAGE_CALLS[name] += 1

    return wrapper


def instrument() -> str:
    """Wrap the active kernels and the Python-side stages; returns the kernel module's name."""
    statevector = importlib.import_module("qtrain.sim.statevector")
    kernels = statevector.select_kernels()
    names = ["apply_one_qubit", "apply_diagonal", "apply_matrix", "apply_permutation"]
    for name in [*names, "weighted_probabilities"]:
        if hasattr(kernels, name):
            setattr(kernels, name, timed(name, getattr(kernels, name)))
    patches = [
        ("qtrain.sim.statevector", "op_matrices"),
        ("qtrain.sim.statevector", "run_program"),
        ("qtrain.backends.local", "exact_values"),
    ]
    for module_name, attr in patches:
        module = importlib.import_module(module_name)
        if hasattr(module, attr):
            setattr(module, attr, timed(attr, getattr(module, attr)))
    return str(kernels.__name__)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--layers", type=int, default=10)
    parser.add_argument("--rows", type=int, default=1, help="1 = single (P,) call")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--top", type=int, default=12)
    opts = parser.parse_args()
    circuit = qt.ansatz.hardware_efficient(opts.n, opts.layers)
    obs = sum((qt.Z(i) for i in range(1, opts.n)), qt.Z(0))
    rng = np.random.default_rng(0)
    theta = rng.uniform(-np.pi, np.pi, (opts.rows, circuit.n_params))
    arg = theta[0] if opts.rows == 1 else theta
    qt.expval(circuit, obs, arg)  # warm-up: compile, caches
    kernels = instrument()
    t0 = time.perf_counter()
    for _ in range(opts.repeats):
        qt.expval(circuit, obs, arg)
    wall = (time.perf_counter() - t0) / opts.repeats
    print(f"n={opts.n} layers={opts.layers} rows={opts.rows} kernels={kernels}")
    print(f"wall per call {wall * 1e3:.1f} ms (timers on)\n")
    print(f"{'stage':<20} {'calls/call':>10} {'ms/call':>10} {'share':>7}")
    for name, total in STAGE_TIME.most_common():
        per_call = total / opts.repeats
        calls = STAGE_CALLS[name] / opts.repeats
        print(f"{name:<20} {calls:>10.0f} {per_call * 1e3:>10.2f} {per_call / wall:>7.1%}")
    print("(run_program contains the kernels and op_matrices; exact_values is the measurement)\n")
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(opts.repeats):
        qt.expval(circuit, obs, arg)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(opts.top)


if __name__ == "__main__":
    main()
