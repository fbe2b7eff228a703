"""What every benchmark's JSON carries besides its numbers, and how ``run_all.py`` reads it back.

:func:`write` adds a ``meta`` block — machine, versions, commit, thread variables, command and
time — to a script's payload and writes ``bench/results/<name>.json``. :func:`describe` reads the
same facts back from a result file in one line per field, also from the files written before
this module existed (their ``environment`` / ``env`` blocks, where they had one).

Imports nothing from qtrain, numpy or the peers: versions come from the installed
distributions' metadata, so the renderer runs without any of them loaded.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DISTS = (
    "qtrain", "numpy", "scipy", "numba", "dask", "distributed", "pennylane",
    "pennylane-lightning", "qiskit", "qiskit-aer", "mitiq", "torch",
)  # fmt: skip
THREAD_VARS = (
    "QTRAIN_NUM_THREADS", "NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS", "OMP_WAIT_POLICY", "QTRAIN_KERNELS", "QTRAIN_MEMORY_BUDGET",
)  # fmt: skip
UNKNOWN = "not recorded"


def _git(*args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False
    )
    return done.stdout.strip()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text("utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def meta() -> dict[str, Any]:
    """Machine, versions, commit (and uncommitted changes under src/), threads, command, time."""
    found = {
        d.name.replace("_", "-").lower(): d.version for d in importlib.metadata.distributions()
    }
    return {
        "machine": {
            "cpu": _cpu_model(),
            "cpu_count": os.cpu_count(),
            "memory_gib": _memory_gib(),
            "platform": platform.platform(),
        },
        "python": platform.python_version(),
        "versions": {k: found[k] for k in DISTS if k in found},
        "commit": _git("log", "-1", "--format=%h %s"),
        "src_uncommitted_changes": _git("status", "--porcelain", "src").splitlines(),
        "threads": {k: os.environ.get(k) for k in THREAD_VARS},
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
        "timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def write(path: Path | str, payload: Any) -> Path:
    """Write ``payload`` (a dict gets a ``meta`` block; a list is wrapped) as JSON to ``path``."""
    body = payload if isinstance(payload, dict) else {"results": payload}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(body | {"meta": meta()}, indent=1, ensure_ascii=False, default=str)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def _environment(data: dict[str, Any]) -> dict[str, Any]:
    for key in ("meta", "environment", "env"):
        if isinstance(data.get(key), dict):
            return dict(data[key])
    return {}


def _machine(env: dict[str, Any]) -> str:
    box = env.get("machine")
    if isinstance(box, dict):  # meta()
        parts = [box.get("cpu"), f"{box.get('cpu_count')} CPUs", f"{box.get('memory_gib')} GiB"]
        return ", ".join(str(p) for p in parts if p and "None" not in str(p))
    cpu = env.get("cpu")
    if isinstance(cpu, dict):  # lscpu fields (bench_expval)
        cpu = cpu.get("Model name")
    cpu = cpu or env.get("cpu_model") or box
    count = env.get("cpu_count") or env.get("cpus") or env.get("cores")
    mem = env.get("mem_total_gib")
    parts = [cpu, count and f"{count} CPUs", mem and f"{mem} GiB"]
    return ", ".join(str(p) for p in parts if p) or UNKNOWN


def _versions(env: dict[str, Any]) -> str:
    versions = env.get("versions")
    pairs = dict(versions) if isinstance(versions, dict) else {}
    if isinstance(env.get("qtrain"), str):  # bench_long_run
        pairs.setdefault("qtrain", env["qtrain"])
    python = env.get("python")
    text = ", ".join(f"{k} {v}" for k, v in pairs.items() if v)
    return ", ".join(t for t in (python and f"Python {python}", text) if t) or UNKNOWN


def describe(data: Any) -> dict[str, str]:
    """``{"machine", "versions", "commit", "timestamp"}`` of a result file, as text."""
    env = _environment(data) if isinstance(data, dict) else {}
    commit = env.get("commit") or env.get("qtrain_commit") or ""
    dirty = env.get("src_uncommitted_changes")
    commit_text = commit.split(" ", 1)[0] if commit else UNKNOWN
    if commit and dirty:
        commit_text += f" (+{len(dirty)} uncommitted files under src/)"
    return {
        "machine": _machine(env),
        "versions": _versions(env),
        "commit": commit_text,
        "timestamp": str(env.get("timestamp") or UNKNOWN),
    }


def load(path: Path) -> Any:
    """A result file's JSON."""
    return json.loads(path.read_text(encoding="utf-8"))
