"""Single precision on the statevector path: complex64 states, the documented error bounds."""

from __future__ import annotations

import types

import numpy as np
import pytest

import qtrain as qt
from qtrain.ir.observables import Observable
from qtrain.passes.slots import lower
from qtrain.sim.adjoint import adjoint_jacobian, adjoint_tape
from qtrain.sim.error_bound import adjoint_bound, expectation_bound, step_constant
from qtrain.sim.measure import exact_values, measurement_plan
from qtrain.sim.methods import state_bytes
from qtrain.sim.precision import check_precision, complex_dtype, real_dtype
from qtrain.sim.program import compile_program
from qtrain.sim.statevector import chunk_rows, run_program, select_kernels
from qtrain.testing.reference_noise import random_circuit, random_observable

KERNELS = ["numpy", "numba"]  # numba is a test dependency (test_fast_kernels imports it)
# (qubits, ops): random circuits over every gate family (four-term-shift controlled rotations,
# PauliRot, 3-wire gates, dense unitaries), angles tied and scaled (2·θ₀ + b, θ₀ − θ₁/2).
CASES = [(2, 40), (4, 60), (7, 30), (7, 120), (10, 60)]


def _case(seed: int, n: int, ops: int) -> tuple[qt.Circuit, Observable, np.ndarray]:
    rng = np.random.default_rng(seed)
    circuit = random_circuit(rng, n, ops, n_params=3)
    observable = random_observable(rng, n, 4)
    return circuit, observable, rng.uniform(-np.pi, np.pi, (4, 3))


def _scale(observable: Observable, n: int) -> float:
    """``Σ_g max|D_g|``: the largest value ``|⟨O⟩|`` can take (minus the constant)."""
    return sum(float(np.abs(g.eigenvalues).max()) for g in measurement_plan(observable, n).groups)


def _largest_derivative(circuit: qt.Circuit, observable: Observable) -> np.ndarray:
    """``(P,)``: ``Σ_d |scale_dk|·2‖G_d‖·‖H‖``, what no derivative can exceed: not vacuous."""
    tape = adjoint_tape(circuit)
    norms = np.zeros(tape.coeffs.shape[0])
    for step in tape.steps:
        if step.slot >= 0:
            norms[step.slot] = np.linalg.norm(step.op.spec.generator, 2)
    return (2 * _scale(observable, circuit.n_qubits) * norms) @ np.abs(tape.coeffs)


def test_precision_names_are_checked():
    assert check_precision("single") == "single"
    assert complex_dtype("single") == np.complex64 and real_dtype("double") == np.float64
    with pytest.raises(qt.ConfigError, match="precision must be 'double' or 'single', got 'half'"):
        check_precision("half")
    with pytest.raises(qt.ConfigError, match="got 32"):
        compile_program(qt.Circuit(1).x(0), 32)


def test_single_halves_the_memory_model():
    assert state_bytes(20, 8) * 2 == state_bytes(20)
    budget = state_bytes(10) * 3  # three double rows, six single rows
    assert chunk_rows(10, 100, budget) == 3
    assert chunk_rows(10, 100, budget, 8) == 6
    with pytest.raises(qt.StateTooLargeError, match="× 8 B × 4 working copies"):
        chunk_rows(10, 1, state_bytes(10, 8) - 1, 8)


@pytest.mark.parametrize("kernels", KERNELS)
@pytest.mark.parametrize(("n", "ops"), CASES)
def test_single_expectations_stay_within_the_bound(kernels, n, ops):
    chosen = select_kernels(kernels)
    for seed in range(3):
        circuit, observable, theta = _case(seed, n, ops)
        single, double = compile_program(circuit, "single"), compile_program(circuit)
        states = run_program(single, theta, chosen)
        reference = run_program(double, theta, chosen)
        assert states.dtype == np.complex64
        # single really ran in single: the states differ by far more than double rounding
        assert np.abs(states - reference).max() > 2.0**-40
        plan = measurement_plan(observable, n)
        got = exact_values(states, plan, chosen)
        want = exact_values(reference, plan, chosen)
        assert got.dtype == np.float64
        bound = expectation_bound(single, observable, "single")
        bound += expectation_bound(double, observable, "double")
        assert np.abs(got - want).max() <= bound
        assert bound < 1e-3 * _scale(observable, n)  # not vacuous: ≪ the range of ⟨O⟩


def test_the_bound_counts_steps_by_kind():
    program = compile_program(qt.Circuit(2).ry(0, 0.3).cz(0, 1).cnot(0, 1).crx(0, 1, 0.2))
    constants = [step_constant(step) for step in program.steps]
    assert [step.kind for step in program.steps] == [
        "one_qubit",
        "diagonal",
        "permutation",
        "dense",
    ]
    assert constants == pytest.approx([5 * np.sqrt(2), 4.0, 0.0, 14.0])
    deeper = compile_program(qt.Circuit(2).ry(0, 0.3).cz(0, 1).cnot(0, 1).crx(0, 1, 0.2).cz(0, 1))
    assert expectation_bound(deeper, qt.Z(0), "single") > expectation_bound(
        program, qt.Z(0), "single"
    )
    assert expectation_bound(program, qt.Z(0), "double") < 1e-13


@pytest.mark.parametrize("kernels", KERNELS)
@pytest.mark.parametrize(("n", "ops"), CASES)
def test_single_adjoint_stays_within_the_bound(kernels, n, ops):
    chosen = select_kernels(kernels)
    errors = []
    for seed in range(3):
        circuit, observable, theta = _case(seed, n, ops)
        slots = lower(circuit)
        angles = slots.angles(theta[:1])[0]
        obs = (observable,)
        values, jac = adjoint_jacobian(slots.circuit, obs, angles, chosen, precision="single")
        ref_values, ref_jac = adjoint_jacobian(slots.circuit, obs, angles, chosen)
        assert values.dtype == jac.dtype == np.float64
        single = compile_program(slots.circuit, "single")
        bound = adjoint_bound(slots.circuit, observable, single, "single")
        bound += adjoint_bound(slots.circuit, observable, compile_program(slots.circuit), "double")
        assert np.all(np.abs(jac[0] - ref_jac[0]) <= bound)
        assert np.all(bound <= 1e-3 * _largest_derivative(slots.circuit, observable))
        value_bound = expectation_bound(single, observable, "single")
        assert abs(values[0] - ref_values[0]) <= value_bound
        errors.append(np.abs(jac[0] - ref_jac[0]).max(initial=0.0))
    assert max(errors) > 0  # single really ran in single


class _Recorder(types.SimpleNamespace):
    """A kernel set that records the dtype of every state array it is handed."""


def _recording(name: str) -> tuple[_Recorder, set[str]]:
    module = select_kernels(name)
    seen: set[str] = set()

    def wrap(fn):
        def call(states, *args, **kwargs):
            seen.add(str(states.dtype))
            return fn(states, *args, **kwargs)

        return call

    names = [
        n
        for n in dir(module)
        if n.startswith(("apply_", "adjoint_")) or n == "weighted_probabilities"
    ]
    return _Recorder(**{n: wrap(getattr(module, n)) for n in names}), seen


@pytest.mark.parametrize("kernels", KERNELS)
def test_single_states_never_widen_on_the_way(kernels):
    recorder, seen = _recording(kernels)
    circuit, observable, theta = _case(5, 6, 80)
    slots = lower(circuit)
    angles = slots.angles(theta[:1])[0]
    states = run_program(compile_program(circuit, "single"), theta, recorder)
    exact_values(states, measurement_plan(observable, 6), recorder)
    adjoint_jacobian(slots.circuit, (observable, qt.X(1)), angles, recorder, precision="single")
    assert seen == {"complex64"}


@pytest.mark.parametrize("kernels", KERNELS)
def test_double_is_unchanged_by_the_precision_argument(kernels):
    chosen = select_kernels(kernels)
    circuit, observable, theta = _case(1, 5, 50)
    slots = lower(circuit)
    angles = slots.angles(theta[:1])[0]
    explicit = adjoint_jacobian(slots.circuit, (observable,), angles, chosen, precision="double")
    default = adjoint_jacobian(slots.circuit, (observable,), angles, chosen)
    assert all(np.array_equal(a, b) for a, b in zip(explicit, default, strict=True))
    assert compile_program(circuit, "double") is compile_program(circuit)
    assert run_program(compile_program(circuit), theta, chosen).dtype == np.complex128
