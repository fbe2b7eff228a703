"""What observability costs a training run (issue #7).

Workload: the built-in H2 VQE (4 qubits, UCC double excitation), Adam on parameter-shift
gradients at 1000 shots, 40 steps, local simulator, a run folder (checkpoint and
metrics.jsonl every step). Timed, each as the median of --repeats runs:

* the run alone (the always-on JSONL tracker only);
* with the runner's log tracker and the Prometheus tracker bound to the executor (logging
  off: qtrain's default), with JSON logs to /dev/null at info, and with MLflow (SQLite);
* one scrape (``MetricsTracker.render()``) after the run;
* ``write_report`` on the finished run (matplotlib already imported).

    python bench/bench_observe.py [--repeats 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import _results  # bench/_results.py: the meta block every result file carries

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import qtrain as qt
from qtrain.logs import configure_logging, remove_logging
from qtrain.observe.metrics import MetricsTracker
from qtrain.train.tracking import LogTracker, RunContext, bound

STEPS = 40


def run(folder: Path, mode: str) -> tuple[float, MetricsTracker | None]:
    problem = qt.problems.h2()
    objective = qt.Objective.from_problem(problem)
    executor = qt.Executor(qt.LocalSimulator(), store=qt.ResultStore(folder / "results.sqlite"))
    trackers: list[object] = []
    metrics = None
    if mode != "plain":
        metrics = MetricsTracker()
        trackers = [LogTracker(), metrics]
    if mode == "mlflow":
        trackers.append(
            qt.MlflowTracker(tracking_uri=f"sqlite:///{folder.parent / 'mlflow.db'}", plots=False)
        )
    handler, sink = None, open(os.devnull, "w")
    if mode == "json-logs":
        handler = configure_logging("json", stream=sink)
    context = RunContext(folder.name, folder, executor, qt.Budget(max_steps=STEPS))
    started = time.perf_counter()
    try:
        with bound(trackers, context):
            qt.fit(
                objective,
                problem.theta0,
                qt.optim.Adam(learning_rate=0.05),
                method="param-shift",
                shots=1000,
                seed=7,
                budget=qt.Budget(max_steps=STEPS),
                executor=executor,
                run_dir=folder,
                trackers=trackers,
            )
    finally:
        if handler is not None:
            remove_logging(handler)
        sink.close()
    return time.perf_counter() - started, metrics


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    results: dict[str, object] = {"steps": STEPS, "repeats": args.repeats}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        run(root / "warmup", "mlflow")  # imports, MLflow tables, numba compilation
        last = None
        for mode in ("plain", "trackers", "json-logs", "mlflow"):
            times = []
            for k in range(args.repeats):
                seconds, metrics = run(root / f"{mode}-{k}", mode)
                times.append(seconds)
                last = metrics or last
            results[mode] = {"median_s": statistics.median(times), "all_s": times}
            print(
                f"{mode:10s} median {statistics.median(times):.3f} s "
                f"({statistics.median(times) / STEPS * 1e3:.2f} ms/step)"
            )
        assert last is not None
        scrapes = []
        for _ in range(200):
            started = time.perf_counter()
            last.render()
            scrapes.append(time.perf_counter() - started)
        results["scrape_median_s"] = statistics.median(scrapes)
        results["scrape_bytes"] = len(last.render())
        print(
            f"scrape     median {statistics.median(scrapes) * 1e3:.3f} ms, "
            f"{results['scrape_bytes']} bytes"
        )
        qt.write_report(root / "plain-0")  # matplotlib import, font cache
        reports = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            qt.write_report(root / "plain-0")
            reports.append(time.perf_counter() - started)
        results["report_median_s"] = statistics.median(reports)
        print(f"report     median {statistics.median(reports):.3f} s (warm)")
    if args.json:
        _results.write(args.json, results)


if __name__ == "__main__":
    main()
