"""Benchmark: what the execution layer costs on top of the simulator, and Dask throughput.

Overhead: the param-shift gradient of ⟨Σ Z_i⟩ of the hardware-efficient ansatz (one task of
2P+1 rows) at (n, layers) = (4, 2) and (16, 8), exact and at 1000 shots, run directly
(``LocalSimulator().run``), through ``Executor``, with a fresh ``ResultStore``, fully cached
and via ``qt.grad``; timed in rounds of rotating order, overhead = median over rounds of
variant / direct − 1. The executor's own cost is also timed without a simulator (a backend
replaying the direct results) and split into keys, validation and store I/O. Dask: ``--bp``
random rows of one circuit through ``DaskExecutor`` with 1 and 2 workers. Every path is
checked bit for bit against ``sim.run`` first. The store's commit alone: bench_store.py.

    python bench/bench_exec.py --quick        # about 3 min on 2 cores; --json exec-full.json
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import importlib.metadata
import itertools
import json
import os
import platform
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import _results  # bench/_results.py: the meta block every result file carries
import numpy as np

try:
    import qtrain as qt
except ImportError:  # running from a checkout without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import qtrain as qt
from qtrain.backends.protocol import BackendLimits, Result, Task
from qtrain.exec.keys import row_keys
from qtrain.exec.store import StoredRow
from qtrain.exec.validation import Chunk, invalid_reason

SIZES = [(4, 2), (16, 8)]
SEED, SHOTS, SHOT_SEED = 20261124, 1000, 1
DISTS = "qtrain numpy numba dask distributed".split()
THREAD_VARS = "OMP_NUM_THREADS NUMBA_NUM_THREADS QTRAIN_KERNELS QTRAIN_MEMORY_BUDGET".split()
HZ, CPUS = os.sysconf("SC_CLK_TCK"), os.cpu_count() or 1
VARIANTS = ["direct", "executor", "store", "cached", "grad"]
Step = Callable[[], dict[str, float]]
PARTS = ["keys", "validation", "store write", "store lookup", "store read (hit)"]


def own_ticks() -> int:
    """CPU ticks of this process and its live descendants (Dask's workers included)."""
    children: dict[int, list[int]] = {}
    ticks, total, todo = {}, 0, [os.getpid()]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):  # gone meanwhile
            fields = Path(f"/proc/{pid}/stat").read_text(errors="replace").rsplit(")", 1)[1]
            children.setdefault(int(fields.split()[1]), []).append(int(pid))
            ticks[int(pid)] = int(fields.split()[11]) + int(fields.split()[12])
    while todo:
        pid = todo.pop()
        total += ticks.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def snapshot() -> tuple[float, float, float]:
    """(wall clock, busy CPU seconds of the machine, CPU seconds of this process tree)."""
    with open("/proc/stat", encoding="ascii") as stat:
        ticks = [int(x) for x in stat.readline().split()[1:9]]
    return time.perf_counter(), (sum(ticks) - ticks[3] - ticks[4]) / HZ, own_ticks() / HZ


def foreign_share(before: tuple[float, float, float]) -> float:
    """Share of the machine other processes kept busy since ``before`` (0 below 0.05 CPU-s)."""
    after = snapshot()
    foreign = max(0.0, (after[1] - before[1]) - (after[2] - before[2]))
    return foreign / ((after[0] - before[0]) * CPUS) if foreign >= 0.05 else 0.0


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def median_time(fn: Callable[..., Any], budget: float, setup: Callable[[], Any] | None = None):
    """Median of >= 5 calls (``budget`` s, 300 at most) of ``fn(setup())`` (setup untimed)."""
    times: list[float] = []
    while len(times) < 5 or (sum(times) < budget and len(times) < 300):
        arg = () if setup is None else (setup(),)
        times.append(timed(lambda: fn(*arg)))  # noqa: B023 - runs now
    return statistics.median(times)


def same(a: Sequence[Result], b: Sequence[Result], cached: bool = False) -> bool:
    """Bit-identical values and variances; the same shots spent (none when ``cached``)."""
    return len(a) == len(b) and all(
        np.array_equal(x.values, y.values)
        and (x.variances is None) == (y.variances is None)
        and (x.variances is None or np.array_equal(x.variances, y.variances))
        and y.shots == (0 if cached else x.shots)
        for x, y in zip(a, b, strict=True)
    )


class Replay:
    """A backend that hands back precomputed results: the executor's cost without a simulator."""

    name, limits = "replay", BackendLimits()

    def __init__(self, results: Sequence[Result]) -> None:
        self.results = list(results)

    def run(self, tasks: Sequence[Task]) -> list[Result]:  # rows deduplicated away: invalid
        return self.results


def breakdown(tasks: list[Task], ref: list[Result], tmp: Path, budget: float) -> dict[str, Any]:
    """The executor's own cost (replay backend) and its parts, each timed on its own."""
    counter = itertools.count()
    shots = [t.shot_matrix() for t in tasks]
    chunks = [Chunk(t, np.arange(t.params.shape[0]), m) for t, m in zip(tasks, shots, strict=True)]
    keys = [row_keys(t, m) for t, m in zip(tasks, shots, strict=True)]
    rows = {
        k: StoredRow(r.values[i], None if r.variances is None else r.variances[i], 0, r.metadata)
        for task_keys, r in zip(keys, ref, strict=True)
        for i, k in enumerate(task_keys)
    }
    full = qt.ResultStore(tmp / "full.sqlite")
    full.put_many(rows)

    def fresh() -> qt.ResultStore:  # opened before, and not timed with, each call
        return qt.ResultStore(tmp / f"b{next(counter)}.sqlite")

    def stored() -> qt.Executor:
        return qt.Executor(Replay(ref), store=fresh())

    first = tasks[0]
    sub = None if shots[0] is None else shots[0][:1]
    one = Task(first.circuit, first.observables, first.params[:1], sub, first.seed)
    one_ref = qt.LocalSimulator().run([one])
    pairs = list(zip(chunks, ref, strict=True))
    replay, replay_one = qt.Executor(Replay(ref)), qt.Executor(Replay(one_ref))
    out = {
        "replay": median_time(lambda: replay.run(tasks), budget),
        "replay+store": median_time(lambda ex: ex.run(tasks), budget, stored),
        "per task": median_time(lambda: replay_one.run([one]), budget),
        "keys": median_time(lambda: [row_keys(t, t.shot_matrix()) for t in tasks], budget),
        "validation": median_time(lambda: [invalid_reason(c, r) for c, r in pairs], budget),
        "store write": median_time(lambda s: s.put_many(rows), budget, fresh),
        "store lookup": median_time(lambda s: s.get_many(rows), budget, fresh),
        "store read (hit)": median_time(lambda: full.get_many(rows), budget),
    }
    out["rest"] = out["replay+store"] - sum(out[p] for p in PARTS[:4])
    runs = [stored() for _ in range(max(3, min(50, int(0.2 / out["replay+store"]))))]
    profile = cProfile.Profile()
    profile.runcall(lambda: [ex.run(tasks) for ex in runs])
    stats = sorted(pstats.Stats(profile).stats.items(), key=lambda kv: -kv[1][2])  # type: ignore[attr-defined]
    top = [(f"{Path(f).name}:{line} {fn}", s[1], s[2]) for (f, line, fn), s in stats[:10]]
    out["profile"] = [(name, calls / len(runs), s / len(runs)) for name, calls, s in top]
    return out


def check_round(steps: list[Step], got: dict[str, Any], redo: Callable[[], Any]) -> dict:
    """Every path once (also its warm-up), compared bit for bit with ``sim.run``."""
    ref = got["direct"]
    spent = {k: v for step in steps for k, v in step().items()}
    checks = {name: same(ref, got[name], name == "cached") for name in VARIANTS[:4]}
    checks["all rows cached"] = got["cached_rows"] == sum(r.values.shape[0] for r in ref)
    again = redo()  # the gradient again, every row read back from the last store
    checks["grad: executor vs cached store"] = bool(
        np.array_equal(got["grad"].value, again.value)
        and (again.stderr is None or np.array_equal(got["grad"].stderr, again.stderr))
    )
    return {"checks": checks, "check_round_s": spent}


def workload(n: int, layers: int) -> tuple[qt.Circuit, Any]:
    return qt.ansatz.hardware_efficient(n, layers), sum((qt.Z(i) for i in range(1, n)), qt.Z(0))


def bench_case(n: int, layers: int, shots: bool, opts: argparse.Namespace) -> dict[str, Any]:
    circuit, obs = workload(n, layers)
    theta = np.random.default_rng([SEED, n, layers]).uniform(-np.pi, np.pi, circuit.n_params)
    kw: dict[str, Any] = {"shots": SHOTS, "seed": SHOT_SEED} if shots else {}
    tasks = qt.gradient_tasks(circuit, [obs], theta, method="param-shift", **kw)
    sim, t0 = qt.LocalSimulator(), time.perf_counter()
    plain, tmp = qt.Executor(sim), opts.tmp / f"n{n}-{'shots' if shots else 'exact'}"
    counter, got = itertools.count(), {"direct": sim.run(tasks)}  # warm-up
    keep = got.__setitem__

    def run_store() -> dict[str, float]:
        got["path"] = tmp / f"s{next(counter)}.sqlite"
        store = qt.ResultStore(got["path"], durability=opts.durability)
        ex, again = qt.Executor(sim, store=store), qt.Executor(sim, store=store)
        out = {"store": timed(lambda: keep("store", ex.run(tasks)))}
        out["cached"] = timed(lambda: keep("cached", again.run(tasks)))
        got["cached_rows"] = again.counters.cached
        return out

    def grad(executor: qt.Executor) -> Any:
        return qt.grad(circuit, obs, theta, method="param-shift", executor=executor, **kw)

    steps: list[Step] = [
        lambda: {"direct": timed(lambda: keep("direct", sim.run(tasks)))},
        lambda: {"executor": timed(lambda: keep("executor", plain.run(tasks)))},
        run_store,
        lambda: {"grad": timed(lambda: keep("grad", grad(plain)))},
    ]
    entry: dict[str, Any] = {"n": n, "layers": layers, "shots": SHOTS if shots else None}
    entry |= {"tasks": len(tasks), "rows": sum(t.params.shape[0] for t in tasks)}
    entry |= check_round(
        steps, got, lambda: grad(qt.Executor(sim, store=qt.ResultStore(got["path"])))
    )
    if not all(entry["checks"].values()):
        print(f"  !! n={n} shots={shots}: results differ: {entry['checks']}", file=sys.stderr)
        return entry | {"agreement_failed": True}
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    before = snapshot()
    for r in range(opts.rounds[n]):
        for step in steps[r % len(steps) :] + steps[: r % len(steps)]:
            for name, spent in step().items():
                times[name].append(spent)
    entry["foreign_cpu"] = foreign_share(before)
    entry["variants"] = {
        name: {
            "median_s": statistics.median(ts),
            "times_s": ts,
            "overhead": statistics.median(
                t / d - 1 for t, d in zip(ts, times["direct"], strict=True)
            ),
        }
        for name, ts in times.items()
    }
    plan = lambda: qt.gradient_tasks(circuit, [obs], theta, method="param-shift", **kw)  # noqa: E731
    entry["plan_s"] = median_time(plan, 0.2)
    entry["overhead_parts_s"] = breakdown(tasks, got["direct"], tmp, 0.5 if opts.quick else 1.5)
    return entry | {"wall_s": time.perf_counter() - t0}


def bench_dask(opts: argparse.Namespace) -> dict[str, Any]:
    n, layers, count = opts.bp
    circuit, obs = workload(n, layers)
    rng = np.random.default_rng([SEED, 1, n, layers])
    task = Task(circuit, (obs,), rng.uniform(-np.pi, np.pi, (count, circuit.n_params)))
    local = qt.Executor(sim := qt.LocalSimulator())
    ref = sim.run([task])  # warm-up
    entry: dict[str, Any] = {"n": n, "layers": layers, "rows": count, "configs": {}, "checks": {}}

    def measure(name: str, fn: Callable[[], list[Result]], extra: dict[str, Any]) -> None:
        out: list[list[Result]] = []
        first = timed(lambda: out.append(fn()))  # also this path's warm-up
        entry["checks"][name] = same(ref, out[0])
        if not entry["checks"][name]:
            print(f"  !! {name}: results differ from sim.run", file=sys.stderr)
            return
        before = snapshot()
        times = [timed(fn) for _ in range(opts.dask_repeats)]
        med = statistics.median(times)
        rec = {"first_call_s": first, "median_s": med, "times_s": times, "rows_per_s": count / med}
        entry["configs"][name] = extra | rec | {"foreign_cpu": foreign_share(before)}
        print(f"  {name}: {fmt_time(med)}", flush=True)

    measure("sim.run (this process)", lambda: sim.run([task]), {})
    measure("Executor(sim) (this process)", lambda: local.run([task]), {})
    for workers in (1, 2):
        t0 = time.perf_counter()
        with qt.DaskExecutor(n_workers=workers) as ex:
            extra = {"startup_s": time.perf_counter() - t0}
            for max_rows in opts.max_rows if workers == 2 else [64]:
                ex.max_rows = max_rows  # chunk size: rows per Dask task
                measure(f"Dask {workers}, max_rows={max_rows}", lambda ex=ex: ex.run([task]), extra)
    one = entry["configs"].get("Dask 1, max_rows=64", {}).get("median_s", np.nan)
    for rec in entry["configs"].values():
        rec["speedup_vs_dask1"] = one / rec["median_s"]
    return entry


def environment() -> dict[str, Any]:
    statevector = sys.modules.get("qtrain.sim.statevector")  # internal: best effort
    kernels = getattr(statevector, "select_kernels", None)
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    versions = {}
    for dist in DISTS:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[dist] = importlib.metadata.version(dist)
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "cpu_model": next(
            (ln.split(":", 1)[1].strip() for ln in cpuinfo if "model name" in ln), None
        ),
        "cpu_count": CPUS,
        "thread_env": {k: os.environ.get(k) for k in THREAD_VARS},
        "qtrain_kernels": None if kernels is None else str(kernels().__name__),
    }


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def tables(cases: list[dict[str, Any]], dask: dict[str, Any] | None) -> str:
    done = [e for e in cases if "variants" in e]
    head = (
        "n | L | shots | rows | direct | executor | + store | cached | qt.grad | replay | per task"
    )
    lines = [f"| {head} |", "|" + "---|" * 11]
    for e in done:
        v, p, direct = e["variants"], e["overhead_parts_s"], e["variants"]["direct"]["median_s"]
        cells = [e["n"], e["layers"], e["shots"] or "exact", e["rows"], fmt_time(direct)]
        cells[-1] += "!" if e["foreign_cpu"] > 0.1 else ""
        cells += [f"{fmt_time(v[k]['median_s'])} ({v[k]['overhead']:+.1%})" for k in VARIANTS[1:]]
        cells += [f"{fmt_time(p['replay'])} ({p['replay'] / direct:.2%})", fmt_time(p["per task"])]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    keys = [*PARTS, "rest", "replay+store"]
    lines += ["", "| n | shots | " + " | ".join(keys) + " |", "|" + "---|" * (len(keys) + 2)]
    for e in done:
        parts = " | ".join(fmt_time(e["overhead_parts_s"][k]) for k in keys)
        lines.append(f"| {e['n']} | {e['shots'] or 'exact'} | {parts} |")
    if dask:
        lines += ["", f"Dask: (n, L) = ({dask['n']}, {dask['layers']}), {dask['rows']} rows"]
        lines += ["| path | start-up | first call | time | rows/s | vs Dask 1 |", "|---" * 6 + "|"]
        for name, rec in dask["configs"].items():
            startup = fmt_time(rec["startup_s"]) if "startup_s" in rec else "-"
            flag = "!" if rec["foreign_cpu"] > 0.1 else ""
            lines.append(
                f"| {name} | {startup} | {fmt_time(rec['first_call_s'])} | "
                f"{fmt_time(rec['median_s'])}{flag} | {rec['rows_per_s']:.0f} | "
                f"{rec['speedup_vs_dask1']:.2f}× |"
            )
    return "\n".join(lines)


def targets(cases: list[dict[str, Any]]) -> list[str]:
    """Executor overhead under 5 % for a 16-qubit gradient, under 20 % for a 4-qubit one."""
    out = []
    for e, name in itertools.product([e for e in cases if "variants" in e], ("executor", "store")):
        limit, over = (0.05 if e["n"] == 16 else 0.20), e["variants"][name]["overhead"]
        pure = e["overhead_parts_s"]["replay" if name == "executor" else "replay+store"]
        out.append(
            f"n={e['n']} {e['shots'] or 'exact'} {name}: measured {over:+.1%}, replay "
            f"{pure / e['variants']['direct']['median_s']:.2%} (< {limit:.0%}): "
            + ("MET" if over < limit else "MISSED")
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and repeats")
    parser.add_argument("--json", type=Path, help="write all results to this file")
    parser.add_argument("--sizes", default="4,16", help="n of the overhead cases (4 and/or 16)")
    parser.add_argument("--bp", default="14,14,1000", help="Dask batch: n,layers,rows")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask section")
    parser.add_argument("--store-dir", help="folder for the SQLite stores (default: $TMPDIR)")
    parser.add_argument("--durability", choices=["full", "normal"], default="full")
    opts = parser.parse_args(argv)
    opts.bp = tuple(int(x) for x in opts.bp.split(","))
    opts.rounds = {4: 9, 16: 1} if opts.quick else {4: 25, 16: 3}
    opts.dask_repeats = 2 if opts.quick else 3
    opts.max_rows = [64] if opts.quick else [16, 64, 250]
    env = environment()
    print(json.dumps(env, indent=1, ensure_ascii=False))
    started, cases = time.perf_counter(), []
    with tempfile.TemporaryDirectory(prefix="qtrain-bench-exec-", dir=opts.store_dir) as tmp:
        opts.tmp = Path(tmp)
        for (n, layers), shots in itertools.product(SIZES, (False, True)):
            if str(n) in opts.sizes.split(",") and not (opts.quick and n == 16 and shots):
                cases.append(bench_case(n, layers, shots, opts))
                print(f"n={n} shots={shots}: {cases[-1].get('wall_s', 0):.1f} s", flush=True)
    dask = None if opts.no_dask else bench_dask(opts)
    total = time.perf_counter() - started
    print(f"\n{tables(cases, dask)}\n\n(+x %): median of variant / direct − 1; replay: % of "
          "direct; !: other processes used > 10 % of the machine meanwhile")  # fmt: skip
    verdicts = targets(cases)
    print("\n".join(verdicts))
    failed = [e["n"] for e in cases if "agreement_failed" in e]
    failed += [] if dask is None or all(dask["checks"].values()) else ["dask"]
    print("bit-identical on every path: " + ("FAILED for " + str(failed) if failed else "yes"))
    print(f"total {total:.0f} s")
    if opts.json:
        payload = {"mode": "quick" if opts.quick else "full", "seed": SEED, "shots": SHOTS}
        payload |= {"rounds": opts.rounds, "environment": env, "cases": cases, "dask": dask}
        _results.write(opts.json, payload | {"targets": verdicts, "total_s": total})
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
