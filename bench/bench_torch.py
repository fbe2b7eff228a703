"""Benchmark: forward + backward of a torch quantum layer, qtrain against PennyLane TorchLayer.

The layer: n qubits, inputs ``RY(x_q)`` on every wire, then 2 layers of trainable ``RY, RZ``
on every wire and a CNOT ladder; outputs ``⟨Z_q⟩`` for every wire (O = n, 4n weights). One
step is ``layer(x).sum().backward()`` on a batch of 64 samples, in two modes: ``weights``
(``x`` a plain data tensor: gradients for the weights only) and ``inputs`` (``x`` requiring
grad, as behind a classical layer: gradients for the weights and the inputs). PennyLane's
parameter shift cannot differentiate a broadcast (batched) input (``NotImplementedError``,
PennyLane #4462), so in ``inputs`` mode its step calls the layer once per sample. qtrain's
``QuantumLayer`` (parameter shift: all 64 × R shifted rows in one batched call; adjoint: one
sweep per sample) against ``qml.qnn.TorchLayer`` on ``lightning.qubit`` with
``diff_method="parameter-shift"`` and ``"adjoint"``, in one process. Every method's output
and gradients are checked against qtrain's adjoint first (exit 1 above 1e-6: lightning's
forward values differ from qtrain's and qt.expval's by up to 3e-8, its gradients by 1e-14;
the JSON records each error), then timed (median after a warm-up). A missing peer is
skipped.

**Cap and extrapolation (``*``).** Every method first runs on the first ``PILOT`` = 4
samples of the batch (a warm-up), then once each on 4 and 8 samples: the line through those
two times predicts the 64-sample step (a batched step's fixed cost is not multiplied). When
the prediction is over ``--max-seconds`` (default 30 s), the method is checked on the 4
samples only, timed (median of the repeats) on 4 and on 8 samples, and the 64-sample time is
the same line through those medians; the JSON record carries ``"extrapolated"`` with both
timings, the table marks the cell ``*``. This bounds PennyLane's parameter shift in
``inputs`` mode at n = 12, a loop over the samples (each its own 2P+1 tapes: linear in the
samples, so the line is a fair estimate).

    python bench/bench_torch.py                         # n = 4, 8, 12
    python bench/bench_torch.py --repeats 5             # writes bench/results/torch-<commit>.json
    python bench/bench_torch.py --sizes 4 --repeats 1 --json /tmp/torch-smoke.json   # smoke
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _results  # bench/_results.py: the meta block every result file carries
import numpy as np
import torch

try:
    import qtrain as qt
except ImportError:  # running from a checkout without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import qtrain as qt
from qtrain.torch import QuantumLayer

SEED, BATCH, LAYERS, TOL = 20261207, 64, 2, 1e-6  # PennyLane's values differ by ~3e-8
PILOT = 4  # samples of the pilot run, and of a capped method's timing
METHODS = ["qtrain-ps", "qtrain-adj", "pl-lightning-ps", "pl-lightning-adj"]
DISTS = "qtrain numpy numba torch pennylane pennylane-lightning".split()
Step = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


def weights_for(n: int) -> np.ndarray:
    return np.random.default_rng([SEED, n]).uniform(-np.pi, np.pi, 2 * n * LAYERS)


def inputs_for(n: int) -> torch.Tensor:
    rng = np.random.default_rng([SEED, n, 1])
    return torch.tensor(rng.uniform(-np.pi, np.pi, (BATCH, n)), dtype=torch.float64)


def circuit_for(n: int) -> qt.Circuit:
    """Inputs P(0..n-1); weight (l, q, j) is P(n + 2(l·n + q) + j): RY for j = 0, RZ for 1."""
    c = qt.Circuit(n)
    for q in range(n):
        c = c.ry(q, qt.P(q))
    for layer in range(LAYERS):
        for q in range(n):
            k = n + 2 * (layer * n + q)
            c = c.ry(q, qt.P(k)).rz(q, qt.P(k + 1))
        for q in range(n - 1):
            c = c.cnot(q, q + 1)
    return c


def run_step(
    layer: torch.nn.Module, weight: torch.Tensor, x: torch.Tensor, inputs: bool, loop: bool
) -> Any:
    xg = x.clone().requires_grad_(inputs)
    y = torch.stack([layer(row) for row in xg]) if loop else layer(xg)
    y.sum().backward()
    grad_w = weight.grad.detach().clone().reshape(-1)
    weight.grad = None
    grad_x = xg.grad.detach() if inputs else torch.zeros(())
    return y.detach(), grad_w, grad_x


def make_qtrain(method: str, n: int, inputs: bool) -> Step:
    layer = QuantumLayer(
        circuit_for(n),
        [qt.Z(q) for q in range(n)],
        input_params=list(range(n)),
        weight_params=list(range(n, n + 2 * n * LAYERS)),
        method=method,
        weights=weights_for(n),
        dtype=torch.float64,
    )
    return lambda x: run_step(layer, layer.weight, x, inputs, loop=False)


def make_pennylane(diff_method: str, n: int, inputs: bool) -> Step:
    qml = importlib.import_module("pennylane")
    dev = qml.device("lightning.qubit", wires=n)

    @qml.qnode(dev, interface="torch", diff_method=diff_method)
    def qnode(inputs: Any, weights: Any) -> Any:
        for q in range(n):
            qml.RY(inputs[..., q], wires=q)
        for layer in range(LAYERS):
            for q in range(n):
                qml.RY(weights[layer, q, 0], wires=q)
                qml.RZ(weights[layer, q, 1], wires=q)
            for q in range(n - 1):
                qml.CNOT(wires=[q, q + 1])
        return [qml.expval(qml.PauliZ(q)) for q in range(n)]

    layer = qml.qnn.TorchLayer(qnode, {"weights": (LAYERS, n, 2)}).double()
    weight = layer.qnode_weights["weights"]
    with torch.no_grad():
        weight.copy_(torch.tensor(weights_for(n).reshape(LAYERS, n, 2)))
    loop = inputs and diff_method == "parameter-shift"  # PennyLane #4462
    return lambda x: run_step(layer, weight, x, inputs, loop)


MAKERS: dict[str, Callable[[int, bool], Step]] = {
    "qtrain-ps": lambda n, inputs: make_qtrain("param-shift", n, inputs),
    "qtrain-adj": lambda n, inputs: make_qtrain("adjoint", n, inputs),
    "pl-lightning-ps": lambda n, inputs: make_pennylane("parameter-shift", n, inputs),
    "pl-lightning-adj": lambda n, inputs: make_pennylane("adjoint", n, inputs),
}


def available(name: str) -> bool:
    if not name.startswith("pl-"):
        return True
    try:
        importlib.import_module("pennylane").device("lightning.qubit", wires=1)
    except Exception:  # any failure means the peer is absent
        return False
    return True


def time_step(step: Step, x: torch.Tensor, repeats: int, warm: bool = True) -> dict[str, float]:
    if warm:
        step(x)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step(x)
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "min_s": min(times), "repeats": repeats}


def max_error(got: Any, reference: Any) -> float:
    return max(float((a - b).abs().max()) for a, b in zip(got, reference, strict=True))


def scaled(small: float, large: float) -> float:
    """The time of ``BATCH`` samples from those of ``PILOT`` and ``2·PILOT``: linear in k."""
    return max(large, small + (large - small) * (BATCH - PILOT) / PILOT)


def measure(
    step: Step, x: torch.Tensor, reference: Callable[[int], Any], repeats: int, cap_s: float
) -> dict[str, Any]:
    """Check ``step`` against ``reference(samples)`` and time it, capped (see the docstring)."""
    pilot = step(x[:PILOT])  # warm-up; the check of a capped method
    one = time_step(step, x[:PILOT], 1, warm=False)["median_s"]
    two = time_step(step, x[: 2 * PILOT], 1, warm=False)["median_s"]
    record: dict[str, Any] = {"pilot_predicted_s": scaled(one, two)}
    if record["pilot_predicted_s"] <= cap_s:
        record["error"] = max_error(step(x), reference(BATCH))
        if record["error"] > TOL:
            return record
        return {**record, **time_step(step, x, repeats, warm=False)}
    record["error"] = max_error(pilot, reference(PILOT))
    small = time_step(step, x[:PILOT], repeats, warm=False)
    large = time_step(step, x[: 2 * PILOT], repeats, warm=False)
    record["extrapolated"] = {"samples": [PILOT, 2 * PILOT], "at": [small, large]}
    record["median_s"] = scaled(small["median_s"], large["median_s"])
    record["min_s"] = scaled(small["min_s"], large["min_s"])
    return {**record, "repeats": repeats}


def bench_size(
    n: int, methods: list[str], repeats: int, inputs: bool, cap_s: float
) -> dict[str, Any]:
    x = inputs_for(n)
    steps = {name: MAKERS[name](n, inputs) for name in methods}
    reference_step = make_qtrain("adjoint", n, inputs)
    references = {BATCH: reference_step(x), PILOT: reference_step(x[:PILOT])}
    mode = "inputs" if inputs else "weights"
    record: dict[str, Any] = {"n": n, "mode": mode, "batch": BATCH, "weights": 4 * n}
    record["errors"] = {}
    for name, step in steps.items():
        measured = measure(step, x, references.__getitem__, repeats, cap_s)
        record["errors"][name] = error = measured.pop("error")
        if error > TOL:
            print(f"  {mode} n={n} {name}: differs from qtrain's adjoint by {error:.2e}")
            continue
        record[name] = measured
        star = "*" if "extrapolated" in measured else ""
        print(f"  {mode} n={n} {name}: {measured['median_s']:.4f} s{star}", flush=True)
    for ours, theirs in (("qtrain-ps", "pl-lightning-ps"), ("qtrain-adj", "pl-lightning-adj")):
        if ours in record and theirs in record:
            record[f"ratio {theirs}/{ours}"] = record[theirs]["median_s"] / record[ours]["median_s"]
    ours_all = [record[k]["median_s"] for k in ("qtrain-ps", "qtrain-adj") if k in record]
    best = min(ours_all, default=None)
    if best is not None and "pl-lightning-ps" in record:
        record["ratio pl-lightning-ps/qtrain-best"] = record["pl-lightning-ps"]["median_s"] / best
    return record


def environment() -> dict[str, Any]:
    found = {d.name.replace("_", "-"): d.version for d in importlib.metadata.distributions()}
    versions = {k: found.get(k) for k in DISTS}

    def sh(*cmd: str) -> str:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()

    cpu = dict(ln.split(":", 1) for ln in sh("lscpu").splitlines() if ":" in ln)
    git = ["git", "-C", str(Path(__file__).resolve().parents[1])]
    kernels = importlib.import_module("qtrain.sim.statevector").select_kernels().__name__
    return {
        "python": platform.python_version(), "platform": platform.platform(),
        "versions": versions, "qtrain_commit": sh(*git, "log", "-1", "--format=%h %s"),
        "cpu": cpu.get("Model name", "").strip(), "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(), "torch_threads": torch.get_num_threads(),
        "qtrain_kernels": kernels,
        "numba_threads": sys.modules["numba"].get_num_threads() if "numba" in sys.modules else None,
    }  # fmt: skip


def report(results: list[dict[str, Any]], methods: list[str]) -> None:
    ratios = [k for k in results[0] if k.startswith("ratio")] if results else []
    print(
        "| mode n | " + " | ".join(f"{m} (s)" for m in methods) + " | " + " | ".join(ratios) + " |"
    )
    print("|---" * (1 + len(methods) + len(ratios)) + "|")
    for rec in results:
        cells = [cell(rec[m]) if m in rec else "-" for m in methods]
        cells += [f"{rec[r]:.1f}×" for r in ratios if r in rec]
        print(f"| {rec['mode']} {rec['n']} | " + " | ".join(cells) + " |")
    if any("extrapolated" in rec.get(m, {}) for rec in results for m in methods):
        print(f"*: over --max-seconds; timed on {PILOT} and {2 * PILOT} samples, line to {BATCH}")


def cell(timing: dict[str, Any]) -> str:
    return f"{timing['median_s']:.4f}" + ("*" if "extrapolated" in timing else "")


def default_json() -> Path:
    root = Path(__file__).resolve().parents[1]
    commit = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
        capture_output=True, text=True, check=False,
    ).stdout.strip()  # fmt: skip
    return root / "bench" / "results" / f"torch-{commit or 'unknown'}.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="4,8,12", help="comma-separated n")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=30.0,
        help="a step predicted longer than this is timed on a few samples and scaled (*)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=default_json(),
        help="write all results here (default: bench/results/torch-<commit>.json)",
    )
    opts = parser.parse_args(argv)
    methods = [m for m in METHODS if available(m)]
    skipped = sorted(set(METHODS) - set(methods))
    if skipped:
        print(f"skipped (not installed): {', '.join(skipped)}", flush=True)
    env = environment()
    print(json.dumps(env, indent=1, ensure_ascii=False), flush=True)
    sizes = [int(n) for n in opts.sizes.split(",")]
    results = [
        bench_size(n, methods, opts.repeats, inputs, opts.max_seconds)
        for inputs in (False, True)
        for n in sizes
    ]
    report(results, methods)
    failed = any(err > TOL for rec in results for err in rec["errors"].values())
    payload = {"environment": env, "results": results, "command": sys.argv}
    _results.write(opts.json, payload)
    print(f"wrote {opts.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
