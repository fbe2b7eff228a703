"""The two sides ``bench_mitigation.py`` compares: qtrain's ``qt.Mitigated`` and Mitiq's ``zne``.

Both fold the same circuit globally (``U (U†U)^k``) at the scale factors 1, 3, 5 and evaluate the
folded circuits exactly under the same noise; only who folds, who simulates and who
extrapolates differs:

* qtrain: ``qt.Mitigated(LocalSimulator(noise=m, method="density_matrix"), zne=qt.ZNE(...))``;
  ``qt.expval`` and ``qt.grad(method="param-shift")``, all rows × factors in one inner call.
* Mitiq: a Qiskit circuit, bound at each θ, through ``mitiq.zne.execute_with_zne`` with
  ``scale_noise=mitiq.zne.scaling.fold_global`` and a batched executor (annotated
  ``-> list[float]``, so Mitiq sends its 3 folded circuits as one job) that runs Qiskit Aer's
  ``AerSimulator(method="density_matrix")`` with the equivalent ``NoiseModel`` and
  ``save_expectation_value(H)``. Mitiq folds a Qiskit circuit by converting it to cirq and back
  through OpenQASM 2 (that is its Qiskit path, and part of its cost).
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

try:
    import qtrain as qt
except ImportError:  # running from a checkout without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import qtrain as qt

sys.path.insert(0, str(Path(__file__).resolve().parent))  # noise_libs
from noise_libs import LAYERS, P1, P2, ansatz, shifted, thetas_for

Real = NDArray[np.float64]

SIZES = [2, 4, 6, 8]
FACTORS = (1, 3, 5)
CONSTANT, ZZ, XS = 0.3, 1.0, 0.5  # H = 0.3·I + Σ Z_i Z_{i+1} + 0.5·Σ X_i
EXTRAPOLATIONS = ("richardson", "linear", "exponential")
TOL = 1e-8
PEER: dict[str, Any] = {}  # Mitiq, Qiskit and Aer modules, filled by load_peers()
MODULES = (
    "mitiq mitiq.zne mitiq.zne.scaling mitiq.zne.inference cirq qiskit.circuit "
    "qiskit.quantum_info qiskit_aer qiskit_aer.noise"
).split()

__all__ = [
    "CONSTANT",
    "EXTRAPOLATIONS",
    "FACTORS",
    "LAYERS",
    "P1",
    "P2",
    "PEER",
    "SIZES",
    "TOL",
    "MitiqSide",
    "QtrainSide",
    "load_peers",
    "log_fit",
    "qt",
    "shifted",
    "thetas_for",
]


def load_peers() -> list[str]:
    """Import Mitiq, cirq, Qiskit and Aer into ``PEER``; the names that failed to import."""
    missing = []
    for name in MODULES:
        try:
            PEER[name] = importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def pauli_terms(n: int) -> list[tuple[str, list[int], float]]:
    """``H`` as ``(letters, wires, coefficient)``: the identity, the ZZ chain, the X's."""
    zz = [("ZZ", [i, i + 1], ZZ) for i in range(n - 1)]
    return [("", [], CONSTANT), *zz, *(("X", [i], XS) for i in range(n))]


def log_fit(values: Real, asymptote: float = CONSTANT) -> Real:
    """qtrain's exponential estimate written out: an unweighted line through ``log|y − a|``.

    ``values`` is ``(B, L)`` at ``FACTORS``, each row on one side of ``asymptote``.
    """
    shifted_y = np.asarray(values, dtype=np.float64) - asymptote
    sign = np.sign(shifted_y[:, :1])
    lines = np.polyfit(np.asarray(FACTORS, dtype=float), np.log(np.abs(shifted_y)).T, 1)
    return np.asarray(asymptote + sign[:, 0] * np.exp(lines[1]), dtype=np.float64)


# ---------------------------------------------------------------- qtrain


class QtrainSide:
    """qtrain's mitigated expectation and gradient at ``n`` wires for one extrapolation."""

    def __init__(self, n: int, extrapolation: str) -> None:
        dep1 = qt.noise.depolarizing(P1)
        model = qt.NoiseModel().after("RY", dep1).after("RZ", dep1)
        model = model.after("CNOT", qt.noise.depolarizing(P2, n_wires=2))
        self.inner = qt.LocalSimulator(noise=model, method="density_matrix")
        zne = qt.ZNE(factors=FACTORS, extrapolation=extrapolation, folding="global")
        self.backend = qt.Mitigated(self.inner, zne=zne)
        self.circuit = qt.ansatz.hardware_efficient(n, LAYERS)
        obs: Any = CONSTANT * qt.I()
        for letters, wires, coefficient in pauli_terms(n)[1:]:
            term = qt.Z(wires[0]) @ qt.Z(wires[1]) if letters == "ZZ" else qt.X(wires[0])
            obs = obs + coefficient * term
        self.observable = obs

    def expval(self, theta: Real) -> float:
        """The mitigated ⟨H⟩ at one θ (``qt.expval``)."""
        return float(qt.expval(self.circuit, self.observable, theta, backend=self.backend))

    def grad(self, theta: Real) -> Real:
        """The param-shift gradient of the mitigated ⟨H⟩ (``qt.grad``): 2P+1 rows × 3 factors."""
        g = qt.grad(
            self.circuit, self.observable, theta, backend=self.backend, method="param-shift"
        )
        return np.asarray(g.value, dtype=np.float64)

    def detail(self, rows: Real) -> tuple[Real, Real, int]:
        """Mitigated values ``(B,)``, values per factor ``(B, L)``, cells that fell back."""
        task = qt.Task(self.circuit, (self.observable,), np.atleast_2d(rows).astype(np.float64))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a fallback is counted below, not printed
            result = self.backend.run([task])[0]
        assert result is not None  # exact local runs do not go missing
        meta: Any = result.metadata["mitigation"]
        per = np.asarray(meta["values_by_factor"], dtype=np.float64)[:, :, 0].T
        return result.values[:, 0], per, int(meta.get("fallback_cells", 0))


# ---------------------------------------------------------------- Mitiq with Qiskit Aer


class MitiqSide:
    """Mitiq's ZNE of the same circuit, folded by Mitiq and run by Aer's density matrix."""

    def __init__(self, n: int, extrapolation: str) -> None:
        circ, noise = PEER["qiskit.circuit"], PEER["qiskit_aer.noise"]
        self.n, self.kind = n, extrapolation
        self.params = circ.ParameterVector("t", 2 * n * LAYERS)
        qc = circ.QuantumCircuit(n)
        for gate, k, q in ansatz(n):
            _ = qc.cx(q, k) if gate == "cx" else getattr(qc, gate.lower())(self.params[k], q)
        self.qc = qc
        self.obs = PEER["qiskit.quantum_info"].SparsePauliOp.from_sparse_list(pauli_terms(n), n)
        model = noise.NoiseModel(basis_gates=["ry", "rz", "cx"])
        model.add_all_qubit_quantum_error(noise.depolarizing_error(P1, 1), ["ry", "rz"])
        model.add_all_qubit_quantum_error(noise.depolarizing_error(P2, 2), ["cx"])
        self.sim = PEER["qiskit_aer"].AerSimulator(method="density_matrix", noise_model=model)
        self.fold: Callable[[Any, float], Any] = PEER["mitiq.zne.scaling"].fold_global

    def factory(self) -> Any:
        """A fresh Mitiq factory: Richardson, linear, or exponential with the asymptote 0.3."""
        inference = PEER["mitiq.zne.inference"]
        scales = [float(f) for f in FACTORS]
        if self.kind == "exponential":
            return inference.ExpFactory(scales, asymptote=float(CONSTANT))
        if self.kind == "linear":
            return inference.LinearFactory(scales)
        return inference.RichardsonFactory(scales)

    def bind(self, theta: Real) -> Any:
        return self.qc.assign_parameters(dict(zip(self.params, theta.tolist(), strict=True)))

    def execute(self, circuits: list[Any]) -> list[float]:
        """Mitiq's executor, batched: exact noisy ⟨H⟩ of every circuit, one Aer job."""
        jobs = []
        for circuit in circuits:
            job = circuit.copy()
            job.save_expectation_value(self.obs, list(range(self.n)))
            jobs.append(job)
        result = self.sim.run(jobs).result()
        return [float(np.real(result.data(i)["expectation_value"])) for i in range(len(jobs))]

    def expval(self, theta: Real) -> float:
        """``mitiq.zne.execute_with_zne`` of the circuit bound at θ."""
        zne = PEER["mitiq.zne"]
        circuit = self.bind(theta)
        value = zne.execute_with_zne(
            circuit, self.execute, factory=self.factory(), scale_noise=self.fold
        )
        return float(value)

    def detail(self, theta: Real) -> tuple[float, Real]:
        """The mitigated value and Mitiq's values per factor (``factory.run``)."""
        factory = self.factory().run(self.bind(theta), self.execute, scale_noise=self.fold)
        values = np.asarray(factory.get_expectation_values(), dtype=np.float64)
        return float(factory.reduce()), values

    def grad(self, theta: Real) -> Real:
        """The user's way: ``execute_with_zne`` of both shifted circuits of every parameter."""
        values = np.array([self.expval(row) for row in shifted(theta)[1:]])
        return np.asarray(0.5 * (values[0::2] - values[1::2]), dtype=np.float64)

    def folded(self, rows: Real) -> list[Any]:
        """Every row's circuit folded by Mitiq at every factor (row-major)."""
        return [self.fold(self.bind(row), float(f)) for row in rows for f in FACTORS]

    def per_factor(self, rows: Real) -> Real:
        """``(B, L)`` exact noisy values of Mitiq's folded circuits, all in one Aer job."""
        return np.asarray(self.execute(self.folded(rows)), dtype=np.float64).reshape(-1, 3)

    def extrapolate(self, values: Real) -> Real:
        """Mitiq's static ``Factory.extrapolate`` on each row of ``(B, L)`` values."""
        inference, scales = PEER["mitiq.zne.inference"], [float(f) for f in FACTORS]
        if self.kind == "exponential":
            exp = inference.ExpFactory.extrapolate
            return np.array([exp(scales, list(v), asymptote=CONSTANT) for v in values])
        fit = inference.LinearFactory if self.kind == "linear" else inference.RichardsonFactory
        return np.array([fit.extrapolate(scales, list(v)) for v in values])

    def grad_batched(self, theta: Real) -> Real:
        """Mitiq at its fastest: every shifted circuit folded, one Aer job, then extrapolated."""
        values = self.extrapolate(self.per_factor(shifted(theta)[1:]))
        return np.asarray(0.5 * (values[0::2] - values[1::2]), dtype=np.float64)
