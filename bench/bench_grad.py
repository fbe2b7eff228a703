"""Benchmark: the full gradient of ⟨Σ Z_i⟩ on the hardware-efficient ansatz, qtrain against its peers.

Circuit, per layer: RY(θ) on every wire, RZ(θ) on every wire, then CNOT(q, q+1) for
q = 0..n-2; ``P = 2·n·layers`` parameters, index ``l·2n + r·n + q`` (r = 0 for RY, 1 for RZ).
Observable ``Σ_i Z_i`` (one measurement group). Sizes (n, layers): (4,2), (8,4), (12,6), (16,8)
and, in full mode, (20,10) (extrapolated, see below). One seeded θ per size.

Methods (one full ``(P,)`` gradient per call, every library in this one process):

* exact: ``qtrain-ps`` ``qt.grad(c, H, θ, method="param-shift")``; ``qtrain-adj``
  ``method="adjoint"``; ``lightning-ps`` / ``lightning-adj``: ``qml.grad`` of a
  ``lightning.qubit`` QNode with ``diff_method="parameter-shift"`` / ``"adjoint"``;
  ``dq-backprop``: ``qml.grad`` of a ``default.qubit`` QNode, ``diff_method="backprop"``
  (autograd); ``aer-ps``: Qiskit Aer ``EstimatorV2`` (exact, precision 0), one job whose pub
  carries the ``2P+1`` parameter rows θ, θ ± π/2·e_k as a ``(2P+1, P)`` array, gradient
  ``(v₊ - v₋)/2`` assembled here.
* 1000 shots per circuit: ``qtrain-ps@1000`` ``qt.grad(..., method="param-shift",
  shots=1000, seed=1)``; ``lightning-ps@1000``: the parameter-shift QNode under
  ``qml.set_shots(qnode, shots=1000)`` (device seed 1); ``aer-sampler@1000``: Aer ``SamplerV2``
  (1000 shots, seed 1) on the same ``(2P+1, P)`` rows with ``measure_all``, ⟨Σ Z_i⟩ per row from
  ``BitArray.expectation_values``. Aer's ``EstimatorV2`` does not sample: with
  ``run_options={"shots": 1000}`` it returns the exact values, and with ``precision > 0`` it adds
  Gaussian noise to them (checked at run time, recorded as ``aer_estimator_shots_exact``), so
  it is no 1000-shot peer.

Checks before timing: every exact gradient agrees with qtrain's adjoint to 1e-8; every sampled
gradient is compared with the exact one in units of qtrain's standard errors (the same rows
and shots per row in every library), ``max |z| ≤ 5``. Times: median of several repeats after a
warm-up (the check call). Per-call cap: at n ≥ 16 each method first runs at (n, 1 layer); when
``t(1)·L^k`` (k = 2 for shift rules: rows × depth; k = 1 for adjoint and backprop) exceeds the
cap, the method is timed at the largest ``L' < L`` that fits and the time is extrapolated to L
(two-point fit ``a·L + b·L²`` or ``a + c·L`` through L = 1 and L'; pure ``L^k`` scaling when
L' = 1). Such entries are flagged ``extrapolated`` (``*`` in the tables).

Also: a sweep of qtrain's exact param-shift and adjoint times over P (n = 12, layers 1..8) and
over n (layers = 4), and ``--omp-compare``: a second process in which ``OMP_WAIT_POLICY`` is
unset when lightning's and Aer's OpenMP runtimes load (qtrain's numba kernels still set
PASSIVE for their own), to show what the policy does to the peers at (12,6) and (16,8).

``OMP_WAIT_POLICY``: qtrain sets it to PASSIVE (``setdefault``) when its numba kernels load.
This script loads them first, before PennyLane and Qiskit, so every library's OpenMP runtime
(three separate libgomp copies) sees the same setting (``--peer-omp``, recorded in the output).

Run::

    python bench/bench_grad.py --quick                       # about 3-4 min on 2 cores
    python bench/bench_grad.py --json bench/results/grad-full.json   # about 12-15 min
    python bench/bench_grad.py --sizes 4,8 --methods qtrain-ps,lightning-ps --no-sweep
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

try:
    import qtrain as qt
except ImportError:  # running from a checkout without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import qtrain as qt

# Peers: imported by load_libraries() after the OpenMP policy is settled (see --peer-omp).
qml: Any = None
pnp: Any = None
QuantumCircuit: Any = None
ParameterVector: Any = None
SparsePauliOp: Any = None
EstimatorV2: Any = None
SamplerV2: Any = None

SIZES = [(4, 2), (8, 4), (12, 6), (16, 8), (20, 10)]
SEED = 20261124
SHOTS = 1000
SHOT_SEED = 1
TOL = 1e-8
Z_MAX = 5.0  # |sampled - exact| / stderr allowed for any component
PILOT_N = 16  # from this n on, every method is piloted at 1 layer before the full size
EXACT = ["qtrain-ps", "qtrain-adj", "lightning-ps", "aer-ps", "lightning-adj", "dq-backprop"]
SAMPLED = [f"qtrain-ps@{SHOTS}", f"lightning-ps@{SHOTS}", f"aer-sampler@{SHOTS}"]
METHODS = EXACT + SAMPLED
OMP_METHODS = ["lightning-ps", "aer-ps", "lightning-adj"]
DISTS = "qtrain numpy numba pennylane pennylane-lightning qiskit qiskit-aer autograd".split()
CPU_KEYS = ["Model name", "CPU(s)", "Thread(s) per core", "L2 cache", "L3 cache"]
THREAD_VARS = (
    "OMP_NUM_THREADS OPENBLAS_NUM_THREADS OPENBLAS_CORETYPE MKL_NUM_THREADS NUMBA_NUM_THREADS "
    "NUMBA_THREADING_LAYER OMP_WAIT_POLICY GOMP_SPINCOUNT QTRAIN_KERNELS QTRAIN_MEMORY_BUDGET"
).split()
OMP_AT_START = os.environ.get("OMP_WAIT_POLICY")  # before qtrain's kernels set their default


@dataclass
class Out:
    """One gradient: ``value (P,)``, ``stderr (P,)`` when the method reports one, circuits run."""

    value: np.ndarray
    stderr: np.ndarray | None = None
    circuits: int | None = None


Fn = Callable[[np.ndarray], Out]


@dataclass(frozen=True)
class Method:
    key: str
    lib: str
    sampled: bool
    order: int  # cost ∝ layers**order: 2 for shift rules (rows × depth), 1 for adjoint/backprop
    baseline: str  # the qtrain method its ratio is taken against
    make: Callable[[int, int], Fn]


# ---------------------------------------------------------------------------------- libraries


def load_libraries(peer_omp: str) -> None:
    """Import qtrain's kernels and the peers in the order that gives them ``peer_omp``.

    ``qtrain`` (default): qtrain's numba kernels load first and set ``OMP_WAIT_POLICY`` (PASSIVE
    unless the environment chose), then the peers load their OpenMP runtimes with that value.
    ``unset``: the variable is removed and lightning's and Aer's runtimes are loaded before
    qtrain's kernels, so only numba's OpenMP gets qtrain's PASSIVE. ``PASSIVE``/``ACTIVE``: set
    explicitly for every library before anything loads.
    """
    global qml, pnp, QuantumCircuit, ParameterVector, SparsePauliOp, EstimatorV2, SamplerV2
    if peer_omp == "unset":
        os.environ.pop("OMP_WAIT_POLICY", None)
    elif peer_omp in ("PASSIVE", "ACTIVE"):
        os.environ["OMP_WAIT_POLICY"] = peer_omp
    if peer_omp != "unset":
        qtrain_kernels()
    try:
        import pennylane
        from pennylane import numpy as pennylane_numpy

        qml, pnp = pennylane, pennylane_numpy
        try:  # lightning's compiled module (and its libgomp) loads with the device
            qml.device("lightning.qubit", wires=1)
        except Exception:  # noqa: BLE001 - lightning missing: its methods are skipped
            pass
    except ImportError:
        pass
    try:
        from qiskit import QuantumCircuit as _QC
        from qiskit.circuit import ParameterVector as _PV
        from qiskit.quantum_info import SparsePauliOp as _SPO
        from qiskit_aer.primitives import EstimatorV2 as _Est
        from qiskit_aer.primitives import SamplerV2 as _Samp

        QuantumCircuit, ParameterVector, SparsePauliOp = _QC, _PV, _SPO
        EstimatorV2, SamplerV2 = _Est, _Samp
    except ImportError:
        pass
    qtrain_kernels()  # no-op when already loaded; loads them after the peers for "unset"


def qtrain_kernels() -> str | None:
    """Load qtrain's kernel set (internal API, best effort); returns its module name."""
    try:
        statevector = importlib.import_module("qtrain.sim.statevector")
        return str(statevector.select_kernels().__name__)
    except Exception:  # noqa: BLE001
        qt.expval(qt.Circuit(1).ry(0, qt.P(0)), qt.Z(0), np.zeros(1))  # public-API fallback
        return None


def loaded_libgomps() -> list[str]:
    """The libgomp copies mapped into this process (numba: system; lightning, Aer: bundled)."""
    try:
        with open("/proc/self/maps", encoding="ascii", errors="replace") as maps:
            names = [ln.split()[-1].rsplit("/", 1)[-1] for ln in maps if "libgomp" in ln]
    except OSError:
        return []
    return sorted(set(names))


def observable_qtrain(n: int) -> Any:
    return sum((qt.Z(i) for i in range(1, n)), qt.Z(0))


def make_qtrain(method: str, shots: int | None) -> Callable[[int, int], Fn]:
    def make(n: int, layers: int) -> Fn:
        circuit = qt.ansatz.hardware_efficient(n, layers)
        obs = observable_qtrain(n)
        assert circuit.n_params == 2 * n * layers
        seed = SHOT_SEED if shots else None

        def run(theta: np.ndarray) -> Out:
            g = qt.grad(circuit, obs, theta, method=method, shots=shots, seed=seed)
            stderr = None if g.stderr is None else np.asarray(g.stderr, dtype=float)
            return Out(np.asarray(g.value, dtype=float), stderr, g.n_circuits)

        return run

    return make


def make_pennylane(device: str, diff_method: str, shots: int | None) -> Callable[[int, int], Fn]:
    def make(n: int, layers: int) -> Fn:
        dev = qml.device(device, wires=n, **({"seed": SHOT_SEED} if shots else {}))
        obs = qml.sum(*(qml.Z(i) for i in range(n)))

        def body(theta: Any) -> Any:
            for layer in range(layers):
                base = 2 * n * layer
                for q in range(n):
                    qml.RY(theta[base + q], wires=q)
                for q in range(n):
                    qml.RZ(theta[base + n + q], wires=q)
                for q in range(n - 1):
                    qml.CNOT(wires=[q, q + 1])
            return qml.expval(obs)

        qnode = qml.QNode(body, dev, diff_method=diff_method)
        if shots:
            qnode = qml.set_shots(qnode, shots=shots)
        gradient = qml.grad(qnode)

        def run(theta: np.ndarray) -> Out:
            value = gradient(pnp.array(theta, requires_grad=True))
            return Out(np.asarray(value, dtype=float).reshape(-1))

        def counted(theta: np.ndarray) -> Out:
            with qml.Tracker(dev) as tracker:
                out = run(theta)
            out.circuits = int(tracker.totals.get("executions", 0)) or None
            return out

        run.counted = counted  # type: ignore[attr-defined]  # used by the (untimed) check call
        return run

    return make


def aer_circuit(n: int, layers: int) -> tuple[Any, Any]:
    params = ParameterVector("t", 2 * n * layers)
    qc = QuantumCircuit(n)
    for layer in range(layers):
        base = 2 * n * layer
        for q in range(n):
            qc.ry(params[base + q], q)
        for q in range(n):
            qc.rz(params[base + n + q], q)
        for q in range(n - 1):
            qc.cx(q, q + 1)
    obs = SparsePauliOp.from_sparse_list([("Z", [i], 1.0) for i in range(n)], n)
    return qc, obs


def shift_rows(theta: np.ndarray) -> np.ndarray:
    """``(2P+1, P)``: θ, then θ + π/2·e_k for every k, then θ - π/2·e_k (two-term rule)."""
    p = theta.size
    eye = (np.pi / 2) * np.eye(p)
    return np.vstack([theta[None, :], theta + eye, theta - eye])


def from_rows(values: np.ndarray) -> np.ndarray:
    p = (values.size - 1) // 2
    return 0.5 * (values[1 : p + 1] - values[p + 1 :])


def make_aer_ps(n: int, layers: int) -> Fn:
    qc, obs = aer_circuit(n, layers)
    estimator = EstimatorV2()  # default options: exact expectation values (precision 0)

    def run(theta: np.ndarray) -> Out:
        rows = shift_rows(theta)
        evs = estimator.run([(qc, obs, rows)]).result()[0].data.evs
        return Out(from_rows(np.asarray(evs, dtype=float)), None, rows.shape[0])

    return run


def make_aer_sampler(n: int, layers: int) -> Fn:
    qc, obs = aer_circuit(n, layers)
    qc.measure_all()  # classical register "meas"
    sampler = SamplerV2(default_shots=SHOTS, seed=SHOT_SEED)

    def run(theta: np.ndarray) -> Out:
        rows = shift_rows(theta)
        bits = sampler.run([(qc, rows)]).result()[0].data.meas
        values = np.asarray(bits.expectation_values(obs), dtype=float)
        return Out(from_rows(values), None, rows.shape[0])

    return run


def registry() -> dict[str, Method]:
    ps, adj = "qtrain-ps", "qtrain-adj"
    ps_s = f"qtrain-ps@{SHOTS}"
    table = [
        Method(ps, "qtrain", False, 2, ps, make_qtrain("param-shift", None)),
        Method(adj, "qtrain", False, 1, adj, make_qtrain("adjoint", None)),
        Method(ps_s, "qtrain", True, 2, ps_s, make_qtrain("param-shift", SHOTS)),
    ]
    if qml is not None:
        table += [
            Method(
                "lightning-ps", "lightning", False, 2, ps,
                make_pennylane("lightning.qubit", "parameter-shift", None),
            ),
            Method(
                "lightning-adj", "lightning", False, 1, adj,
                make_pennylane("lightning.qubit", "adjoint", None),
            ),
            Method(
                "dq-backprop", "default.qubit", False, 1, adj,
                make_pennylane("default.qubit", "backprop", None),
            ),
            Method(
                f"lightning-ps@{SHOTS}", "lightning", True, 2, ps_s,
                make_pennylane("lightning.qubit", "parameter-shift", SHOTS),
            ),
        ]  # fmt: skip
    if EstimatorV2 is not None:
        table += [
            Method("aer-ps", "aer", False, 2, ps, make_aer_ps),
            Method(f"aer-sampler@{SHOTS}", "aer", True, 2, ps_s, make_aer_sampler),
        ]
    return {m.key: m for m in table}


def aer_estimator_shots_exact() -> bool | None:
    """Does ``EstimatorV2(run_options={"shots": 1000})`` return exact values? (n = 4, 2 layers)."""
    if EstimatorV2 is None:
        return None
    qc, obs = aer_circuit(4, 2)
    rows = shift_rows(thetas_for(4, 2))
    exact = EstimatorV2().run([(qc, obs, rows)]).result()[0].data.evs
    shots = EstimatorV2(options={"run_options": {"shots": SHOTS, "seed_simulator": 7}})
    sampled = shots.run([(qc, obs, rows)]).result()[0].data.evs
    return bool(np.max(np.abs(np.asarray(sampled) - np.asarray(exact))) < 1e-12)


# ------------------------------------------------------------------------------------ timing


def thetas_for(n: int, layers: int) -> np.ndarray:
    return np.random.default_rng([SEED, n, layers]).uniform(-np.pi, np.pi, 2 * n * layers)


def cpu_seconds() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, CPU seconds of this process) so far."""
    with open("/proc/stat", encoding="ascii") as stat:
        ticks = [int(x) for x in stat.readline().split()[1:9]]
    busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    return busy, os.times().user + os.times().system


def repeat(fn: Fn, theta: np.ndarray, repeats: int, budget: float) -> dict[str, Any]:
    """Median of up to ``repeats`` calls, stopping once ``budget`` s are spent.

    ``foreign_cpu``: share of the machine's cores that *other* processes kept busy meanwhile
    (0 below 0.05 CPU-seconds, the clock-tick noise); above 0.1 a neighbour skews the timing.
    """
    times: list[float] = []
    busy0, own0 = cpu_seconds()
    while len(times) < repeats and sum(times) <= budget:
        t0 = time.perf_counter()
        fn(theta)
        times.append(time.perf_counter() - t0)
    busy1, own1 = cpu_seconds()
    foreign = max(0.0, (busy1 - busy0) - (own1 - own0))
    share = foreign / (sum(times) * (os.cpu_count() or 1)) if foreign >= 0.05 else 0.0
    return {"median_s": statistics.median(times), "times_s": times, "foreign_cpu": share}


class References:
    """Exact gradients (qtrain adjoint) and qtrain's 1000-shot standard errors per size."""

    def __init__(self, methods: dict[str, Method]) -> None:
        self.methods = methods
        self.exact: dict[tuple[int, int], np.ndarray] = {}
        self.stderr: dict[tuple[int, int], np.ndarray] = {}

    def gradient(self, n: int, layers: int) -> np.ndarray:
        if (n, layers) not in self.exact:
            fn = self.methods["qtrain-adj"].make(n, layers)
            self.exact[n, layers] = fn(thetas_for(n, layers)).value
        return self.exact[n, layers]

    def errors(self, n: int, layers: int, out: Out | None = None) -> np.ndarray:
        if out is not None and out.stderr is not None:
            self.stderr[n, layers] = out.stderr
        if (n, layers) not in self.stderr:
            fn = self.methods[f"qtrain-ps@{SHOTS}"].make(n, layers)
            stderr = fn(thetas_for(n, layers)).stderr
            assert stderr is not None
            self.stderr[n, layers] = stderr
        return self.stderr[n, layers]


def check(method: Method, out: Out, n: int, layers: int, refs: References) -> dict[str, Any]:
    """Agreement of one gradient with the exact one (and, when sampled, in standard errors)."""
    exact = refs.gradient(n, layers)
    diff = float(np.max(np.abs(out.value - exact)))
    rec: dict[str, Any] = {"max_abs_diff_vs_qtrain_adjoint": diff, "circuits": out.circuits}
    if not method.sampled:
        rec["agrees"] = diff <= TOL
        return rec
    stderr = np.maximum(refs.errors(n, layers, out if method.lib == "qtrain" else None), 1e-12)
    z = (out.value - exact) / stderr
    rec |= {"max_abs_z": float(np.max(np.abs(z))), "rms_z": float(np.sqrt(np.mean(z**2)))}
    rec["agrees"] = rec["max_abs_z"] <= Z_MAX
    return rec


def measure(
    method: Method, n: int, layers: int, refs: References, opts: argparse.Namespace
) -> dict[str, Any]:
    """Check, warm up and time one method at (n, layers), extrapolating past the cap."""
    cap = opts.cap if n < 20 else min(opts.cap, opts.cap_large)
    rec: dict[str, Any] = {"layers_timed": layers, "extrapolated": False}
    pilot = None
    timed_layers = layers
    if n >= PILOT_N:
        theta1 = thetas_for(n, 1)
        fn1 = method.make(n, 1)
        t0 = time.perf_counter()
        fn1(theta1)
        pilot = time.perf_counter() - t0
        rec["pilot_1_layer_s"] = pilot
        if pilot * layers**method.order > cap:
            fits = int((cap / pilot) ** (1.0 / method.order))
            timed_layers = max(1, min(layers - 1, fits))
    theta = thetas_for(n, timed_layers)
    fn = method.make(n, timed_layers)
    counted = getattr(fn, "counted", fn)
    t0 = time.perf_counter()
    out = counted(theta)  # the check call is also the warm-up
    rec["first_call_s"] = time.perf_counter() - t0
    rec |= check(method, out, n, timed_layers, refs)
    rec |= repeat(fn, theta, opts.repeats, min(opts.budget, cap))
    rec["layers_timed"] = timed_layers
    rec["time_s"] = rec["median_s"]
    if timed_layers < layers:
        assert pilot is not None
        rec["extrapolated"] = True
        rec["time_s"], rec["model"] = extrapolate(
            pilot, rec["median_s"], timed_layers, layers, method.order
        )
    return rec


def extrapolate(t1: float, tm: float, lm: int, layers: int, order: int) -> tuple[float, str]:
    """Time at ``layers`` from the 1-layer pilot ``t1`` and the median ``tm`` at ``lm`` layers."""
    if lm < 2:
        return tm * layers**order, f"t(1)·L^{order}"
    if order == 2:  # t = a·L + b·L²
        b = (tm / lm - t1) / (lm - 1)
        a = t1 - b
        if b < 0:
            a, b = tm / lm, 0.0
        elif a < 0:
            a, b = 0.0, tm / lm**2
        return a * layers + b * layers**2, f"{a:.3g}·L + {b:.3g}·L² (L = 1 and {lm})"
    c = (tm - t1) / (lm - 1)  # t = a + c·L
    a = t1 - c
    if c < 0:
        a, c = tm, 0.0
    elif a < 0:
        a, c = 0.0, tm / lm
    return a + c * layers, f"{a:.3g} + {c:.3g}·L (L = 1 and {lm})"


def bench_size(
    n: int, layers: int, methods: dict[str, Method], wanted: list[str], refs: References,
    opts: argparse.Namespace,
) -> dict[str, Any]:  # fmt: skip
    entry: dict[str, Any] = {"n": n, "layers": layers, "params": 2 * n * layers, "methods": {}}
    failed = {}
    for key in wanted:
        if key not in methods:
            continue
        t0 = time.perf_counter()
        rec = measure(methods[key], n, layers, refs, opts)
        rec["wall_s"] = time.perf_counter() - t0
        entry["methods"][key] = rec
        if not rec["agrees"]:
            failed[key] = rec.get("max_abs_z", rec["max_abs_diff_vs_qtrain_adjoint"])
        print(
            f"  n={n:2d} L={layers:2d} {key:18s} {fmt_time(rec['time_s'])}"
            f"{'*' if rec['extrapolated'] else ''} (L'={rec['layers_timed']}, "
            f"{rec['wall_s']:.0f} s wall)",
            flush=True,
        )
    if failed:
        entry["agreement_failed"] = failed
        print(f"  !! n={n}: disagreement with qtrain adjoint: {failed}", file=sys.stderr)
    return entry


# ------------------------------------------------------------------------------------- sweep


def sweep(opts: argparse.Namespace) -> list[dict[str, Any]]:
    """qtrain exact param-shift, adjoint and one forward pass over P (n = 12) and over n (L = 4)."""
    points = [(12, layers) for layers in range(1, 9)]
    top = 16 if opts.quick else 18
    points += [(n, 4) for n in range(4, top + 1, 2) if n != 12]
    make_ps = make_qtrain("param-shift", None)
    make_adj = make_qtrain("adjoint", None)
    budget = 3.0 if opts.quick else 8.0
    out = []
    for n, layers in points:
        theta = thetas_for(n, layers)
        circuit, obs = qt.ansatz.hardware_efficient(n, layers), observable_qtrain(n)

        def forward(th: np.ndarray, circuit: Any = circuit, obs: Any = obs) -> Out:
            return Out(np.atleast_1d(np.asarray(qt.expval(circuit, obs, th), dtype=float)))

        rec: dict[str, Any] = {"n": n, "layers": layers, "params": theta.size}
        for name, fn in (("ps", make_ps(n, layers)), ("adj", make_adj(n, layers)), ("expval", forward)):
            fn(theta)  # warm-up
            rec[name] = repeat(fn, theta, opts.repeats, budget)
        rec["rows"] = 2 * theta.size + 1
        rec["ps_over_expval"] = rec["ps"]["median_s"] / rec["expval"]["median_s"]
        rec["adj_over_expval"] = rec["adj"]["median_s"] / rec["expval"]["median_s"]
        out.append(rec)
        print(
            f"  sweep n={n:2d} L={layers} P={theta.size:3d}: ps {fmt_time(rec['ps']['median_s'])}, "
            f"adjoint {fmt_time(rec['adj']['median_s'])}, expval {fmt_time(rec['expval']['median_s'])}",
            flush=True,
        )
    return out


def slope(xs: list[float], ys: list[float]) -> float:
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def sweep_table(points: list[dict[str, Any]]) -> str:
    head = ["n", "L", "P", "rows", "param-shift", "adjoint", "expval (1 θ)", "ps / expval",
            "adj / expval", "ps / adj"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for p in points:
        ps, adj, ev = p["ps"]["median_s"], p["adj"]["median_s"], p["expval"]["median_s"]
        cells = [p["n"], p["layers"], p["params"], p["rows"], fmt_time(ps), fmt_time(adj),
                 fmt_time(ev), f"{ps / ev:.1f}", f"{adj / ev:.1f}", f"{ps / adj:.1f}"]  # fmt: skip
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    by_p = [p for p in points if p["n"] == 12]
    by_n = [p for p in points if p["layers"] == 4 and p["n"] >= 10]
    notes = []
    if len(by_p) >= 3:
        ps_p = slope([p["params"] for p in by_p], [p["ps"]["median_s"] for p in by_p])
        adj_p = slope([p["params"] for p in by_p], [p["adj"]["median_s"] for p in by_p])
        notes.append(f"n = 12: time ∝ P^{ps_p:.2f} (param-shift), P^{adj_p:.2f} (adjoint)")
    if len(by_n) >= 3:
        dims = [2.0 ** p["n"] for p in by_n]
        ps_n = slope(dims, [p["ps"]["median_s"] / p["params"] for p in by_n])
        adj_n = slope(dims, [p["adj"]["median_s"] / p["params"] for p in by_n])
        notes.append(
            f"L = 4, n ≥ 10: time / P ∝ (2^n)^{ps_n:.2f} (param-shift), (2^n)^{adj_n:.2f} (adjoint)"
        )
    return "\n".join(lines + [""] + notes)


# ------------------------------------------------------------------------------- OMP compare


def omp_compare(opts: argparse.Namespace) -> dict[str, Any] | None:
    """Rerun the peers at (12,6), (16,8) in a child whose peers load with the variable unset."""
    methods = [m for m in OMP_METHODS if m in opts.methods]
    sizes = [n for n in (12, 16) if n in opts.size_set]
    if not methods or not sizes:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "omp.json"
        cmd = [sys.executable, __file__, "--peer-omp", "unset", "--no-sweep", "--no-omp-compare",
               "--sizes", ",".join(map(str, sizes)), "--methods", ",".join(methods),
               "--json", str(path), "--cap", str(opts.cap), "--repeats", str(opts.repeats)]  # fmt: skip
        if opts.quick:
            cmd.append("--quick")
        env = dict(os.environ)
        if OMP_AT_START is None:
            env.pop("OMP_WAIT_POLICY", None)
        else:
            env["OMP_WAIT_POLICY"] = OMP_AT_START
        print("  child:", " ".join(cmd[1:]), flush=True)
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if not path.exists():
            print(proc.stdout[-2000:], proc.stderr[-2000:], file=sys.stderr)
            return None
        return dict(json.loads(path.read_text()))


def omp_table(main: list[dict[str, Any]], child: dict[str, Any]) -> str:
    head = ["n", "L", "method", "PASSIVE (this process)", "unset (child)", "unset / PASSIVE"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    other = {(e["n"], e["layers"]): e for e in child["results"]}
    for entry in main:
        twin = other.get((entry["n"], entry["layers"]))
        if twin is None:
            continue
        for key, rec in twin["methods"].items():
            if key.startswith("qtrain") or key not in entry["methods"]:
                continue
            here = entry["methods"][key]
            cells = [str(entry["n"]), str(entry["layers"]), key, cell(here), cell(rec),
                     f"{rec['time_s'] / here['time_s']:.2f}"]  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ output


def environment(peer_omp: str) -> dict[str, Any]:
    versions = {}
    for dist in DISTS:
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = getattr(qt, "__version__", None) if dist == "qtrain" else None
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        cpu = {
            k.strip(): v.strip()
            for k, v in (ln.split(":", 1) for ln in lscpu.splitlines() if ":" in ln)
        }
    except OSError:
        cpu = {}
    try:
        commit = subprocess.run(
            ["git", "-C", str(Path(__file__).resolve().parents[1]), "log", "-1", "--format=%h %s"],
            capture_output=True, text=True, check=False,
        ).stdout.strip()  # fmt: skip
    except OSError:
        commit = ""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "qtrain_commit": commit,
        "cpu": {k: cpu.get(k) for k in CPU_KEYS},
        "avx2": "avx2" in cpu.get("Flags", ""),
        "cpu_count": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "thread_env": {k: os.environ.get(k) for k in THREAD_VARS},
        "omp_wait_policy_at_start": OMP_AT_START,
        "peer_omp": peer_omp,
        "libgomp_loaded": loaded_libgomps(),
        "qtrain_kernels": qtrain_kernels(),
        "numba_threads": sys.modules["numba"].get_num_threads() if "numba" in sys.modules else None,
        "mem_total_gib": round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30, 1),
    }


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def cell(rec: dict[str, Any]) -> str:
    flags = ("*" if rec.get("extrapolated") else "") + ("!" if rec["foreign_cpu"] > 0.1 else "")
    return fmt_time(rec["time_s"]) + flags


EXACT_COLS = ["qtrain-ps", "qtrain-adj", "lightning-ps", "aer-ps", "lightning-adj", "dq-backprop"]
SAMPLED_COLS = SAMPLED


def table(results: list[dict[str, Any]], cols: list[str], methods: dict[str, Method]) -> str:
    head = ["n", "L", "P", "rows"]
    for key in cols:
        ratio = key in methods and methods[key].lib != "qtrain"
        head.append(f"{key} (×)" if ratio else key)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for entry in results:
        recs = entry["methods"]
        cells = [str(entry["n"]), str(entry["layers"]), str(entry["params"]),
                 str(2 * entry["params"] + 1)]  # fmt: skip
        for key in cols:
            rec = recs.get(key)
            if rec is None:
                cells.append("-")
                continue
            text = cell(rec)
            base = methods[key].baseline if key in methods else None
            if base is not None and base != key and base in recs:
                text += f" ({rec['time_s'] / recs[base]['time_s']:.2f})"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


NOTES = """
(×) = peer time / qtrain time (> 1: qtrain faster); PS peers against qtrain-ps, adjoint and
backprop against qtrain-adj, sampled peers against qtrain-ps@1000. rows = 2P+1 circuits of a
parameter-shift gradient. * = timed at fewer layers and extrapolated (see the list below).
! = other processes used > 10 % of the machine meanwhile (noisy)."""


def extrapolation_notes(results: list[dict[str, Any]]) -> str:
    lines = []
    for entry in results:
        for key, rec in entry["methods"].items():
            if rec["extrapolated"]:
                lines.append(
                    f"  * ({entry['n']},{entry['layers']}) {key}: timed at L' = "
                    f"{rec['layers_timed']} ({fmt_time(rec['median_s'])}), model {rec['model']}"
                )
    return "\n".join(lines)


def targets(results: list[dict[str, Any]]) -> list[str]:
    """The targets of docs/performance.md "Gradients"."""
    out = []

    def ratio(recs: dict[str, Any], peer: str, base: str) -> float | None:
        if peer in recs and base in recs:
            return float(recs[peer]["time_s"] / recs[base]["time_s"])
        return None

    for entry in results:
        n, recs = entry["n"], entry["methods"]
        star = "*" if any(r["extrapolated"] for r in recs.values()) else ""
        for mode, base, peers in (
            ("exact", "qtrain-ps", ("lightning-ps", "aer-ps")),
            (f"{SHOTS} shots", f"qtrain-ps@{SHOTS}", (f"lightning-ps@{SHOTS}", f"aer-sampler@{SHOTS}")),
        ):
            if n > 16:
                continue
            for peer, need in zip(peers, (10.0, 2.0) if n <= 12 else (2.0, 2.0), strict=True):
                r = ratio(recs, peer, base)
                if r is not None:
                    verdict = "MET" if r >= need else "MISSED"
                    out.append(
                        f"({mode}) n={n}{star}: {peer} / {base} = {r:.2f} (≥ {need:g}): {verdict}"
                    )
        r = ratio(recs, "qtrain-adj", "lightning-adj")
        if r is not None:
            verdict = "MET" if r <= 1.5 else "MISSED"
            out.append(f"(adjoint) n={n}{star}: qtrain-adj / lightning-adj = {r:.2f} (≤ 1.5): {verdict}")
    return out


# -------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, tighter caps, n ≤ 16")
    parser.add_argument("--json", type=Path, help="write all results to this file")
    parser.add_argument("--sizes", help="comma-separated n, e.g. 4,8,12 (default: all; quick ≤ 16)")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"subset of {','.join(METHODS)}")
    parser.add_argument("--cap", type=float, help="longest call timed as is (s; 40, quick 6)")
    parser.add_argument("--cap-large", type=float, default=10.0, help="the cap at n = 20 (s)")
    parser.add_argument("--repeats", type=int, help="repeats per measurement (5, quick 3)")
    parser.add_argument("--no-sweep", dest="sweep", action="store_false")
    parser.add_argument("--omp-compare", dest="omp", action="store_true", default=None,
                        help="peers with OMP_WAIT_POLICY unset, child process (default: full mode)")  # fmt: skip
    parser.add_argument("--no-omp-compare", dest="omp", action="store_false")
    parser.add_argument(
        "--peer-omp", default="qtrain", choices=["qtrain", "unset", "PASSIVE", "ACTIVE"],
        help="OMP_WAIT_POLICY the peers' OpenMP runtimes load with (see load_libraries)",
    )  # fmt: skip
    opts = parser.parse_args(argv)
    load_libraries(opts.peer_omp)
    opts.cap = opts.cap or (6.0 if opts.quick else 40.0)
    opts.repeats = opts.repeats or (3 if opts.quick else 5)
    opts.budget = 6.0 if opts.quick else 30.0  # seconds of repeats per measurement
    opts.omp = (not opts.quick) if opts.omp is None else opts.omp
    sizes = [n for n, _ in SIZES if not (opts.quick and n > 16)]
    opts.size_set = {int(s) for s in opts.sizes.split(",")} if opts.sizes else set(sizes)
    methods = registry()
    wanted = [m for m in opts.methods.split(",") if m]
    opts.methods = wanted
    unknown = [m for m in wanted if m not in METHODS]
    if unknown:
        parser.error(f"unknown methods {unknown}; choose from {METHODS}")
    env = environment(opts.peer_omp)
    env["aer_estimator_shots_exact"] = aer_estimator_shots_exact()
    print(json.dumps(env, indent=1, ensure_ascii=False), flush=True)
    started = time.perf_counter()
    refs = References(methods)
    warm = methods["qtrain-adj"].make(4, 1)  # compile qtrain's kernels outside any timing
    warm(thetas_for(4, 1))
    results = []
    for n, layers in SIZES:
        if n not in opts.size_set:
            continue
        t0 = time.perf_counter()
        results.append(bench_size(n, layers, methods, wanted, refs, opts))
        print(f"n={n:2d} L={layers:2d} done in {time.perf_counter() - t0:.1f} s", flush=True)
    points = sweep(opts) if opts.sweep else []
    child = omp_compare(opts) if opts.omp else None
    total = time.perf_counter() - started
    print("\nExact gradients (median s):")
    print(table(results, EXACT_COLS, methods))
    print(f"\nGradients at {SHOTS} shots per circuit (median s):")
    print(table(results, SAMPLED_COLS, methods))
    print(NOTES)
    notes = extrapolation_notes(results)
    if notes:
        print(notes)
    if points:
        print("\nqtrain exact gradient vs P and n (median s):")
        print(sweep_table(points))
    if child is not None:
        print(f"\nPeers with OMP_WAIT_POLICY unset (child process) vs this process "
              f"({os.environ.get('OMP_WAIT_POLICY')}):")  # fmt: skip
        print(omp_table(results, child))
    verdicts = targets(results)
    print("\n" + "\n".join(verdicts))
    failed = [e["n"] for e in results if "agreement_failed" in e]
    print(
        f"agreement (exact ≤ {TOL}, sampled max |z| ≤ {Z_MAX}): "
        + ("FAILED for n=" + str(failed) if failed else "all passed")
    )
    print(f"total {total:.0f} s")
    if opts.json:
        payload = {"mode": "quick" if opts.quick else "full", "seed": SEED, "shots": SHOTS}
        payload |= {"shot_seed": SHOT_SEED, "tolerance": TOL, "z_max": Z_MAX}
        payload |= {"repeats": opts.repeats, "cap_s": opts.cap, "cap_large_s": opts.cap_large}
        payload |= {"budget_s": opts.budget, "environment": env, "results": results}
        payload |= {"sweep": points, "omp_compare": child, "targets": verdicts, "total_s": total}
        opts.json.parent.mkdir(parents=True, exist_ok=True)
        opts.json.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
