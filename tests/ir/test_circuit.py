import json

import numpy as np
import pytest
from hypothesis import given, settings

import qtrain as qt
from qtrain.errors import (
    ArgumentCountError,
    CircuitError,
    DuplicateWireError,
    WireCountError,
    WireOutOfRangeError,
)
from qtrain.ir import circuit as circuit_module
from qtrain.ir import ops
from qtrain.testing import reference_matrix
from qtrain.testing.strategies import circuits


def test_circuit_builders_return_new_circuits():
    base = qt.Circuit(2)
    grown = base.h(0)
    assert len(base) == 0 and len(grown) == 1
    with pytest.raises(AttributeError):
        grown.ops = ()  # type: ignore[misc]


def test_circuit_n_params_is_highest_index_plus_one():
    c = qt.Circuit(2).ry(0, qt.P(0)).crx(0, 1, 2 * qt.P(3) + 0.3).rz(1, qt.P(0))
    assert c.n_params == 4
    assert c.param_indices == (0, 3)
    assert qt.Circuit(1).h(0).n_params == 0


def test_circuit_every_gate_has_a_builder():
    c = (
        qt.Circuit(3)
        .i(0)
        .x(0)
        .y(1)
        .z(2)
        .h(0)
        .s(1)
        .sdg(2)
        .t(0)
        .tdg(1)
        .sx(2)
        .rx(0, 0.1)
        .ry(1, 0.2)
        .rz(2, 0.3)
        .phase(0, 0.4)
        .u3(1, 0.1, 0.2, 0.3)
        .cnot(0, 1)
        .cx(1, 2)
        .cy(0, 2)
        .cz(1, 0)
        .swap(0, 2)
        .iswap(1, 2)
        .crx(0, 1, 0.1)
        .cry(1, 2, 0.2)
        .crz(2, 0, 0.3)
        .cphase(0, 1, 0.4)
        .rxx(0, 1, 0.1)
        .ryy(1, 2, 0.2)
        .rzz(0, 2, 0.3)
        .rzx(2, 1, 0.4)
        .ccx(0, 1, 2)
        .toffoli(2, 1, 0)
        .pauli_rot("XYZ", (2, 0, 1), 0.5)
        .unitary(np.eye(2), 1)
    )
    names = {op.gate for op in c.ops}
    registered = {spec.name for spec in qt.GATES.values()} - {"SXdg", "ISWAPdg"}
    assert registered <= names


@pytest.mark.parametrize(
    ("build", "error", "text"),
    [
        (lambda: qt.Circuit(2).cnot(0, 2), WireOutOfRangeError, "wire 2 out of range"),
        (lambda: qt.Circuit(2).h(-1), WireOutOfRangeError, "-1"),
        (lambda: qt.Circuit(2).cnot(1, 1), DuplicateWireError, "repeated wire"),
        (lambda: qt.Circuit(3).gate("CNOT", (0, 1, 2)), WireCountError, "acts on 2 wire"),
        (lambda: qt.Circuit(2).gate("RX", 0), ArgumentCountError, "takes 1 angle"),
        (lambda: qt.Circuit(2).gate("H", 0, 0.5), ArgumentCountError, "takes 0 angle"),
        (lambda: qt.Circuit(2).h(1.0), WireOutOfRangeError, "must be an int"),
        (lambda: qt.Circuit(0), CircuitError, "positive int"),
        (lambda: qt.Circuit(2).pauli_rot("XQ", (0, 1), 0.1), WireCountError, "XQ"),
        (lambda: qt.Circuit(2).pauli_rot("XYZ", (0, 1), 0.1), WireCountError, "acts on 3"),
    ],
)
def test_circuit_bad_input_raises_specific_error(build, error, text):
    with pytest.raises(error, match=text):
        build()


def test_circuit_fingerprint_is_content_hash():
    a = qt.Circuit(2).ry(0, qt.P(0)).cnot(0, 1)
    b = qt.Circuit(2).ry(0, qt.P(0)).cnot(0, 1)
    assert a == b and hash(a) == hash(b) and a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != a.rz(1, 0.1).fingerprint()
    assert a.fingerprint() != qt.Circuit(2).ry(0, qt.P(1)).cnot(0, 1).fingerprint()
    assert len(a.fingerprint()) == 64


@settings(max_examples=60, deadline=None)
@given(circuits(max_qubits=5))
def test_circuit_dict_round_trip_through_json(circuit):
    data = json.loads(json.dumps(circuit.to_dict()))
    again = qt.Circuit.from_dict(data)
    assert again == circuit and again.fingerprint() == circuit.fingerprint()


def test_circuit_from_dict_rejects_unknown_keys_and_formats():
    data = qt.Circuit(1).h(0).to_dict()
    data["ops"][0]["angle"] = 1
    with pytest.raises(CircuitError, match="angle"):
        qt.Circuit.from_dict(data)
    with pytest.raises(CircuitError, match="format"):
        qt.Circuit.from_dict({"n_qubits": 1})


@settings(max_examples=40, deadline=None)
@given(circuits(max_qubits=4, max_ops=8))
def test_circuit_inverse_undoes_random_circuits(circuit):
    theta = np.linspace(-1.3, 2.1, circuit.n_params)
    u = reference_matrix(circuit, theta)
    u_inv = reference_matrix(circuit.inverse(), theta)
    np.testing.assert_allclose(u_inv @ u, np.eye(u.shape[0]), atol=1e-10)
    assert circuit.inverse().inverse() == circuit


def test_circuit_compose_maps_wires():
    bell = qt.Circuit(2).h(0).cnot(0, 1)
    big = qt.Circuit(3).x(2).compose(bell, wires=(2, 0))
    assert [op.wires for op in big.ops] == [(2,), (2,), (2, 0)]
    with pytest.raises(WireOutOfRangeError):
        qt.Circuit(2).compose(bell, wires=(0, 5))
    with pytest.raises(WireCountError):
        qt.Circuit(2).compose(bell, wires=(0,))
    with pytest.raises(WireOutOfRangeError):
        qt.Circuit(1).compose(bell)


def test_circuit_compose_shares_parameters():
    a = qt.Circuit(1).rx(0, qt.P(0))
    both = a.compose(a)
    np.testing.assert_allclose(
        reference_matrix(both, np.array([0.4])), reference_matrix(qt.Circuit(1).rx(0, 0.8))
    )


def test_ops_and_builders_are_reexported_from_the_circuit_module():
    assert circuit_module.Op is ops.Op and circuit_module.make_op is ops.make_op
    built = qt.Circuit(3).toffoli(0, 1, 2).cx(2, 0)
    assert [op.gate for op in built.ops] == ["CCX", "CNOT"]
    assert built == qt.Circuit(3).ccx(0, 1, 2).cnot(2, 0)


def test_circuit_repr_is_a_summary_not_every_op():
    c = qt.ansatz.hardware_efficient(4, 30)
    text = repr(c)
    assert text == "Circuit(4 qubits, 330 ops (RY×120, RZ×120, CNOT×90), 240 params)"
    assert repr(qt.Circuit(1)) == "Circuit(1 qubit, 0 ops, 0 params)"
    assert str(qt.Circuit(1).x(0)) == "q0: ─X─"  # str is still the drawing
