import csv
import json
import math

import pytest

import qtrain as qt
from qtrain.diagnostics.result import CSV_COLUMNS, ScanResult


@pytest.fixture(scope="module")
def scan():
    return qt.diagnostics.variance_scan(
        "hardware_efficient",
        qubits=[2, 3, 4],
        depths=1,
        cost=["global", "local"],
        samples=40,
        resamples=200,
        seed=2,
    )


def test_lookups_and_flag(scan):
    point = scan.point(3, 1, "local")
    assert (point.n_qubits, point.cost, point.init) == (3, "local", "uniform")
    assert scan.fit(1, "global").qubits == (2, 3, 4)
    assert scan.plateau == any(f.plateau for f in scan.fits)
    fit = scan.fit(1, "global")
    assert fit.predict(3) == pytest.approx(math.exp(fit.intercept - 3 * fit.rate))
    with pytest.raises(qt.ConfigError, match="no point at n=9"):
        scan.point(9, 1)
    with pytest.raises(qt.ConfigError, match="no fit for depth=7"):
        scan.fit(7)


def test_json_round_trip_and_csv(scan, tmp_path):
    path = scan.write_json(tmp_path / "scan.json")
    data = json.loads(path.read_text())
    assert data["format"] == "qtrain.plateau/1" and len(data["points"]) == 6
    assert ScanResult.from_dict(data) == scan
    with pytest.raises(qt.ConfigError, match="not a qtrain plateau result"):
        ScanResult.from_dict({"format": "other"})
    text = scan.write_csv(tmp_path / "scan.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(text.splitlines()))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 7
    assert float(rows[1][CSV_COLUMNS.index("variance")]) == scan.points[0].variance


def test_scan_repr_is_a_summary_with_one_line_per_fit(scan):
    text = repr(scan)
    assert len(text.splitlines()) == 1 + 4 + len(scan.fits) and "ScanPoint" not in text
    assert "qubits          " in text and "2, 3, 4" in text
    assert f"b = {scan.fits[0].base:.4g} [" in text
    assert "<table>" in scan._repr_html_()
