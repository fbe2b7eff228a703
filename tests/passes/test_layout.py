import pytest

import qtrain as qt
from qtrain.errors import ObservableWireError, PassError
from qtrain.passes.layout import Layout


def test_layout_moves_observables_to_physical_wires():
    layout = Layout((3, 0, 1), 4)
    moved = layout.observable(0.5 * qt.Z(0) @ qt.X(2) - qt.Y(1) + 2.0)
    assert moved == 0.5 * qt.X(1) @ qt.Z(3) - qt.Y(0) + 2.0
    assert Layout.identity(3).observable(qt.Z(0) @ qt.X(2)) == qt.Z(0) @ qt.X(2)


def test_layout_composition_is_associative_with_identity_as_unit():
    a, b, c = Layout((1, 0), 3), Layout((2, 0, 1), 3), Layout((0, 2, 1), 4)
    assert a.then(b).then(c) == a.then(b.then(c))
    assert Layout.identity(2).then(a) == a == a.then(Layout.identity(3))
    assert Layout.identity(2).is_identity and not a.is_identity
    assert not Layout((0, 1), 3).is_identity  # an added physical wire is a change


@pytest.mark.parametrize(
    ("wires", "n_qubits", "pattern"),
    [
        ((0, 0), 2, "two logical wires on one physical wire"),
        ((0, 2), 2, r"wire 2 is not a physical wire 0\.\.1"),
        ((0, -1), 2, r"wire -1 is not"),
        ((0, True), 2, r"wire True is not"),
        ((0, 1), 1, r"n_qubits >= 2"),
    ],
)
def test_layout_rejects_bad_wires(wires, n_qubits, pattern):
    with pytest.raises(PassError, match=pattern):
        Layout(wires, n_qubits)


def test_layout_errors_name_the_mismatch():
    with pytest.raises(PassError, match=r"places 2 wire\(s\), the earlier one outputs 3"):
        Layout((0, 1), 3).then(Layout((0, 1), 2))
    with pytest.raises(ObservableWireError, match=r"wire 2; the layout places wires 0\.\.1"):
        Layout((1, 0), 2).observable(qt.Z(2))
