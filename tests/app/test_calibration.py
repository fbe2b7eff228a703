import json
import math
import os

import pytest

from qtrain.app import calibration
from qtrain.app.calibration import REQUIRED, cache_dir, load_calibration, machine_key
from qtrain.app.probes import fit_units, staged


def fake_coefficients():
    return {name: 1e-5 for name in REQUIRED}


@pytest.fixture
def counting(tmp_path, monkeypatch):
    """A cache folder of this test's own and a measurement that counts its calls."""
    monkeypatch.setenv("QTRAIN_CACHE_DIR", str(tmp_path / "cache"))
    calls = []

    def measure(kernels):
        calls.append(kernels)
        return fake_coefficients()

    return calls, measure


def test_calibration_cache_is_written_once_and_reused(counting):
    calls, measure = counting
    first = load_calibration(measure=measure)
    assert first.measured_now and first.path is not None and first.path.exists()
    assert first.path.parent == cache_dir()
    stored = json.loads(first.path.read_text())
    assert stored["key"] == machine_key() and set(REQUIRED) <= set(stored["coefficients"])
    second = load_calibration(measure=measure)
    assert not second.measured_now and second.coefficients == first.coefficients
    assert calls == [machine_key()["kernels"]]  # measured once, for the kernel set in use


@pytest.mark.parametrize(
    "damage",
    [
        "{not json",
        "[]",
        json.dumps({"key": {"host": "another machine"}, "coefficients": {}}),
        "negative",
        "missing",
        "nan",
    ],
)
def test_a_corrupt_or_foreign_cache_is_measured_again_not_an_error(counting, damage):
    calls, measure = counting
    path = load_calibration(measure=measure).path
    good = json.loads(path.read_text())
    if damage == "negative":
        good["coefficients"]["sv.step"] = -1.0
        damage = json.dumps(good)
    elif damage == "missing":
        del good["coefficients"]["loop.step"]
        damage = json.dumps(good)
    elif damage == "nan":
        damage = json.dumps(good).replace('"warmup.fit": 1e-05', '"warmup.fit": NaN')
    path.write_text(damage)
    again = load_calibration(measure=measure)
    assert again.measured_now and len(calls) == 2
    assert json.loads(path.read_text())["coefficients"] == dict(again.coefficients)


def test_an_unwritable_cache_folder_measures_once_per_process(tmp_path, monkeypatch, counting):
    calls, measure = counting
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would be")
    monkeypatch.setenv("QTRAIN_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.setattr(calibration, "_MEMO", {})
    first = load_calibration(measure=measure)
    assert first.path is None and first.measured_now
    assert load_calibration(measure=measure) is first and len(calls) == 1


def test_cache_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("QTRAIN_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("QTRAIN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "qtrain"
    assert machine_key("numpy")["kernels"] == "numpy" != machine_key("numba")["kernels"]


def test_fit_units_recovers_known_costs_and_stays_non_negative():
    samples = [({"a": n, "b": 10.0 * n * n}, 2e-3 * n + 1e-5 * 10 * n * n) for n in (1, 2, 5, 9)]
    found = fit_units(samples, ["a", "b"])
    assert found["a"] == pytest.approx(2e-3) and found["b"] == pytest.approx(1e-5)
    negative = fit_units([({"a": 1.0, "b": 1.0}, 1.0), ({"a": 2.0, "b": 1.0}, 0.5)], ["a", "b"])
    assert min(negative.values()) >= 0
    small = [({"c": 1.0, "s": s, "w": s}, 1e-4 + 1e-5 * s) for s in (1.0, 8.0)]
    large = [({"c": 1.0, "s": 2.0, "w": w}, 1e-4 + 2e-5 + 1e-9 * w) for w in (1e6, 4e6)]
    found = staged(small, large, ["c", "s", "w"])
    assert found["w"] == pytest.approx(1e-9) and found["s"] == pytest.approx(1e-5)


def test_real_measurement_in_a_fresh_process_is_complete_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("QTRAIN_CACHE_DIR", str(tmp_path / "cache"))
    measured = load_calibration("numpy")  # the numpy kernels: no numba warm-up to wait for
    assert measured.measured_now and measured.path is not None
    for name in REQUIRED:
        value = measured.coefficients[name]
        assert math.isfinite(value) and value >= 0, name
    assert measured.coefficients["loop.step"] > 0 and measured.coefficients["sv.step"] > 0
    assert not load_calibration("numpy").measured_now
    assert os.stat(measured.path).st_mode & 0o044  # readable like any cache file
