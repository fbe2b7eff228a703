"""Is a step of a long run as cheap as a step of a short one? (issue 14: O(1) checkpoints)

Trains a small problem — the 2-qubit hardware-efficient ansatz (one layer, 4 parameters),
``Z0 Z1 + 0.5 X1``, exact adjoint gradients, Adam — for ``--steps`` steps with a run folder,
so every step appends to ``metrics.jsonl`` and writes an fsync-ed checkpoint, as a real run
does. A step's time is the wall time between two successive step records (it includes the
previous step's checkpoint). The run is flat when the last ``--window`` steps cost at most
1.2x the first ``--window``: the checkpoint used to hold the whole history (step 2.3 ms at
the start, 109 ms at step 2 500). It also reports the checkpoint's size at the end and what a
resume of the finished run costs (it reads the history back from ``metrics.jsonl``).

    python bench/bench_long_run.py                                  # 10 000 steps
    python bench/bench_long_run.py --steps 3000 --window 500
    python bench/bench_long_run.py --repeats 3 --json bench/results/long-run.json
    python bench/bench_long_run.py --run-dir /dev/shm      # tmpfs: no fsync cost, qtrain only

On a disk shared with other work the fsync times drift during a run; ``--repeats`` keeps each
window's fastest run, and a tmpfs run folder shows what qtrain's own code costs.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import _results  # bench/_results.py: the meta block every result file carries
import numpy as np

try:
    import qtrain as qt
except ImportError:  # a plain checkout: use src/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    import qtrain as qt


class StepClock:
    """A tracker that notes when each step record arrives."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def start(self, info: Mapping[str, Any]) -> None:
        self.times.append(time.perf_counter())

    def log(self, record: object) -> None:
        self.times.append(time.perf_counter())

    def finish(self, summary: Mapping[str, Any]) -> None:
        pass


def problem() -> tuple[qt.Objective, np.ndarray]:
    circuit = qt.ansatz.hardware_efficient(2, 1)
    observable = qt.Z(0) @ qt.Z(1) + 0.5 * qt.X(1)
    return qt.Objective.single(circuit, observable), np.full(circuit.n_params, 0.3)


def window(seconds: np.ndarray) -> dict[str, float]:
    return {
        "mean_ms": float(seconds.mean() * 1e3),
        "median_ms": float(np.median(seconds) * 1e3),
        "p95_ms": float(np.percentile(seconds, 95) * 1e3),
    }


def run(steps: int, size: int, folder: Path) -> dict[str, Any]:
    objective, theta0 = problem()
    clock = StepClock()
    run_dir = folder / "long-run"

    def train(**extra: Any) -> qt.FitResult:
        return qt.fit(
            objective,
            theta0,
            qt.optim.Adam(learning_rate=0.001),
            method="adjoint",
            seed=1,
            budget=qt.Budget(max_steps=steps),
            run_dir=run_dir,
            **extra,
        )

    started = time.perf_counter()
    result = train(trackers=[clock])
    total = time.perf_counter() - started
    assert result.steps == steps, result.stopped_by
    seconds = np.diff(np.array(clock.times))  # seconds[k]: record k-1 -> record k
    first, last = window(seconds[1 : size + 1]), window(seconds[-size:])
    started = time.perf_counter()
    resumed = train(resume=True)
    resume_s = time.perf_counter() - started
    assert resumed.steps == steps and resumed.theta.tobytes() == result.theta.tobytes()
    return {
        "steps": steps,
        "window": size,
        "first": first,
        "last": last,
        "ratio_mean": last["mean_ms"] / first["mean_ms"],
        "ratio_median": last["median_ms"] / first["median_ms"],
        "total_s": total,
        "checkpoint_bytes": (run_dir / "checkpoint.json").stat().st_size,
        "metrics_bytes": (run_dir / "metrics.jsonl").stat().st_size,
        "resume_s": resume_s,
    }


def fastest(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One report from repeated runs: each window from the run where it was fastest.

    A disk shared with other work makes fsync times drift over a run; the fastest of a few
    runs is the closest to what the code itself costs at each end.
    """
    numbers = dict(runs[0])
    for end in ("first", "last"):
        numbers[end] = min((r[end] for r in runs), key=lambda part: part["mean_ms"])
    numbers["ratio_mean"] = numbers["last"]["mean_ms"] / numbers["first"]["mean_ms"]
    numbers["ratio_median"] = numbers["last"]["median_ms"] / numbers["first"]["median_ms"]
    numbers["repeats"] = len(runs)
    numbers["total_s"] = min(r["total_s"] for r in runs)
    numbers["runs"] = runs
    return numbers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000, help="steps of the run")
    parser.add_argument("--window", type=int, default=1000, help="steps compared at each end")
    parser.add_argument("--run-dir", help="parent folder of the run (default: $TMPDIR)")
    parser.add_argument(
        "--repeats", type=int, default=1, help="runs; each window keeps its fastest run"
    )
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args(argv)
    if args.steps < 2 * args.window + 1:
        parser.error("--steps must be more than twice --window")
    runs = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory(dir=args.run_dir) as folder:
            runs.append(run(args.steps, args.window, Path(folder)))
    numbers = fastest(runs)
    numbers["environment"] = {
        "qtrain": qt.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }
    first, last = numbers["first"], numbers["last"]
    print(
        f"{numbers['steps']:,} steps (2-qubit adjoint, Adam, run folder): "
        f"{numbers['total_s']:.1f} s"
    )
    for name, part in (("first", first), ("last", last)):
        print(
            f"  {name} {args.window:,} steps: mean {part['mean_ms']:.3f} ms, median "
            f"{part['median_ms']:.3f} ms, p95 {part['p95_ms']:.3f} ms"
        )
    flat = numbers["ratio_mean"] <= 1.2
    print(
        f"  last/first: mean {numbers['ratio_mean']:.3f}x, median {numbers['ratio_median']:.3f}x "
        f"({'flat' if flat else 'NOT flat'}: limit 1.2x)"
    )
    print(
        f"  checkpoint {numbers['checkpoint_bytes']:,} B, metrics.jsonl "
        f"{numbers['metrics_bytes']:,} B; resume of the finished run (reads the history back) "
        f"{numbers['resume_s']:.2f} s"
    )
    if args.json:
        _results.write(args.json, numbers)
    return 0 if flat else 1


if __name__ == "__main__":
    sys.exit(main())
