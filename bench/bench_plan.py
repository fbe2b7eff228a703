"""Does ``qtrain plan`` predict the run? Plan, then train, every example config; compare.

For each ``examples/*.yaml`` that trains (``plateau.yaml`` is a scan, not a run), this runs
``qtrain plan CONFIG --json`` and then ``qtrain train CONFIG --json`` in a fresh process each
(as a user does), and reads the run's summary: its ``plan`` entry holds the estimate for the
steps that ran (warm-up + steps × step, made before the first step with the same cached
coefficients), the seconds they took and the ratio measured / estimated. The target is a
ratio within ×3 (1/3 … 3) on every config. The whole-budget estimate ``qtrain plan`` prints
is shown too: a stop rule may end a run before its budget (h2_vqe, h2_hea_qng), and
Rosalin's shots grow, so its budget of shots lasts fewer steps than the first step suggests.

The first ``qtrain plan`` on a machine measures the coefficients (a few seconds, once) and
caches them (``$QTRAIN_CACHE_DIR`` or ``~/.cache/qtrain``); ``--fresh`` measures them again
first (into a temporary cache folder). Results go to ``docs/performance.md``.

    python bench/bench_plan.py                           # every example
    python bench/bench_plan.py --configs h2_vqe classifier --json bench/results/plan.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _results  # bench/_results.py: the meta block every result file carries
import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def _qtrain(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "qtrain", *args],
        cwd=EXAMPLES,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def measure(name: str, env: dict[str, str], folder: Path) -> dict[str, object] | None:
    """Plan then train ``examples/<name>.yaml``; ``None`` when it is not a training config."""
    code, out, err = _qtrain(["plan", f"{name}.yaml", "--json"], env)
    if code != 0:
        print(f"{name}: plan exit {code}: {err.strip()[-200:]}", file=sys.stderr)
        return None
    plan = json.loads(out)
    started = time.perf_counter()
    code, out, err = _qtrain(
        ["train", f"{name}.yaml", "--json", "--run-dir", str(folder / name)], env
    )
    wall = time.perf_counter() - started
    if code != 0:
        print(f"{name}: train exit {code}: {err.strip()[-300:]}", file=sys.stderr)
        return None
    summary = json.loads(out)
    check = summary.get("plan") or {}
    return {
        "config": name,
        "planned_steps": plan["steps"],
        "plan_seconds": plan["estimated_seconds"],
        "step_seconds": plan["step"]["estimated_seconds"],
        "warmup_seconds": (plan.get("time") or {}).get("warmup_seconds"),
        "basis": (plan.get("time") or {}).get("basis"),
        "steps": summary["steps"],
        "stopped_by": summary["stopped_by"],
        "seconds": summary["seconds"],
        "estimated_for_steps_run": check.get("estimated_seconds"),
        "measured": check.get("measured_seconds"),
        "ratio": check.get("ratio"),
        "process_seconds": wall,
    }


def _trains(path: Path) -> bool:
    """A run config (not a plateau scan, which ``qtrain plateau`` runs)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return not ("depths" in data and "qubits" in data)


def _fmt(value: object, spec: str = ".3g") -> str:
    return "-" if value is None else format(value, spec)


def _within(ratio: object) -> bool:
    return isinstance(ratio, int | float) and 1 / 3 <= ratio <= 3


def table(rows: list[dict[str, object]]) -> str:
    """The Markdown table for docs/performance.md."""
    lines = [
        "| config | steps run / planned | plan, budget (s) | plan, steps run (s) "
        "| took (s) | ratio took/plan | within ×3 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = r["ratio"]
        ok = "-" if ratio is None else ("yes" if _within(ratio) else "**no**")
        lines.append(
            f"| {r['config']} | {r['steps']} / {r['planned_steps']} ({r['stopped_by']}) "
            f"| {_fmt(r['plan_seconds'])} | {_fmt(r['estimated_for_steps_run'])} "
            f"| {_fmt(r['measured'])} | {_fmt(ratio, '.2f')} | {ok} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="*", help="names in examples/ (default: all)")
    parser.add_argument("--fresh", action="store_true", help="measure the coefficients anew")
    parser.add_argument("--json", type=Path, help="write the rows here")
    args = parser.parse_args()
    names = args.configs or sorted(p.stem for p in EXAMPLES.glob("*.yaml") if _trains(p))
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="qtrain-bench-plan-") as tmp:
        if args.fresh:
            env["QTRAIN_CACHE_DIR"] = str(Path(tmp) / "cache")
        rows = [row for name in names if (row := measure(name, env, Path(tmp))) is not None]
    print(table(rows))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\n{os.cpu_count()} cores, load average {load:.2f} at the end")
    bad = [r["config"] for r in rows if r["ratio"] is None or not _within(r["ratio"])]
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        _results.write(args.json, rows)
    if bad:
        print(f"outside ×3: {', '.join(map(str, bad))}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
