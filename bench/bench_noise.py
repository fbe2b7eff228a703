"""Benchmark: noisy ⟨Σ Z_i⟩ and its full param-shift gradient, qtrain against Aer and PennyLane.

Workload (issue 15): the hardware-efficient ansatz at 2 layers (per layer RY(θ), RZ(θ) on every
wire, then CNOT(q, q+1); P = 4n, index l·2n + r·n + q), observable Σ Z_i, noise: 1-wire
depolarizing p = 0.01 after every RY and RZ, 2-wire depolarizing p = 0.02 after every CNOT
(Aer's convention ρ → (1−p)ρ + p·I/2ᵏ, which is qtrain's), and readout error p01 = 0.02,
p10 = 0.05 on every wire. n = 4, 6, 8, 10, 12, in one process:

* `qtrain-dm`: `qt.LocalSimulator(noise=m, method="density_matrix")`, `qt.expval` and
  `qt.grad(..., method="param-shift")`, exact (readout applied exactly inside qtrain).
* `qtrain-traj`: `method="trajectories"`, 100 trajectories per row, 1000 shots per row,
  seed 1; the table gives the time and the mean standard error reached (no exact peer
  samples, so the trajectories are compared with qtrain-dm). Plus one run at n = 20
  (`--big-n`), where no density matrix fits: one θ, timed once, and the full gradient only
  when (2P+1)·t₁ fits twice the cap (else its predicted time is printed); nothing exact
  exists there to check it against.
* `aer-dm`: `AerSimulator(method="density_matrix")` with the equivalent Aer `NoiseModel`
  (`depolarizing_error(p, k)` after ry/rz/cx), ONE `backend.run` job of the circuit with
  `save_expectation_value(Σ Z_i)` and `parameter_binds` holding all 2P+1 rows (θ and
  θ ± π/2·e_k); gradient (v₊ − v₋)/2. That is what Aer's `EstimatorV2` does inside, minus
  the primitive's wrapping (measured as fast or faster here; `--libs aer-est` times the
  estimator too).
* `pl-mixed`: PennyLane `default.mixed`, `DepolarizingChannel(3p/4)` (PennyLane's p is Aer's
  3/4) after RY/RZ, `QubitChannel` with the 16 Kraus operators of the 2-wire depolarizing
  channel after CNOT, `qml.grad` of a `diff_method="parameter-shift"` QNode.

Readout error, the honest way for the peers: Aer applies `ReadoutError` only to sampled
measurements (its exact `save_expectation_value` ignores it), and `default.mixed` has only a
symmetric `readout_prob`. For Σ Z_i the effect of independent readout errors is exactly
affine, ⟨Z_i⟩ → (1 − p01 − p10)·⟨Z_i⟩ + (p10 − p01), so the peers are timed without readout
and the exact correction is applied to their numbers classically (it costs nothing). Before
timing, the checks make sure this stands for what the libraries would do themselves: Aer with
`ReadoutError([[1−p01, p01], [p10, 1−p10]])` in its noise model, sampled (200 000 shots),
must agree with the corrected exact value (|z| ≤ 5); PennyLane with the readout as a
`QubitChannel` on every wire before measurement must equal it to 1e-8; and a dense numpy
Kraus reference written here (density matrix as a 2n-index tensor, every Kraus operator
applied, readout as confusion matrices on the diagonal) must equal every exact library.

qtrain is never capped: it always runs its whole gradient (it shares work between the
shifted rows, so a k-row extrapolation would overstate its cost).

Checks before timing: at n = 4 and 6 (n = 4 with `--quick`) every library's expectation
and gradient against the numpy reference (1e-8; trajectories: every |z| ≤ 5 with qtrain's
standard errors), then at every size each library's first call (also its warm-up) against
the reference library (qtrain-dm, or Aer when qtrain is absent). The exit status is 1 on any
disagreement, and nothing is timed after a failed initial check.

Times are medians of up to `--repeat` calls (5; quick 3) within 20 s (quick 6 s) after the
check call. Cap (`*`, peers only): the first call of each library is one expectation, t₁
(a second one when the first was short enough to carry one-off costs; the faster counts).
When (2P+1)·t₁ would exceed the cap (60 s; quick 10 s), the peer runs only its first k
shifted rows (k even: the pairs θ ± π/2·e_j, j < k/2, in its own gradient machinery: one
Aer job, `qml.execute` of PennyLane's own param-shift tapes), once, and that time is scaled
by (2P+1)/k; the k/2 gradient components are checked. An expectation longer than the 20 s
budget is not called again: its pilot calls are its timing. A peer whose single circuit
would exceed the cap (predicted from the last size measured: ρ grows 4ⁿ, the gates ∝ n) is
skipped: `-`. `!` marks a measurement during which other processes used more than 10 % of
the machine (/proc/stat): rerun on a quiet machine before quoting it.

    python bench/bench_noise.py --quick                               # about 1 min on 2 cores
    python bench/bench_noise.py --json bench/results/noise-full.json  # about 12 min
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _results  # bench/_results.py: the meta block every result file carries
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # noise_libs, noise_report
from noise_libs import (  # the libraries compared, beside this script
    EXACT,
    LAYERS,
    LIBS,
    P01,
    P1,
    P2,
    P10,
    PEER,
    SEED,
    SHOTS,
    SIZES,
    TOL,
    TRAJ,
    Z_MAX,
    Lib,
    Out,
    aer_sampled_readout,
    load_libraries,
    make_pennylane,
    make_qtrain,
    make_reference,
    registry,
    thetas_for,
)
from noise_report import cell, environment, report, targets


def cpu_seconds() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, CPU seconds of this process) so far."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK"), sum(os.times()[:2])


def timed(fn: Callable[[], Out], repeats: int = 1, budget: float = 0.0) -> dict[str, Any]:
    """Median of ≤ `repeats` calls within `budget` s; `foreign_cpu`: others' share of the CPU."""
    times, out = [], None
    busy0, own0 = cpu_seconds()
    while not times or (len(times) < repeats and sum(times) <= budget):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    busy1, own1 = cpu_seconds()
    foreign = max(0.0, (busy1 - busy0) - (own1 - own0))
    share = foreign / (sum(times) * (os.cpu_count() or 1)) if foreign >= 0.05 else 0.0
    return {"s": statistics.median(times), "times_s": times, "foreign_cpu": share, "out": out}


def compare(key: str, out: Out, ref: Out) -> dict[str, Any]:
    """Exact libraries: max |Δ| ≤ TOL; sampled ones: every |z| ≤ Z_MAX (their own stderr)."""
    m = min(out.value.size, ref.value.size)
    diff = out.value[:m] - ref.value[:m]
    rec: dict[str, Any] = {"max_abs_diff": float(np.max(np.abs(diff))), "compared": m}
    if key in EXACT or out.stderr is None:
        return rec | {"agrees": rec["max_abs_diff"] <= TOL}
    z = diff / np.maximum(out.stderr[:m], 1e-12)
    rec |= {"max_abs_z": float(np.max(np.abs(z))), "rms_z": float(np.sqrt(np.mean(z**2)))}
    return rec | {"agrees": rec["max_abs_z"] <= Z_MAX, "mean_stderr": float(np.mean(out.stderr))}


def initial_checks(opts: Any, libs: dict[str, Callable[[int], Lib]]) -> dict[str, Any]:
    """Every library against the numpy Kraus reference, and both readout conventions."""
    out: dict[str, Any] = {}
    for n in [4] if opts.quick else [4, 6]:
        theta, ref = thetas_for(n), make_reference(n)
        ref_ev, ref_g = ref.expval(theta), ref.grad(theta)
        rec: dict[str, Any] = {"reference_expval": float(ref_ev.value[0])}
        for key in [k for k in libs if k != "numpy-ref"]:
            lib = libs[key](n)
            rec[key] = {"expval": compare(key, lib.expval(theta), ref_ev)}
            rec[key]["grad"] = compare(key, lib.grad(theta), ref_g)
        if "pl-mixed" in libs:  # readout as a channel inside PennyLane, no correction
            lib = make_pennylane(n, readout_channel=True)
            rec["pl-readout-channel"] = {"expval": compare("pl-mixed", lib.expval(theta), ref_ev)}
            rec["pl-readout-channel"]["grad"] = compare("pl-mixed", lib.grad(theta), ref_g)
        if "aer-dm" in libs:  # Aer's own ReadoutError on sampled bits
            sampled = aer_sampled_readout(n, theta)
            rec["aer-readout-sampled"] = {"expval": compare("aer-sampled", sampled, ref_ev)}
        out[str(n)] = rec
        for key, r in rec.items():
            if isinstance(r, dict):
                text = ", ".join(f"{k} {fmt_check(v)}" for k, v in r.items())
                print(f"  check n={n} {key}: {text}", flush=True)
    return out


def fmt_check(rec: dict[str, Any]) -> str:
    if "what" in rec:
        return f"FAILED {rec['what']}"
    z = f" |z|≤{rec['max_abs_z']:.2f}" if "max_abs_z" in rec else ""
    return f"Δ={rec['max_abs_diff']:.1e}{z} {'ok' if rec['agrees'] else 'DISAGREES'}"


def all_agree(tree: Any) -> bool:
    if isinstance(tree, dict):
        return tree.get("agrees", True) and all(all_agree(v) for v in tree.values())
    return True


def plan(n: int, first_s: float, cap: float) -> tuple[str, int]:
    """("full", 2P+1), ("part", k) with k even, or ("skip", 0), from one expectation's time."""
    rows = 4 * n * LAYERS + 1
    if first_s > cap:
        return "skip", 0
    if rows * first_s <= cap:
        return "full", rows
    return "part", max(2, 2 * int(cap / first_s / 2))


def predicted(key: str, n: int, growth: dict[str, tuple[int, float]]) -> float:
    """One expectation's time at n from the last size measured: ρ grows 4ⁿ, the gates ∝ n."""
    if key not in growth:
        return 0.0
    m, seconds = growth[key]
    return seconds * 4.0 ** (n - m) * n / m


def first_calls(lib: Lib, n: int, theta: np.ndarray, cap: float | None) -> dict[str, Any]:
    """One expectation (also the pilot), then the gradient, whole or its first k rows.

    ``cap=None`` (qtrain): always the whole gradient. qtrain shares work between the shifted
    rows of one gradient, so k rows of ``qt.expval`` would overstate its cost (about 5× at
    n = 12); the peers run every row as its own circuit, so their rows scale linearly.
    """
    first = timed(lambda: lib.expval(theta))
    pilot = first["times_s"]
    if cap is None:
        mode, k = "full", 4 * n * LAYERS + 1
    else:
        if plan(n, first["s"], cap)[0] != "full" and first["s"] <= cap / 6:  # one-off costs?
            pilot.append(timed(lambda: lib.expval(theta))["s"])
        mode, k = plan(n, min(pilot), cap)
    rec = {"lib": lib, "mode": mode, "rows": k, "first_expval_s": min(pilot), "pilot_s": pilot}
    rec["out_ev"] = first["out"]
    if mode != "skip":
        rec["first_grad"] = timed(lambda: lib.grad(theta) if mode == "full" else lib.part(theta, k))
    return rec


def check_size(n: int, keys: list[str], libs: dict, opts: Any, growth: dict) -> dict[str, Any]:
    """The first calls (also the warm-ups) of every library at n, checked against the first."""
    theta, recs = thetas_for(n), {}
    for key in keys:
        if predicted(key, n, growth) > opts.cap and not key.startswith("qtrain"):
            guess = predicted(key, n, growth)
            recs[key] = {"mode": "skip", "predicted_expval_s": guess}
            print(f"  n={n} {key}: skipped, one circuit predicted {guess:.0f} s", flush=True)
            continue
        try:
            cap = None if key.startswith("qtrain") else opts.cap
            recs[key] = first_calls(libs[key](n), n, theta, cap)
        except Exception as exc:  # recorded and reported; the exit status is 1
            recs[key] = {"mode": "error", "check": {"error": {"agrees": False, "what": repr(exc)}}}
            print(f"  n={n} {key}: FAILED {exc!r}", flush=True)
    exact = [r for k, r in recs.items() if k in EXACT and "first_grad" in r]
    for key, rec in recs.items():
        if exact and "first_grad" in rec:
            ref = exact[0]
            rec["check"] = {"expval": compare(key, rec["out_ev"], ref["out_ev"])}
            rec["check"]["grad"] = compare(key, rec["first_grad"]["out"], ref["first_grad"]["out"])
    return recs


def measure_size(n: int, keys: list[str], libs: dict, opts: Any, growth: dict) -> dict[str, Any]:
    """Check every library at n, then time them: one θ, and the full gradient (or k rows, *)."""
    theta, rows = thetas_for(n), 4 * n * LAYERS + 1
    recs = check_size(n, keys, libs, opts, growth)
    entry: dict[str, Any] = {"n": n, "layers": LAYERS, "params": rows // 2, "libs": {}}
    for key, rec in recs.items():
        out: dict[str, Any] = {k: v for k, v in rec.items() if k in ("mode", "rows", "check")}
        if rec["mode"] not in ("skip", "error"):
            lib = rec["lib"]
            if rec["first_expval_s"] <= opts.budget:
                out["expval"] = timed(lambda lib=lib: lib.expval(theta), opts.repeat, opts.budget)
                out["expval"]["stderr"] = stderr_of(out["expval"].pop("out"))
            else:  # a call longer than the timing budget: the pilot calls were the timing
                out["expval"] = {"s": min(rec["pilot_s"]), "times_s": rec["pilot_s"]}
                out["expval"] |= {"stderr": stderr_of(rec["out_ev"]), "from_pilot": True}
            if rec["mode"] == "full":
                out["grad"] = timed(lambda lib=lib: lib.grad(theta), opts.repeat, opts.budget)
                out["grad"]["stderr"] = stderr_of(out["grad"].pop("out"))
            else:  # the check call was the one timed run of k rows
                out["grad"] = rec["first_grad"] | {"stderr": stderr_of(rec["first_grad"]["out"])}
                out["grad"].pop("out")
                out["grad"] |= {"s": out["grad"]["s"] * rows / rec["rows"], "extrapolated": True}
            growth[key] = (n, rec["first_expval_s"])
        else:
            out["predicted_expval_s"] = rec.get("predicted_expval_s", rec.get("first_expval_s"))
        entry["libs"][key] = out
        checks = ", ".join(f"{k} {fmt_check(v)}" for k, v in out.get("check", {}).items())
        line = f"  n={n} {key} ({rec['mode']}): expval {cell(out, 'expval')}, "
        print(f"{line}grad {cell(out, 'grad')}; check: {checks or '-'}", flush=True)
    return entry


def stderr_of(out: Out | None) -> float | None:
    return None if out is None or out.stderr is None else float(np.mean(out.stderr))


def big_trajectories(opts: Any) -> dict[str, Any]:
    """Trajectories where no density matrix fits: one θ; the gradient only when it fits 2·cap."""
    n, cap = opts.big_n, opts.cap * 2
    print(f"  trajectories at n={n}: one θ, the gradient if (2P+1)·t₁ ≤ {cap:.0f} s", flush=True)
    lib, theta = make_qtrain("trajectories", n), thetas_for(n)
    ev = timed(lambda: lib.expval(theta))
    rows, rec = 4 * n * LAYERS + 1, {"n": n, "params": 4 * n, "trajectories": TRAJ}
    rec["expval"] = {"s": ev["s"], "value": float(ev["out"].value[0])}
    rec["expval"] |= {"stderr": stderr_of(ev["out"]), "foreign_cpu": ev["foreign_cpu"]}
    rec["grad_predicted_s"] = rows * ev["s"]  # rows cost alike; not run past the cap
    if rows * ev["s"] <= cap:
        g = timed(lambda: lib.grad(theta))
        rec["grad"] = {"s": g["s"], "stderr": stderr_of(g["out"]), "foreign_cpu": g["foreign_cpu"]}
    print(f"  n={n} qtrain-traj: expval {cell(rec, 'expval')}, grad {cell(rec, 'grad')}")
    return rec


# ---------------------------------------------------------------- report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 4, 6, 8; 3 repeats; 10 s cap")
    parser.add_argument("--sizes", help="comma-separated n (default 4,6,8,10,12)")
    parser.add_argument("--repeat", type=int, help="timed calls per measurement (5; quick 3)")
    parser.add_argument("--cap", type=float, help="longest call timed whole, s (60; quick 10)")
    parser.add_argument("--libs", default=",".join(LIBS), help="comma-separated, also aer-est")
    parser.add_argument("--big-n", type=int, help="trajectories-only size (20; quick 16; 0: none)")
    parser.add_argument("--json", type=Path, help="write all results to this file")
    opts = parser.parse_args(argv)
    load_libraries()
    opts.cap = opts.cap or (10.0 if opts.quick else 60.0)
    opts.repeat = opts.repeat or (3 if opts.quick else 5)
    opts.budget = 6.0 if opts.quick else 20.0
    opts.big_n = (16 if opts.quick else 20) if opts.big_n is None else opts.big_n
    sizes = (
        [int(s) for s in opts.sizes.split(",")] if opts.sizes else SIZES[: 3 if opts.quick else 5]
    )
    libs, env = registry(), environment()
    keys = [k for k in opts.libs.split(",") if k in libs]
    print(json.dumps(env, indent=1, ensure_ascii=False), flush=True)
    if "noise" not in PEER:
        print("qtrain has no noisy LocalSimulator here: its columns are skipped", flush=True)
    started = time.perf_counter()
    checks = initial_checks(opts, {k: libs[k] for k in keys})
    if not all_agree(checks):
        print("initial checks FAILED: nothing timed")
        return 1
    growth: dict[str, float] = {}
    results = [measure_size(n, keys, libs, opts, growth) for n in sizes]
    big = big_trajectories(opts) if opts.big_n and "qtrain-traj" in keys else None
    total = time.perf_counter() - started
    report(results, keys, big)
    failed = [
        e["n"]
        for e in results
        if not all_agree({k: r.get("check", {}) for k, r in e["libs"].items()})
    ]
    print(f"agreement (exact ≤ {TOL}, sampled |z| ≤ {Z_MAX}): {failed or 'ok'}; {total:.0f} s")
    if opts.json:
        noise = {"depolarizing_1q": P1, "depolarizing_2q": P2, "readout": [P01, P10]}
        payload = {"mode": "quick" if opts.quick else "full", "seed": SEED, "layers": LAYERS}
        payload |= {"noise": noise, "shots": SHOTS, "trajectories": TRAJ, "repeat": opts.repeat}
        payload |= {"cap_s": opts.cap, "budget_s": opts.budget, "env": env, "checks": checks}
        payload |= {"results": results, "big": big, "targets": targets(results), "s": total}
        _results.write(opts.json, payload)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
