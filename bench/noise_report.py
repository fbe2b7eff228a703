"""Environment record and result tables of ``bench_noise.py``."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from noise_libs import DISTS, ENV_VARS, SHOTS, TRAJ, qt, qtrain_kernels


def environment() -> dict[str, Any]:
    found = {d.name.replace("_", "-"): d.version for d in importlib.metadata.distributions()}
    versions = {k: found.get(k) for k in DISTS} | {"qtrain": getattr(qt, "__version__", None)}

    def sh(*cmd: str) -> str:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()

    cpu = dict(ln.split(":", 1) for ln in sh("lscpu").splitlines() if ":" in ln)
    git = ["git", "-C", str(Path(__file__).resolve().parents[1])]
    return {
        "python": platform.python_version(), "platform": platform.platform(),
        "versions": versions, "qtrain_commit": sh(*git, "log", "-1", "--format=%h %s"),
        "src_uncommitted_changes": sh(*git, "status", "--porcelain", "src").splitlines(),
        "cpu": cpu.get("Model name", "").strip(), "cpu_count": os.cpu_count(),
        "env": {k: os.environ.get(k) for k in ENV_VARS}, "qtrain_kernels": qtrain_kernels(),
        "numba_threads": sys.modules["numba"].get_num_threads() if "numba" in sys.modules else None,
    }  # fmt: skip


def cell(rec: dict[str, Any], what: str) -> str:
    if what not in rec:
        return "-"
    r = rec[what]
    text = f"{r['s'] * 1e3:.1f} ms" if r["s"] < 1 else f"{r['s']:.2f} s"
    text += ("*" if r.get("extrapolated") else "") + ("!" if r.get("foreign_cpu", 0) > 0.1 else "")
    return text + (f" ±{r['stderr']:.3f}" if r.get("stderr") is not None else "")


def table(results: list[dict[str, Any]], keys: list[str], what: str) -> str:
    head = ["n", "P", *(k if k.startswith("qtrain") else f"{k} (×)" for k in keys)]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for entry in results:
        recs, cells = entry["libs"], [str(entry["n"]), str(entry["params"])]
        base = recs.get("qtrain-dm", {}).get(what)
        for key in keys:
            r = recs.get(key, {})
            ratio = ""
            if base and what in r and not key.startswith("qtrain"):
                ratio = f" ({r[what]['s'] / base['s']:.1f})"
            cells.append(cell(r, what) + ratio)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(results: list[dict[str, Any]]) -> list[str]:
    """The issue's: gradient ≥ 5× faster than Aer's density matrix at n ≤ 10, not slower at 12."""
    out = []
    for entry in results:
        recs = entry["libs"]
        if "grad" in recs.get("aer-dm", {}) and "grad" in recs.get("qtrain-dm", {}):
            r = recs["aer-dm"]["grad"]["s"] / recs["qtrain-dm"]["grad"]["s"]
            need = 5.0 if entry["n"] <= 10 else 1.0
            star = "*" if recs["aer-dm"]["grad"].get("extrapolated") else ""
            verdict = "MET" if r >= need else "MISSED"
            out.append(
                f"n={entry['n']}{star}: aer-dm / qtrain-dm = {r:.2f} (need ≥ {need:g}): {verdict}"
            )
    return out


def report(results: list[dict[str, Any]], keys: list[str], big: dict[str, Any] | None) -> None:
    print("\nNoisy ⟨Σ Z_i⟩, one θ, median; (×) = peer time / qtrain-dm time, > 1: qtrain faster")
    print(table(results, keys, "expval"))
    print("\nFull param-shift gradient (2P+1 rows), median")
    print(table(results, keys, "grad"))
    print(f"qtrain-traj: {TRAJ} trajectories and {SHOTS} shots per row, ± = mean standard error")
    print("* k shifted rows timed once, scaled by (2P+1)/k; - skipped (one circuit > cap);")
    print("! > 10 % of the CPU used by other processes")
    for entry in results:
        for key, rec in entry["libs"].items():
            if rec.get("mode") == "part":
                print(f"  * n={entry['n']} {key}: {rec['rows']} of {2 * entry['params'] + 1} rows")
    if big is not None:
        ev, g = big["expval"], big.get("grad")
        line = f"\nTrajectories at n = {big['n']} (P = {big['params']}, {TRAJ} trajectories, "
        line += (
            f"{SHOTS} shots): ⟨Σ Z_i⟩ = {ev['value']:.4f} ± {ev['stderr']:.4f} in {ev['s']:.2f} s"
        )
        if g:
            line += f"; gradient {g['s']:.1f} s, mean stderr {g['stderr']:.4f}"
        else:
            line += f"; gradient not run: (2P+1)·t₁ = {big['grad_predicted_s']:.0f} s"
        print(line)
    print("\n" + "\n".join(targets(results)))
