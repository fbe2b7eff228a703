import dataclasses
import json
import sys

import pytest

import qtrain as qt
from qtrain.app.plateau import parse_plateau_config, scan_from_config
from qtrain.app.plateau_points import NAME, read_points
from qtrain.diagnostics import scan_run

SMALL = {"qubits": [2, 3, 4], "depths": 2, "samples": 30, "resamples": 200, "seed": 2}
SMALL |= {"costs": ["global", "local"], "output": {"plot": False}}


def untimed(point):
    return dataclasses.replace(point, seconds=0.0)


class Stop(KeyboardInterrupt):
    pass


def interrupt_after(monkeypatch, count):
    """Ctrl-C while the point after the first ``count`` measured ones runs."""
    measured = []
    real = scan_run.measure

    def measure(scan, point):
        if len(measured) == count:
            raise Stop
        measured.append(point.n)
        return real(scan, point)

    monkeypatch.setattr("qtrain.diagnostics.scan.measure", measure)
    return measured


def test_ctrl_c_keeps_the_finished_points_and_a_rerun_measures_only_the_rest(tmp_path, monkeypatch):
    config = parse_plateau_config(SMALL)
    unbroken = scan_from_config(config, output=tmp_path / "unbroken")
    out = tmp_path / "out"
    interrupt_after(monkeypatch, 2)
    with pytest.raises(Stop):
        scan_from_config(config, output=out)
    header, saved = read_points(out)
    assert [p.n_qubits for p, _ in saved] == [2, 2, 3, 3]  # 2 draws of (n, depth), 2 costs each
    assert header["seed"] == 2 and not (out / "scan.json").exists()
    measured = interrupt_after(monkeypatch, 99)
    seen = []
    run = scan_from_config(config, output=out, on_point=seen.append)
    assert measured == [4] and run.reused == 4 and len(seen) == 6  # only n = 4 ran again
    # The same points and fits as an unbroken scan (draws are seeded per point); not timed.
    assert run.result.fits == unbroken.result.fits
    assert [untimed(p) for p in run.result.points] == [untimed(p) for p in unbroken.result.points]
    assert len(read_points(out)[1]) == 6


def test_a_torn_last_line_is_dropped_and_another_scans_points_are_refused(tmp_path):
    config = parse_plateau_config(SMALL)
    run = scan_from_config(config, output=tmp_path / "a")
    path = run.directory / NAME
    path.write_text(path.read_text() + '{"point": {"n_qu')  # killed while writing
    assert len(read_points(run.directory)[1]) == 6
    other = parse_plateau_config({**SMALL, "samples": 40})
    with pytest.raises(qt.ConfigError, match="holds the points of another scan"):
        scan_from_config(other, output=run.directory)


def test_without_a_seed_a_rerun_continues_the_newest_unfinished_folder_with_its_seed(
    tmp_path, monkeypatch
):
    config = parse_plateau_config({**SMALL, "seed": None, "output": {"dir": str(tmp_path)}})
    interrupt_after(monkeypatch, 1)
    with pytest.raises(Stop):
        scan_from_config(config)
    (first,) = tmp_path.iterdir()
    seed = json.loads((first / NAME).read_text().splitlines()[0])["seed"]
    monkeypatch.undo()
    run = scan_from_config(config)
    assert run.directory == first and run.reused == 2 and run.config.seed == seed
    again = scan_from_config(config)  # a finished scan is not continued: a new one starts
    assert again.directory != first and again.reused == 0


def test_a_plot_asked_for_without_matplotlib_is_refused_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    asked = parse_plateau_config({**SMALL, "output": {"plot": True}})
    measured = interrupt_after(monkeypatch, 99)
    with pytest.raises(qt.ConfigError, match=r"output.plot: true .*qtrain\[plot\]"):
        scan_from_config(asked, output=tmp_path / "x")
    assert measured == [] and not (tmp_path / "x").exists()
    default = parse_plateau_config({**SMALL, "output": {}})  # plot when matplotlib is there
    assert "png" not in scan_from_config(default, output=tmp_path / "y").files
