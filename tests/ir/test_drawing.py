import qtrain as qt


def test_drawing_shows_gates_controls_and_parameters():
    c = qt.Circuit(3).ry(0, qt.P(0)).cnot(0, 2).crx(1, 2, 2 * qt.P(1) + 0.3).swap(0, 1)
    lines = c.draw().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("q0: ") and "RY(θ0)" in lines[0] and "●" in lines[0]
    assert "│" in lines[1]  # the CNOT from wire 0 to 2 crosses wire 1
    assert "RX(2·θ1 + 0.3)" in lines[2]
    assert lines[0].count("×") == 1 and lines[1].count("×") == 1
    assert len({len(line) for line in lines}) == 1  # columns are aligned


def test_drawing_packs_independent_gates_into_one_column():
    c = qt.Circuit(2).h(0).h(1)
    assert c.draw() == "q0: ─H─\nq1: ─H─"


def test_drawing_of_empty_circuit():
    assert qt.Circuit(2).draw() == "q0: ─\nq1: ─"
    assert str(qt.Circuit(1).x(0)) == "q0: ─X─"
