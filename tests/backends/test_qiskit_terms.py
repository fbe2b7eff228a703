"""Per-term values from a Qiskit sampler's counts: what readout mitigation reads on a device."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("qiskit_aer")

import qtrain as qt
from qtrain.backends.protocol import Task
from qtrain.backends.qiskit import QiskitBackend

AerSimulator = pytest.importorskip("qiskit_aer").AerSimulator
fake_provider = pytest.importorskip("qiskit_ibm_runtime.fake_provider")

CIRCUIT = qt.Circuit(3).ry(0, qt.P(0)).cx(0, 1).rx(2, qt.P(1)).cz(1, 2)
OBSERVABLES = (
    qt.Observable.parse("0.3 + 0.5 Z0 - 0.2 Z0 Z1 + 0.7 X2 + 0.1 Z1 X2"),
    qt.Observable.parse("Y0 Y1 - 0.4 Z2"),
)
PARAMS = np.array([[0.3, -1.1], [2.0, 0.4]])


def test_term_values_add_up_to_the_values_from_the_same_shots() -> None:
    backend = QiskitBackend(AerSimulator(method="statevector"), seed_transpiler=1)
    task = Task(CIRCUIT, OBSERVABLES, PARAMS, shots=700, seed=2, term_values=True)
    result = backend.run([task])[0]
    assert result is not None
    terms = result.metadata["term_values"]
    assert isinstance(terms, tuple) and len(terms) == 2
    for o, observable in enumerate(OBSERVABLES):
        coefficients = np.array([complex(c).real for _, c in observable.terms])
        assert terms[o].shape == (2, len(observable.terms))
        np.testing.assert_allclose(terms[o] @ coefficients, result.values[:, o], atol=1e-12)
        assert np.all(np.abs(terms[o]) <= 1.0)
    plain = backend.run([Task(CIRCUIT, OBSERVABLES, PARAMS, shots=700, seed=2)])[0]
    assert plain is not None and "term_values" not in plain.metadata
    np.testing.assert_array_equal(plain.values, result.values)  # the same draws


def test_correlated_readout_mitigation_runs_on_a_fake_device() -> None:
    device = QiskitBackend(fake_provider.FakeManilaV2(), seed_transpiler=1)
    readout = qt.ReadoutMitigation(correlated=True, shots=4000, seed=3)
    mitigated = qt.Mitigated(device, readout=readout)
    circuit = qt.Circuit(2).x(0)  # |10>: readout errors pull <Z0> and <Z1> toward 0
    observable = qt.Observable.parse("Z0 - Z1")  # exactly -2
    raw = qt.expval(circuit, observable, [], shots=20000, seed=5, backend=device)
    fixed = qt.expval(circuit, observable, [], shots=20000, seed=5, backend=mitigated)
    assert raw.value + 2 > 5 * raw.stderr  # the device's readout bias is plain to see
    assert abs(fixed.value + 2) < 4 * fixed.stderr  # and mitigation removes it


@pytest.mark.parametrize("mode", ["job", "batch"])
def test_qiskit_ibm_runtimes_client_side_sampler_is_a_target(mode: str) -> None:
    """qiskit-ibm-runtime's current Sampler (local mode on a fake device), job or batch."""
    runtime = pytest.importorskip("qiskit_ibm_runtime")
    Sampler = pytest.importorskip("qiskit_ibm_runtime.executor_sampler").Sampler

    device = fake_provider.FakeManilaV2()
    holder = device if mode == "job" else runtime.Batch(backend=device)
    backend = QiskitBackend(Sampler(mode=holder), seed_transpiler=1)
    assert backend.backend is device and backend.calibration is not None
    task = Task(CIRCUIT, OBSERVABLES, PARAMS, shots=3000, seed=4)
    result = backend.run([task])[0]
    aer = QiskitBackend(fake_provider.FakeManilaV2(), seed_transpiler=1).run([task])[0]
    assert result is not None and result.variances is not None and aer is not None
    spread = np.sqrt(result.variances + aer.variances)  # both carry the device's noise
    assert np.all(np.abs(result.values - aer.values) < 5 * spread)
    assert result.metadata["job_ids"] and result.metadata["calibration_id"].startswith("fake_")
    with pytest.raises(qt.ConfigError, match="primitive runs in the mode"):
        QiskitBackend(Sampler(mode=device), execution="batch")
