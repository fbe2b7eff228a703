import xml.etree.ElementTree as ET

import qtrain as qt

SVG = "{http://www.w3.org/2000/svg}"


def parsed(circuit, **options):
    return ET.fromstring(circuit.to_svg(**options))


def test_svg_is_a_valid_document_with_one_line_and_name_per_wire():
    root = parsed(qt.Circuit(3).h(0))
    assert root.tag == f"{SVG}svg"
    names = [t.text for t in root.iter(f"{SVG}text")]
    assert names[:3] == ["q0", "q1", "q2"] and names[3] == "H"
    assert float(root.get("height")) > 3 * 30


def test_svg_draws_boxes_controls_targets_and_swaps():
    c = qt.Circuit(3).ry(0, qt.P(0)).cnot(0, 2).crx(1, 2, 2 * qt.P(1) + 0.3).swap(0, 1)
    root = parsed(c)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "RY(θ0)" in texts and "RX(2·θ1 + 0.3)" in texts
    assert len(list(root.iter(f"{SVG}rect"))) == 2  # RY and RX boxes
    circles = list(root.iter(f"{SVG}circle"))
    assert len(circles) == 3  # CNOT control and ⊕ target, CRX control
    assert len(list(root.iter(f"{SVG}path"))) == 1 + 2  # the ⊕ cross, two × of the SWAP


def test_svg_escapes_text_and_packs_like_the_text_drawing():
    one = parsed(qt.Circuit(2).h(0).h(1))
    two = parsed(qt.Circuit(2).h(0).h(0))
    assert float(two.get("width")) > float(one.get("width"))  # two columns, not one
    root = parsed(qt.Circuit(1).rx(0, qt.P(0) * 2 - 1))
    assert any("θ0" in (t.text or "") for t in root.iter(f"{SVG}text"))


def test_svg_can_stop_after_some_columns():
    c = qt.ansatz.hardware_efficient(3, 20)
    full, short = parsed(c), parsed(c, max_columns=5)
    assert float(short.get("width")) < float(full.get("width")) / 5
    assert any((t.text or "").startswith("… ") for t in short.iter(f"{SVG}text"))


def test_circuit_html_is_its_svg_with_a_summary():
    c = qt.Circuit(2).ry(0, qt.P(0)).cnot(0, 1)
    html = c._repr_html_()
    assert "<svg" in html and "2 qubits, 2 ops (RY×1, CNOT×1), 1 params" in html
