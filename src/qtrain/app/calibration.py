"""This machine's timing coefficients: measured once (``app.probes``), then read from a cache.

``qtrain plan`` prices a run with seconds per unit of work (``backends.local_cost``, the
executor's, the store's, the loop's). They are measured by a few seconds of probe runs in a
fresh interpreter (a fresh one pays the first-use costs a new run pays, which the probes
measure too) and cached as JSON in ``$QTRAIN_CACHE_DIR``, else ``$XDG_CACHE_HOME/qtrain``,
else ``~/.cache/qtrain``, in a file named by a digest of what the numbers depend on: the
machine (host name, CPU model, cores), Python, NumPy, numba and qtrain versions, and the
kernel set. A missing, unreadable, corrupt or foreign cache file is measured again, never an
error; a cache folder that cannot be written keeps the measurement for this process only.
While it measures, one ``calibration.measure`` warning says so (else the first ``qtrain plan``
or ``qtrain train`` on a new machine pauses for seconds without a word): a line on stderr in
the CLI's log format, a log record in Python. A cached calibration says nothing.

``python -m qtrain.app.calibration [--kernels numba|numpy]`` measures and prints the JSON.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from qtrain.backends.local_cost import DEFAULT_COEFFICIENTS
from qtrain.logs import emit
from qtrain.sim.statevector import select_kernels

__all__ = [
    "ENV_CACHE",
    "REQUIRED",
    "Calibration",
    "cache_dir",
    "load_calibration",
    "machine_key",
    "measure_fresh",
]

ENV_CACHE = "QTRAIN_CACHE_DIR"
SCHEME = 1  # bump when the units or the probes change: older caches are then measured again
REQUIRED = (
    *DEFAULT_COEFFICIENTS,
    "exec.run",
    "exec.call",
    "exec.task",
    "exec.row",
    "store.run",
    "store.row",
    "store.commit_full",
    "store.commit_normal",
    "loop.step",
    "warmup.fit",
    "warmup.dm",
    "warmup.adjoint",
)
"""Every coefficient a cache file must hold (seconds per unit, finite, non-negative)."""

_COLD_WARMUP_S = 2.0  # a first warm-up above this compiled the kernels: measure once more
_LOG = logging.getLogger("qtrain.plan")
_MEMO: dict[str, Calibration] = {}

Measure = Callable[[str], dict[str, float]]


@dataclass(frozen=True)
class Calibration:
    """Seconds per unit of this machine, and where they came from.

    Attributes:
        coefficients: seconds per unit (:data:`REQUIRED` keys at least).
        key: what they depend on (:func:`machine_key`).
        path: the cache file (``None``: it could not be written).
        measured_now: measured by this call (else read from the cache).
    """

    coefficients: Mapping[str, float]
    key: Mapping[str, str]
    path: Path | None
    measured_now: bool = field(default=False, compare=False)


def cache_dir() -> Path:
    """``$QTRAIN_CACHE_DIR``, else ``$XDG_CACHE_HOME/qtrain``, else ``~/.cache/qtrain``."""
    chosen = os.environ.get(ENV_CACHE)
    if chosen:
        return Path(chosen)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "qtrain"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def kernel_name(kernels: str | None) -> str:
    """``"numba"`` or ``"numpy"``: the kernel set ``kernels`` resolves to."""
    module = getattr(select_kernels(kernels), "__name__", "")
    return "numba" if "fast" in module else "numpy"


def machine_key(kernels: str | None = None) -> dict[str, str]:
    """What the coefficients depend on: machine, versions, kernel set, measurement scheme."""
    return {
        "host": platform.node(),
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "numpy": _version("numpy"),
        "numba": _version("numba"),
        "qtrain": _version("qtrain"),
        "kernels": kernel_name(kernels),
        "scheme": str(SCHEME),
    }


def _digest(key: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(dict(key), sort_keys=True).encode()).hexdigest()[:16]


def _valid(data: object, key: Mapping[str, str]) -> dict[str, float] | None:
    """The coefficients in ``data`` if it is a complete cache entry for ``key``."""
    if not isinstance(data, dict) or data.get("key") != dict(key):
        return None
    found = data.get("coefficients")
    if not isinstance(found, dict):
        return None
    out: dict[str, float] = {}
    for name in REQUIRED:
        value = found.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        if not math.isfinite(value) or value < 0:
            return None
        out[name] = float(value)
    return out


def _read(path: Path, key: Mapping[str, str]) -> dict[str, float] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return _valid(data, key)


def _write(path: Path, key: Mapping[str, str], coefficients: Mapping[str, float]) -> bool:
    """Write the cache file atomically; ``False`` when the folder cannot be written."""
    text = json.dumps(
        {"key": dict(key), "coefficients": dict(coefficients)}, indent=1, sort_keys=True
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".timing-", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide it from the user's tools
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    except OSError as error:
        _LOG.info("timing cache %s not written (%s): kept for this process", path, error)
        return False
    return True


def _in_subprocess(kernels: str) -> dict[str, float] | None:
    command = [sys.executable, "-m", "qtrain.app.calibration", "--kernels", kernels]
    try:
        done = subprocess.run(  # our own module, by the running interpreter
            command, capture_output=True, text=True, timeout=300, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return None
    try:
        found = json.loads(lines[-1])
    except ValueError:
        return None
    if not isinstance(found, dict):
        return None
    return {str(k): float(v) for k, v in found.items() if isinstance(v, int | float)}


def measure_fresh(kernels: str) -> dict[str, float]:
    """Measure in a fresh interpreter (this process if that fails): ``app.probes.measure``.

    A first warm-up over 2 s means the kernels were compiled, not loaded from numba's cache
    (a new install): a second measurement then sees what every later run pays.
    """
    found = _in_subprocess(kernels)
    if found is not None and found.get("warmup.fit", 0.0) > _COLD_WARMUP_S:
        found = _in_subprocess(kernels) or found
    if found is None:
        from qtrain.app.probes import measure  # noqa: PLC0415 - the fallback only

        found = measure(kernels)
    return found


def load_calibration(kernels: str | None = None, *, measure: Measure | None = None) -> Calibration:
    """This machine's coefficients for ``kernels``: cached, else measured now and cached.

    ``measure(kernel_name)`` replaces the measurement (default :func:`measure_fresh`).
    """
    key = machine_key(kernels)
    path = cache_dir() / f"timing-{_digest(key)}.json"
    cached = _read(path, key)
    if cached is not None:
        return Calibration(cached, key, path)
    remembered = _MEMO.get(str(path))  # measured before, but the cache could not be written
    if remembered is not None:
        return remembered
    if path.exists():
        _LOG.info("timing cache %s is damaged or stale: measuring again", path)
    # A warning: the level the CLI's human lines show by default, and Python's last-resort
    # handler prints when nothing is configured (a notebook, ``qtrain plan``).
    emit(
        _LOG,
        logging.WARNING,
        "calibration.measure",
        f"Measuring this machine's simulator once (a few seconds; cached in {path})",
    )
    found = (measure or measure_fresh)(key["kernels"])
    coefficients = {**DEFAULT_COEFFICIENTS, **found}
    if _write(path, key, coefficients):
        return Calibration(coefficients, key, path, measured_now=True)
    _MEMO[str(path)] = Calibration(coefficients, key, None, measured_now=True)
    return _MEMO[str(path)]


def main(argv: list[str] | None = None) -> int:
    """``python -m qtrain.app.calibration``: measure and print the coefficients (JSON line)."""
    args = sys.argv[1:] if argv is None else argv
    kernels = args[args.index("--kernels") + 1] if "--kernels" in args else None
    from qtrain.app.probes import measure  # noqa: PLC0415 - imported in the fresh process

    result: dict[str, Any] = measure(kernels)
    print(json.dumps(result))  # the protocol with measure_fresh
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
