"""The run report, checked in headless Chromium through the DevTools protocol.

Chromium is driven over ``--remote-debugging-pipe`` (the transport Playwright and Puppeteer
use for browsers they launch): JSON messages separated by NUL bytes on fds 3 (in) and 4 (out).
That needs nothing but the stdlib and Debian's ``chromium`` (``.ci/run`` installs it).
"""

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

import qtrain as qt
from qtrain.app.config import parse_config
from qtrain.app.runner import train_from_config
from qtrain.observe.report import write_plots, write_report
from qtrain.testing import make_record
from qtrain.train.tracking import JsonlTracker, read_metrics

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("QTRAIN_TEST_ARTIFACTS", ROOT / "build" / "test-artifacts"))
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-pipe",
    "--window-size=1200,900",
]


class Chromium:
    """One headless Chromium and one page, over the DevTools pipe."""

    def __init__(self, user_data_dir, timeout_s=60.0):
        executable = shutil.which("chromium")
        assert executable, "Debian's chromium is required: apt-get install -y chromium"
        into_r, self._into = os.pipe()
        self._out, out_w = os.pipe()
        high_r, high_w = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (into_r, out_w))
        for fd in (into_r, out_w):
            os.close(fd)
        # bash maps the pipe ends onto the fds Chromium reads (3) and writes (4)
        script = f'exec 3<&{high_r} 4>&{high_w} {high_r}<&- {high_w}>&-; exec "$@"'
        self.log_path = Path(user_data_dir) / "chromium.log"
        self._log = open(self.log_path, "wb")  # closed in close()
        self.process = subprocess.Popen(
            [
                "bash",
                "-c",
                script,
                "chromium",
                executable,
                *FLAGS,
                f"--user-data-dir={user_data_dir}",
                "about:blank",
            ],
            pass_fds=(high_r, high_w),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
        )
        os.close(high_r)
        os.close(high_w)
        self.timeout_s, self._buffer, self._next, self.events = timeout_s, b"", 0, []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=True)

    def _read(self):
        deadline = time.monotonic() + self.timeout_s
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            assert left > 0, f"no answer from Chromium; see {self.log_path}"
            ready, _, _ = select.select([self._out], [], [], left)
            if ready:
                chunk = os.read(self._out, 1 << 20)
                assert chunk, f"Chromium closed the pipe; see {self.log_path}"
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, session=False, **params):
        self._next += 1
        message = {"id": self._next, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._into, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next:
                assert "error" not in reply, (method, reply["error"])
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, method):
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = self._read()
            self.events.append(event)
            if event.get("method") == method:
                return event

    def open(self, url):
        self.events.clear()
        self.call("Page.navigate", session=True, url=url)
        self.wait_for("Page.loadEventFired")
        return self.evaluate("document.readyState")

    def evaluate(self, expression):
        result = self.call(
            "Runtime.evaluate",
            session=True,
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def problems(self):
        """Console errors, uncaught exceptions, browser log errors and failed loads."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                found.append(("console", [a.get("value") for a in params["args"]]))
            elif method == "Runtime.exceptionThrown":
                found.append(("exception", params["exceptionDetails"].get("text")))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(("log", params["entry"]["text"]))
            elif method == "Network.loadingFailed":
                found.append(("network", params.get("errorText")))
        return found

    def requested_urls(self):
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]

    def screenshot(self, path):
        size = self.call("Page.getLayoutMetrics", session=True)["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        data = self.call(
            "Page.captureScreenshot",
            session=True,
            format="png",
            captureBeyondViewport=True,
            clip=clip,
        )["data"]
        Path(path).write_bytes(base64.b64decode(data))

    def close(self):
        try:
            self.call("Browser.close")
        except AssertionError:
            pass  # it may close the pipe before answering
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._into, self._out):
            os.close(fd)
        self._log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium = Chromium(tmp_path_factory.mktemp("chromium-profile"))  # a fresh profile
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def faulty_run(tmp_path_factory):
    config = parse_config(
        {
            "name": "report",
            "seed": 2,
            "problem": {"name": "h2"},
            "optimizer": {"name": "adam", "learning_rate": 0.05},
            "gradient": {"method": "param-shift", "shots": 300},
            "budget": {"max_steps": 6, "max_shots": 1_000_000},
            "backend": {
                "name": "faulty",
                "seed": 1,
                "failure_rate": 0.3,
                "partial_rate": 0.2,
                "recalibrate_every": 3,
                "retry_after_s": 0.001,
            },
            "executor": {
                "retry": {"attempts": 30, "initial_s": 0.001, "max_s": 0.005, "jitter_s": 0.001},
                "max_rows": 4,
            },
        }
    )
    _, directory = train_from_config(config, run_dir=tmp_path_factory.mktemp("report") / "run")
    return Path(directory.path)


def add_monitor_decisions(run_dir):
    """The run's records with plateau-monitor decisions, as the diagnostics branch writes."""
    records = read_metrics(run_dir / "metrics.jsonl")
    decisions = {2: {"decision": "warn", "snr": 0.8}, 4: {"decision": "raise_shots", "to": 600}}
    (run_dir / "metrics.jsonl").unlink()
    tracker = JsonlTracker(run_dir / "metrics.jsonl")
    for r in records:
        tracker.log(replace(r, monitor=decisions.get(r.step, {"decision": "ok"})))
    tracker.finish({})


def test_report_renders_in_headless_chromium_with_plots_and_no_errors(faulty_run, browser):
    add_monitor_decisions(faulty_run)
    page = write_report(faulty_run)
    assert page == faulty_run / "report" / "report.html"
    assert browser.open(page.as_uri()) == "complete"
    assert browser.problems() == []
    # self-contained: the page itself is the only thing loaded
    assert all(url.startswith(("file:", "data:")) for url in browser.requested_urls())
    plots = browser.evaluate(
        "Array.from(document.querySelectorAll('figure img')).map(i => "
        "[i.closest('figure').id, i.complete, i.naturalWidth, i.naturalHeight])"
    )
    assert [p[0] for p in plots] == [
        "plot-loss",
        "plot-gradient",
        "plot-shots",
        "plot-reliability",
        "plot-gradient_heatmap",
    ]
    assert all(complete and width > 300 and height > 100 for _, complete, width, height in plots)
    text = browser.evaluate("document.body.innerText")
    assert "max_steps" in text and "-1.13727" in text  # stopped by, exact minimum (FCI)
    assert "raise_shots" in text and "warn" in text  # the monitor's decisions
    monitor = browser.evaluate("document.getElementById('monitor').innerText")
    assert "gradient SNR 0.8" in monitor and "{" not in monitor  # a sentence, not raw JSON
    assert "learning_rate: 0.05" in browser.evaluate("document.getElementById('config').innerText")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report-screenshot.png"
    browser.screenshot(shot)
    print(f"report screenshot: {shot}")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    assert sorted(p.name for p in page.parent.glob("*.png")) == sorted(
        f"{p[0].removeprefix('plot-')}.png" for p in plots
    )


def test_the_browser_check_does_catch_console_errors_and_broken_images(tmp_path, browser):
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><body><img id=x src='data:image/png;base64,AAAA'>"
        "<script>console.error('boom'); undefinedFunction();</script></body></html>"
    )
    browser.open(bad.as_uri())
    kinds = {kind for kind, _ in browser.problems()}
    assert {"console", "exception"} <= kinds
    assert browser.evaluate("document.getElementById('x').naturalWidth") == 0


def test_report_of_a_run_in_progress_and_bad_folders(tmp_path):
    tracker = JsonlTracker(tmp_path / "metrics.jsonl")
    for step in range(3):
        tracker.log(
            make_record(
                step,
                loss=1.0 - step,
                grad_norm=0.5,
                circuits=2,
                seconds=0.01,
                elapsed=0.01,
                gradient=(0.5, 0.0),
            )
        )
    tracker.finish({})
    page = write_report(tmp_path, out=tmp_path / "r.html")
    html = page.read_text()
    assert "still running or crashed" in html and "No plateau-monitor decisions" in html
    assert html.count("<img") == 3 and 'src="http' not in html and 'href="http' not in html
    with pytest.raises(qt.CheckpointError, match="not a run directory"):
        write_report(tmp_path / "nothing")
    assert write_plots(tmp_path, tmp_path / "png")[0].name == "loss.png"


def exact_run(run_dir, steps=4, summary=None):
    """A run folder written as an exact run (no shots, no retries) of ``steps`` steps."""
    run_dir.mkdir(parents=True, exist_ok=True)
    tracker = JsonlTracker(run_dir / "metrics.jsonl")
    for step in range(steps):
        tracker.log(
            make_record(
                step,
                loss=-1.0 + 0.5**step,
                grad_norm=0.5 / (step + 1),
                circuits=2,
                seconds=0.01,
                elapsed=0.01 * (step + 1),
                gradient=(0.5 / (step + 1), 1e-4, 40.0 if step == 1 else 0.01),
            )
        )
    tracker.finish(summary or {})
    return run_dir


SUMMARY = {
    "stopped_by": "max_steps",
    "steps": 4,
    "seconds": 1.6357288,
    "final_loss_exact": -1.1372505427127826,
    "exact_value": -1.137270174660903,
    "error": 1.963194812049096e-05,
    "shots": 0,
    "seed": 7,
    "problem": {
        "name": "h2",
        "report": {
            "chemical_accuracy": 1.0,
            "energy": -1.1372505427127826,
            "error_vs_fci": 1.963194812049096e-05,
            "loss": -1.1372505427127826,
        },
    },
    "plan": {
        "basis": "this machine's measured coefficients",
        "estimated_seconds": 0.926441073877051,
        "measured_seconds": 2.225314976996742,
        "ratio": 2.4020037968351846,
    },
    "execution": {"retries": 45, "failed_rows": 322, "cached_rows": 0},
    "tracking": {
        "mlflow": {"tracking_uri": "file:///tmp/mlruns", "experiment": "h2", "run_id": "abc123"}
    },
}


def test_report_shows_each_summary_value_once_rounded_with_plan_execution_tracking(tmp_path):
    run = exact_run(tmp_path / "run")
    (run / "summary.json").write_text(json.dumps(SUMMARY))
    page = write_report(run).read_text()
    summary = page.split("<table id=summary>")[1].split("</table>")[0]
    assert summary.count("-1.13725") == 1  # final loss, not again as energy and loss
    assert summary.count("1.96319e-05") == 1 and "error vs fci" not in summary
    assert "h2: chemical accuracy" in summary and "1.6357288" not in page
    assert "<td class=n>1.64 s</td>" in summary  # seconds to 3 significant digits
    plan = page.split("<table id=plan>")[1].split("</table>")[0]
    assert "926 ms" in plan and "2.23 s" in plan and "×2.4" in plan
    reliability = page.split("<table id=reliability>")[1].split("</table>")[0]
    assert "<td class=n>45</td>" in reliability and "<td class=n>322</td>" in reliability
    tracking = page.split("<table id=tracking>")[1].split("</table>")[0]
    assert "abc123" in tracking and "file:///tmp/mlruns" in tracking
    assert "percentiles" in page  # the heatmap caption names its robust colour limits


def _layout(browser, page, shot):
    """The page's figures as a person sees them: screenshot pixels and the axes' facts."""
    assert browser.open(page.as_uri()) == "complete" and browser.problems() == []
    figures = browser.evaluate(
        "Array.from(document.querySelectorAll('figure')).map(f => {"
        "const r = f.querySelector('img').getBoundingClientRect();"
        "return [f.id, JSON.parse(f.dataset.axes),"
        " [r.left + scrollX, r.top + scrollY, r.right + scrollX, r.bottom + scrollY]]})"
    )
    browser.screenshot(shot)
    image = Image.open(shot).convert("L")
    for name, axes, box in figures:
        panel = image.crop(tuple(round(v) for v in box))
        dark = sum(panel.histogram()[:200]) / (panel.width * panel.height)
        assert panel.width > 300 and dark > 0.01, (name, dark)  # something is drawn
        for facts in axes:
            assert facts["artists"] > 0, (name, facts)  # no empty panel
            if facts["xlabel"] == "step":
                ticks = [float(t.replace(",", "")) for t in facts["xticks"]]
                assert ticks and all(t.is_integer() for t in ticks), (name, ticks)
    return {name: axes for name, axes, _ in figures}


def test_report_layout_in_chromium_has_no_empty_panel_and_integer_ticks(
    faulty_run, tmp_path, browser
):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    exact = exact_run(tmp_path / "exact", summary={"stopped_by": "max_steps", "seconds": 0.5})
    shown = _layout(browser, write_report(exact), ARTIFACTS / "report-exact-screenshot.png")
    assert list(shown) == ["plot-loss", "plot-gradient", "plot-gradient_heatmap"]
    assert len(shown["plot-gradient"]) == 1  # no SNR panel for an exact run
    faulty = _layout(browser, write_report(faulty_run), ARTIFACTS / "report-layout.png")
    assert "plot-reliability" in faulty and len(faulty["plot-gradient"]) == 2
