import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from qtrain.cli import app

runner = CliRunner()


def test_train_with_json_logs_then_report_the_run(tmp_path, write_config):
    config = write_config(tmp_path, name="cli-observe", budget={"max_steps": 5})
    run_dir = tmp_path / "run"
    result = runner.invoke(
        app, ["train", str(config), "--run-dir", str(run_dir), "--log-format", "json", "--json"]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert [line["event"] for line in lines if line["event"] == "step"] == ["step"] * 5
    assert {line["run_id"] for line in lines} == {"run"}
    assert json.loads(result.stdout)["steps"] == 5  # stdout stays the summary JSON
    report = runner.invoke(app, ["report", str(run_dir), "--json"])
    assert report.exit_code == 0, report.output
    paths = json.loads(report.stdout)
    assert Path(paths["report"]) == run_dir / "report" / "report.html"
    names = sorted(Path(p).stem for p in paths["plots"])  # no faults: no reliability chart
    assert names == ["gradient", "gradient_heatmap", "loss", "shots"], names
    assert all(Path(p).exists() for p in paths["plots"])
    text = runner.invoke(app, ["report", str(run_dir), "--out", str(tmp_path / "r.html")])
    assert text.exit_code == 0 and (tmp_path / "r.html").exists()


def run_qtrain(*args, terminal=False):
    """``python -m qtrain ARGS`` with pipes; ``terminal``: rich draws as on a terminal."""
    env = {**os.environ, "COLUMNS": "100"}
    if terminal:
        env["TTY_COMPATIBLE"] = "1"  # rich's live bar, which reroutes stderr through itself
    return subprocess.run(
        [sys.executable, "-m", "qtrain", *map(str, args)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def json_lines(stream):
    """Every line of ``stream`` as JSON (the assertion shows a line that is not)."""
    lines = []
    for line in stream.splitlines():
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON line: {line!r}\nin:\n{stream}")
    return lines


@pytest.mark.parametrize("terminal", [False, True], ids=["piped", "terminal"])
@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_a_json_log_run_writes_only_json_lines_to_stderr(tmp_path, write_config, as_json, terminal):
    config = write_config(tmp_path, budget={"max_steps": 4})
    flags = ["--json"] if as_json else []
    done = run_qtrain(
        "train",
        config,
        "--run-dir",
        tmp_path / "run",
        "--log-format",
        "json",
        *flags,
        terminal=terminal,
    )
    assert done.returncode == 0, done.stderr
    events = [line["event"] for line in json_lines(done.stderr)]
    # On a machine that has not measured its simulator yet, that note comes first.
    events = [event for event in events if event != "calibration.measure"]
    assert events.count("step") == 4 and events[0] == "run.start"
    assert '"event"' not in done.stdout  # no log line went through the console
    if as_json:
        assert json.loads(done.stdout)["steps"] == 4  # stdout: the summary, nothing else
    else:
        assert "run directory:" in done.stdout and "4/4" not in done.stdout  # no bar either
    more = run_qtrain(
        "resume", tmp_path / "run", "--log-format", "json", *flags, terminal=terminal
    )  # nothing left to do: the hint is a JSON line too
    lines = json_lines(more.stderr)
    hint = [line for line in lines if line["event"] == "resume.nothing_to_do"]
    assert more.returncode == 0 and len(hint) == (1 if as_json else 0)
    bad = run_qtrain("train", write_config(tmp_path, seed=-1), "--log-format", "json", *flags)
    (line,) = json_lines(bad.stderr)
    assert bad.returncode == 2 and line["event"] == "cli.error" and line["exit_status"] == 2
    assert "seed" in line["message"]


def test_report_of_a_folder_that_is_no_run_is_one_error_line(tmp_path):
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2
    assert "not a run directory" in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_bad_log_options_are_refused(tmp_path, write_config):
    config = write_config(tmp_path, name="cli-observe", budget={"max_steps": 5})
    result = runner.invoke(app, ["train", str(config), "--log-format", "xml"])
    assert result.exit_code == 2 and "xml" in result.output
    result = runner.invoke(app, ["train", str(config), "--metrics-port", "70000"])
    assert result.exit_code == 2


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_train_serves_metrics_while_the_run_lasts_and_its_final_state_for_the_grace_period(
    tmp_path, write_config
):
    # each backend call sleeps 50 ms, so the run lasts seconds: long enough to be scraped
    config = write_config(
        tmp_path,
        budget={"max_steps": 12},
        backend={"name": "faulty", "seed": 1, "latency_s": 0.05},
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qtrain",
            "train",
            str(config),
            "--run-dir",
            str(tmp_path / "run"),
            "--metrics-port",
            str(port),
            "--metrics-grace",
            "3",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    scrapes, finished = [], []
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                text = response.read().decode()
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.05)  # not up yet, or already shut down
            continue
        families = {f.name: f for f in text_string_to_metric_families(text)}
        steps = families["qtrain_steps"].samples
        if steps:
            scrapes.append(steps[0].value)
        finished += [s.value for s in families["qtrain_run_finished"].samples]
        time.sleep(0.1)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()
    assert json.loads(out)["steps"] == 12
    assert f"serving metrics on {url}" in err.decode()
    assert scrapes and scrapes == sorted(scrapes) and scrapes[-1] == 12
    assert finished[-1] == 1  # the final state was served after the run (its grace period)
    assert "serving the final metrics" in err.decode()
    with pytest.raises(urllib.error.URLError):  # the server ended after its grace period
        urllib.request.urlopen(url, timeout=5)
