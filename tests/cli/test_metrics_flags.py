"""``--metrics-push``, ``--metrics-grace`` and ``--metrics-host`` of ``qtrain train``/``resume``."""

import http.server
import json
import threading

import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from qtrain.cli import app
from qtrain.train.tracking import read_metrics

runner = CliRunner()


@pytest.fixture
def gateway():
    """A tiny HTTP server recording each push as ``(method, path, body)``."""
    pushes = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_PUT(self):
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            pushes.append((self.command, self.path, body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", pushes
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def samples(text):
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_train_and_resume_push_their_metrics_under_the_run_folders_name(
    tmp_path, write_config, gateway
):
    url, pushes = gateway
    config = write_config(tmp_path, gradient={"method": "best", "shots": 200})
    run_dir = tmp_path / "runs" / "my-run"
    args = ["--metrics-push", url, "--log-format", "json", "--json"]
    result = runner.invoke(app, ["train", str(config), "--run-dir", str(run_dir), *args])
    assert result.exit_code == 0, result.output
    assert pushes and {p for _, p, _ in pushes} == {"/metrics/job/qtrain/run_id/my-run"}
    final = samples(pushes[-1][2])
    finished = [v for (name, labels), v in final.items() if name == "qtrain_run_finished"]
    assert finished == [1.0]
    # one run id everywhere: metrics labels, log lines, the report's folder
    assert {dict(labels)["run_id"] for _, labels in final} == {"my-run"}
    logs = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert {line["run_id"] for line in logs if "run_id" in line} == {"my-run"}
    # qtrain_run_info says the method the steps used, not the "best" of the config
    used = {r.method for r in read_metrics(run_dir / "metrics.jsonl")}
    info = [dict(labels)["method"] for (name, labels) in final if name == "qtrain_run_info"]
    assert info == sorted(used) and used != {"best"}
    pushed = len(pushes)
    result = runner.invoke(app, ["resume", str(run_dir), "--max-steps", "10", *args])
    assert result.exit_code == 0, result.output
    assert len(pushes) > pushed and pushes[-1][1] == "/metrics/job/qtrain/run_id/my-run"
    steps = [v for (name, _), v in samples(pushes[-1][2]).items() if name == "qtrain_run_steps"]
    assert steps == [10.0]


def test_a_gateway_that_is_down_does_not_fail_the_run(tmp_path, write_config):
    config = write_config(tmp_path, budget={"max_steps": 2})
    result = runner.invoke(
        app,
        ["train", str(config), "--metrics-push", "http://127.0.0.1:9", "--log-format", "json"],
    )
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert "metrics.push_failed" in {e["event"] for e in events}


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--metrics-grace", "-1", "--metrics-grace"),
        ("--metrics-push", "ftp://gateway", "ftp://gateway"),
        ("--metrics-host", "no.such.host.invalid", "no.such.host.invalid"),
    ],
)
def test_bad_metrics_options_are_one_line_and_exit_2(tmp_path, write_config, option, value, says):
    config = write_config(tmp_path, budget={"max_steps": 2})
    extra = [] if option != "--metrics-host" else ["--metrics-port", "0"]
    result = runner.invoke(app, ["train", str(config), option, value, *extra])
    assert result.exit_code == 2, result.output
    assert says in " ".join(result.output.split()) and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
