import numpy as np

import qtrain as qt
from qtrain.sim.program import compile_program
from qtrain.testing import assert_matches_reference


def test_program_fuses_one_qubit_runs_and_cnot_ladder():
    c = qt.ansatz.hardware_efficient(4, 2)
    kinds = [step.kind for step in compile_program(c).steps]
    # per layer: one fused RY·RZ per wire, then the whole CNOT ladder as one gather
    assert kinds == ["one_qubit"] * 4 + ["permutation"] + ["one_qubit"] * 4 + ["permutation"]


def test_program_keeps_diagonal_runs_diagonal():
    c = qt.Circuit(2).rz(0, qt.P(0)).t(0).s(0).cz(0, 1).crz(1, 0, 0.2).h(1)
    steps = compile_program(c).steps
    assert [(s.kind, s.wires) for s in steps] == [
        ("diagonal", (0,)),
        ("diagonal", (0, 1)),
        ("diagonal", (1, 0)),
        ("one_qubit", (1,)),
    ]
    assert_matches_reference(c, np.array([[0.3], [-2.0]]))


def test_program_identity_gates_are_dropped():
    assert compile_program(qt.Circuit(2).i(0).i(1)).steps == ()


def test_program_permutation_runs_match_reference():
    c = qt.Circuit(4).h(0).h(3).cnot(0, 1).swap(1, 3).x(2).ccx(3, 1, 2).cnot(2, 0).ry(1, qt.P(0))
    assert "permutation" in [s.kind for s in compile_program(c).steps]
    assert_matches_reference(c, np.array([[0.4]]), qt.Z(0) @ qt.X(2) + qt.Y(1))


def test_program_is_cached_per_circuit():
    c = qt.ansatz.strongly_entangling(3, 2)
    assert compile_program(c) is compile_program(qt.ansatz.strongly_entangling(3, 2))
