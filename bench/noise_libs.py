"""The libraries ``bench_noise.py`` compares, behind one interface: qtrain (density matrix and
trajectories), Qiskit Aer (density matrix), PennyLane ``default.mixed``, and a dense numpy Kraus
reference written here. The workload and the readout handling are described in
``bench_noise.py``'s docstring.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

try:
    import qtrain as qt
except ImportError:  # running from a checkout without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import qtrain as qt

SIZES, LAYERS, P1, P2, P01, P10 = [4, 6, 8, 10, 12], 2, 0.01, 0.02, 0.02, 0.05
SEED, SHOTS, SHOT_SEED, TRAJ, TOL, Z_MAX, RO_SHOTS = 20261207, 1000, 1, 100, 1e-8, 5.0, 200_000
RO_A, RO_B = 1.0 - P01 - P10, P10 - P01  # ⟨Z_i⟩_read = RO_A·⟨Z_i⟩ + RO_B, exactly
LIBS = ["qtrain-dm", "qtrain-traj", "aer-dm", "pl-mixed"]
EXACT = ["qtrain-dm", "aer-dm", "aer-est", "pl-mixed", "numpy-ref"]
DISTS = "qtrain numpy numba pennylane qiskit qiskit-aer".split()
ENV_VARS = "OMP_WAIT_POLICY OMP_NUM_THREADS NUMBA_NUM_THREADS QTRAIN_KERNELS".split()
PEER: dict[str, Any] = {}  # peer modules, filled by load_libraries()
PAULI = {
    "I": np.eye(2, dtype=complex),
    "X": np.array([[0, 1], [1, 0]], dtype=complex),
    "Y": np.array([[0, -1j], [1j, 0]]),
    "Z": np.diag([1.0 + 0j, -1.0]),
}


class Out(NamedTuple):
    value: np.ndarray  # expectation (1,) or gradient components
    stderr: np.ndarray | None = None


class Lib(NamedTuple):
    expval: Callable[[np.ndarray], Out]  # one θ
    grad: Callable[[np.ndarray], Out]  # the full (P,) gradient, all 2P+1 rows
    part: Callable[[np.ndarray, int], Out]  # the first k shifted rows: k/2 components


def thetas_for(n: int) -> np.ndarray:
    return np.random.default_rng([SEED, n]).uniform(-np.pi, np.pi, 2 * n * LAYERS)


def ansatz(n: int) -> list[tuple[str, int, int]]:  # (gate, parameter index or target, wire)
    ops = []
    for base in range(0, 2 * n * LAYERS, 2 * n):
        ops += [("RY", base + q, q) for q in range(n)] + [("RZ", base + n + q, q) for q in range(n)]
        ops += [("cx", q + 1, q) for q in range(n - 1)]
    return ops


def shifted(theta: np.ndarray) -> np.ndarray:
    """Rows θ, then θ + π/2·e_j, θ − π/2·e_j for j = 0..P−1 (PennyLane's order)."""
    eye = (np.pi / 2) * np.eye(theta.size)
    pairs = np.stack([theta + eye, theta - eye], axis=1).reshape(-1, theta.size)
    return np.vstack([theta[None, :], pairs])


def halves(values: np.ndarray, errs: np.ndarray | None = None) -> Out:
    """Gradient components from (v₊, v₋) pairs, with standard errors when given."""
    v = np.asarray(values, dtype=float)
    err = None if errs is None else 0.5 * np.hypot(errs[0::2], errs[1::2])
    return Out(0.5 * (v[0::2] - v[1::2]), err)


def depolarizing_kraus(p: float, k: int) -> list[np.ndarray]:
    """Kraus operators of ρ → (1−p)ρ + p·I/2ᵏ: √w·P for every Pauli word P."""
    out = []
    for word in itertools.product("IXYZ", repeat=k):
        w = (1 - p + p / 4**k) if set(word) == {"I"} else p / 4**k
        mat = np.ones((1, 1), dtype=complex)
        for letter in word:
            mat = np.kron(mat, PAULI[letter])
        out.append(math.sqrt(w) * mat)
    return out


def readout_kraus() -> list[np.ndarray]:
    """Readout error as a channel on the diagonal: P(read b | prepared a) = A[b, a]."""
    out = []
    for b, a in itertools.product(range(2), range(2)):
        prob = [[1 - P01, P10], [P01, 1 - P10]][b][a]
        op = np.zeros((2, 2), dtype=complex)
        op[b, a] = math.sqrt(prob)
        out.append(op)
    return out


# ---------------------------------------------------------------- the numpy Kraus reference


def apply_kraus(rho: np.ndarray, ops: list[np.ndarray], wires: list[int], n: int) -> np.ndarray:
    """Σ_K K ρ K† on `wires` of ρ held as a (2,)*2n tensor (first wire: most significant)."""
    k, out = len(wires), np.zeros_like(rho)
    ket, bra, inputs = wires, [n + w for w in wires], list(range(k, 2 * k))
    for op in ops:
        t = op.reshape((2,) * 2 * k)
        r = np.moveaxis(np.tensordot(t, rho, axes=(inputs, ket)), range(k), ket)
        out += np.moveaxis(np.tensordot(t.conj(), r, axes=(inputs, bra)), range(k), bra)
    return out


def reference_value(n: int, theta: np.ndarray) -> float:
    """⟨Σ Z_i⟩ after readout, by brute force: every gate and Kraus operator on a dense ρ."""
    rho = np.zeros((2,) * 2 * n, dtype=complex)
    rho[(0,) * 2 * n] = 1.0
    dep1, dep2 = depolarizing_kraus(P1, 1), depolarizing_kraus(P2, 2)
    cnot = np.eye(4, dtype=complex)[[0, 1, 3, 2]]
    for gate, k, q in ansatz(n):
        if gate == "cx":
            rho = apply_kraus(apply_kraus(rho, [cnot], [q, k], n), dep2, [q, k], n)
            continue
        c, s = math.cos(theta[k] / 2), math.sin(theta[k] / 2)
        u = np.array([[c, -s], [s, c]]) if gate == "RY" else np.diag([c - 1j * s, c + 1j * s])
        rho = apply_kraus(apply_kraus(rho, [u], [q], n), dep1, [q], n)
    probs = np.real(np.diagonal(rho.reshape(2**n, 2**n))).reshape((2,) * n)
    confusion = np.array([[1 - P01, P10], [P01, 1 - P10]])  # [read, prepared]
    for q in range(n):
        probs = np.moveaxis(np.tensordot(confusion, probs, axes=([1], [q])), 0, q)
    return float(sum(np.sum(np.take(probs, 0, q)) - np.sum(np.take(probs, 1, q)) for q in range(n)))


def make_reference(n: int) -> Lib:
    def rows(r: np.ndarray) -> np.ndarray:
        return np.array([reference_value(n, row) for row in r])

    return Lib(
        lambda th: Out(rows(th[None])),
        lambda th: halves(rows(shifted(th)[1:])),
        lambda th, k: halves(rows(shifted(th)[1 : k + 1])),
    )


# ---------------------------------------------------------------- qtrain


def noise_model() -> Any:
    dep1 = qt.noise.depolarizing(P1)
    model = qt.NoiseModel().after("RY", dep1).after("RZ", dep1)
    model = model.after("CNOT", qt.noise.depolarizing(P2, n_wires=2))
    return model.readout(qt.noise.readout_error(P01, P10))


def make_qtrain(method: str, n: int) -> Lib:
    extra = {"trajectories": TRAJ} if method == "trajectories" else {}
    sim = qt.LocalSimulator(noise=noise_model(), method=method, **extra)
    circuit = qt.ansatz.hardware_efficient(n, LAYERS)
    obs = sum((qt.Z(i) for i in range(1, n)), qt.Z(0))
    kw: dict[str, Any] = {"shots": SHOTS, "seed": SHOT_SEED} if method == "trajectories" else {}

    def ev(rows: np.ndarray) -> Out:
        est = qt.expval(circuit, obs, rows, backend=sim, **kw)
        if not kw:
            return Out(np.atleast_1d(np.asarray(est, dtype=float)))
        return Out(np.atleast_1d(est.value).astype(float), np.atleast_1d(est.stderr).astype(float))

    def grad(theta: np.ndarray) -> Out:
        g = qt.grad(circuit, obs, theta, method="param-shift", backend=sim, **kw)
        err = None if g.stderr is None else np.asarray(g.stderr, dtype=float)
        return Out(np.asarray(g.value, dtype=float), err)

    def part(theta: np.ndarray, k: int) -> Out:
        out = ev(shifted(theta)[1 : k + 1])
        return halves(out.value, out.stderr)

    return Lib(lambda th: ev(th[None]), grad, part)


# ---------------------------------------------------------------- Qiskit Aer


def aer_model(readout: bool = False) -> Any:
    noise = PEER["qiskit_aer.noise"]
    model = noise.NoiseModel(basis_gates=["ry", "rz", "cx"])
    model.add_all_qubit_quantum_error(noise.depolarizing_error(P1, 1), ["ry", "rz"])
    model.add_all_qubit_quantum_error(noise.depolarizing_error(P2, 2), ["cx"])
    if readout:
        model.add_all_qubit_readout_error(noise.ReadoutError([[1 - P01, P01], [P10, 1 - P10]]))
    return model


def aer_circuit(n: int) -> tuple[Any, Any, Any]:
    circ = PEER["qiskit.circuit"]
    params = circ.ParameterVector("t", 2 * n * LAYERS)
    qc = circ.QuantumCircuit(n)
    for gate, k, q in ansatz(n):
        _ = qc.cx(q, k) if gate == "cx" else getattr(qc, gate.lower())(params[k], q)
    terms = [("Z", [i], 1.0) for i in range(n)]
    return qc, params, PEER["qiskit.quantum_info"].SparsePauliOp.from_sparse_list(terms, n)


def make_aer(n: int, estimator: bool = False) -> Lib:
    qc, params, obs = aer_circuit(n)
    if estimator:
        options = {"backend_options": {"method": "density_matrix", "noise_model": aer_model()}}
        est = PEER["qiskit_aer.primitives"].EstimatorV2(options=options)
    else:
        sim = PEER["qiskit_aer"].AerSimulator(method="density_matrix", noise_model=aer_model())
        qc.save_expectation_value(obs, list(range(n)))

    def rows(r: np.ndarray) -> np.ndarray:  # one job, all rows; readout corrected exactly
        if estimator:
            values = est.run([(qc, obs, r)]).result()[0].data.evs
        else:
            binds = [{p: r[:, j].tolist() for j, p in enumerate(params)}]
            res = sim.run(qc, parameter_binds=binds).result()
            values = [res.data(i)["expectation_value"] for i in range(r.shape[0])]
        return RO_A * np.asarray(values, dtype=float).reshape(-1) + n * RO_B

    def grad(theta: np.ndarray) -> Out:
        return halves(rows(shifted(theta))[1:])

    return Lib(
        lambda th: Out(rows(th[None])), grad, lambda th, k: halves(rows(shifted(th)[1 : k + 1]))
    )


def aer_sampled_readout(n: int, theta: np.ndarray) -> Out:
    """Aer's own ReadoutError, sampled: ⟨Σ Z_i⟩ and its standard error from the raw bits."""
    qc, params, _ = aer_circuit(n)
    qc = qc.assign_parameters(dict(zip(params, theta, strict=True)))
    qc.measure_all()
    sim = PEER["qiskit_aer"].AerSimulator(method="density_matrix", noise_model=aer_model(True))
    counts = sim.run(qc, shots=RO_SHOTS, seed_simulator=SHOT_SEED).result().get_counts()
    z = np.array([n - 2 * key.count("1") for key in counts], dtype=float)
    w = np.array(list(counts.values()), dtype=float) / RO_SHOTS
    mean = float(w @ z)
    return Out(np.array([mean]), np.array([math.sqrt((w @ (z - mean) ** 2) / RO_SHOTS)]))


# ---------------------------------------------------------------- PennyLane default.mixed


def make_pennylane(n: int, readout_channel: bool = False) -> Lib:
    qml, pnp = PEER["pennylane"], PEER["pennylane.numpy"]
    dev = qml.device("default.mixed", wires=n)
    obs = qml.sum(*(qml.Z(i) for i in range(n)))
    dep2, ro = depolarizing_kraus(P2, 2), readout_kraus()

    def body(theta: Any) -> Any:
        for gate, k, q in ansatz(n):
            if gate == "cx":
                qml.CNOT([q, k])
                qml.QubitChannel(dep2, wires=[q, k])
            else:
                getattr(qml, gate)(theta[k], wires=q)
                qml.DepolarizingChannel(0.75 * P1, wires=q)
        for q in range(n) if readout_channel else ():
            qml.QubitChannel(ro, wires=q)
        return qml.expval(obs)

    qnode = qml.QNode(body, dev, diff_method="parameter-shift")
    scale, shift = (1.0, 0.0) if readout_channel else (RO_A, n * RO_B)

    def ev(theta: np.ndarray) -> Out:
        return Out(np.array([scale * float(qnode(pnp.array(theta, requires_grad=False))) + shift]))

    def grad(theta: np.ndarray) -> Out:
        return Out(scale * np.asarray(qml.grad(qnode)(pnp.array(theta, requires_grad=True))))

    def part(theta: np.ndarray, k: int) -> Out:  # PennyLane's own shifted tapes, first k
        tape = qml.workflow.construct_tape(qnode)(pnp.array(theta, requires_grad=True))
        tapes, _ = qml.gradients.param_shift(tape)
        values = qml.execute(list(tapes[:k]), dev, diff_method=None)
        return halves(scale * np.asarray(values, dtype=float) + shift)

    return Lib(ev, grad, part)


# ---------------------------------------------------------------- measuring


def registry() -> dict[str, Callable[[int], Lib]]:
    out: dict[str, Callable[[int], Lib]] = {"numpy-ref": make_reference}
    if "noise" in PEER:
        out["qtrain-dm"] = lambda n: make_qtrain("density_matrix", n)
        out["qtrain-traj"] = lambda n: make_qtrain("trajectories", n)
    if {"qiskit_aer", "qiskit_aer.noise", "qiskit.circuit", "qiskit.quantum_info"} <= PEER.keys():
        out["aer-dm"] = make_aer
        out["aer-est"] = lambda n: make_aer(n, estimator=True)
    if "pennylane" in PEER:
        out["pl-mixed"] = make_pennylane
    return out


def qtrain_kernels() -> str:
    """Load qtrain's kernel set now (internal API; this sets OMP_WAIT_POLICY) and name it."""
    with contextlib.suppress(Exception):
        module = importlib.import_module("qtrain.sim.statevector")
        return str(module.select_kernels().__name__)
    return "?"


def load_libraries() -> None:
    """qtrain's kernels first, so every OpenMP runtime sees its OMP_WAIT_POLICY (bench_grad)."""
    qtrain_kernels()
    with contextlib.suppress(TypeError, AttributeError):  # the noisy simulator is there
        qt.LocalSimulator(noise=noise_model(), method="density_matrix")
        PEER["noise"] = True
    keys = "pennylane pennylane.numpy qiskit.circuit qiskit.quantum_info qiskit_aer"
    for key in [*keys.split(), "qiskit_aer.noise", "qiskit_aer.primitives"]:
        with contextlib.suppress(ImportError):
            PEER[key] = importlib.import_module(key)
