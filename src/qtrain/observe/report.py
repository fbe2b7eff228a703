"""The run report: one self-contained HTML page for a run folder, plus its plots as PNG files.

``write_report(run_dir)`` (``qtrain report RUN_DIR``) reads ``metrics.jsonl``,
``summary.json``, ``config.yaml`` and ``reproduce.json`` and writes
``RUN_DIR/report/report.html`` with the summary, the plots of :mod:`qtrain.observe.plots`
(inline base64 PNGs, also written beside the page), the plateau monitor's decisions, the
reliability totals and the config. The page loads nothing: no script, no font, no
stylesheet from elsewhere; its Content-Security-Policy forbids every fetch but inline
images and styles, so it reads the same offline, mailed, or archived with the run.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from qtrain.errors import CheckpointError
from qtrain.observe.plots import render_plots
from qtrain.train.records import StepRecord
from qtrain.train.rundir import RunDir
from qtrain.train.tracking import monitor_decision, read_metrics

__all__ = ["write_plots", "write_report"]

_CAPTIONS = {
    "loss": "Loss measured at each step with its 1σ and 2σ bands, against the exact minimum "
    "when it is known.",
    "gradient": "Gradient norm ± its standard error, and the gradient's signal-to-noise ratio "
    "(below 1 the estimate is noise).",
    "shots": "Shots spent by the run against its shot budget.",
    "reliability": "Backend retries, failed rows and rows read from the result store, per step; "
    "dotted lines mark new calibration ids.",
    "gradient_heatmap": "Magnitude of every gradient component at every step (log scale).",
}
_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:64em;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse}td,th{padding:.2em .8em;border-bottom:1px solid #eee;
text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1em 0}img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:.9em}pre{background:#f6f6f6;padding:1em;overflow-x:auto}
"""


def _read(run_dir: Path) -> tuple[RunDir, list[StepRecord], dict[str, Any], dict[str, Any]]:
    directory = RunDir(Path(run_dir))
    if not Path(run_dir).is_dir() or not directory.metrics.exists():
        raise CheckpointError(f"{run_dir} is not a run directory (no metrics.jsonl)")
    summary: dict[str, Any] = {}
    if directory.summary.exists():
        summary = json.loads(directory.summary.read_text(encoding="utf-8"))
    config: dict[str, Any] = {}
    if directory.config.exists():
        config = yaml.safe_load(directory.config.read_text(encoding="utf-8")) or {}
    return directory, read_metrics(directory.metrics), summary, config


def _max_shots(config: Mapping[str, Any]) -> int | None:
    budget = config.get("budget") or {}
    value = budget.get("max_shots") if isinstance(budget, Mapping) else None
    return int(value) if isinstance(value, int) else None


def write_plots(run_dir: Path, out_dir: Path) -> list[Path]:
    """The run's plots as ``out_dir/<name>.png``; their paths.

    Raises:
        CheckpointError: ``run_dir`` is not a run folder.
        ConfigError: matplotlib (the ``plot`` extra) is not installed.
    """
    _, records, summary, config = _read(run_dir)
    pngs = render_plots(
        records, exact_value=summary.get("exact_value"), max_shots=_max_shots(config)
    )
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in pngs.items():
        path = Path(out_dir) / f"{name}.png"
        path.write_bytes(data)
        paths.append(path)
    return paths


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else ("yes" if value else "no")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.8g}"
    return html.escape(str(value))


def _rows(pairs: Sequence[tuple[str, Any]]) -> str:
    return "".join(
        f"<tr><th>{html.escape(k)}</th><td class=n>{_number(v)}</td></tr>" for k, v in pairs
    )


def _summary_rows(records: Sequence[StepRecord], summary: Mapping[str, Any]) -> str:
    last = records[-1] if records else None
    pairs: list[tuple[str, Any]] = [
        ("stopped by", summary.get("stopped_by", "still running or crashed (no summary.json)")),
        ("steps", summary.get("steps", len(records))),
        ("last measured loss", None if last is None else last.loss),
        ("its standard error", None if last is None else last.loss_stderr),
        ("final loss (exact, at final θ)", summary.get("final_loss_exact")),
        ("exact minimum", summary.get("exact_value")),
        ("error", summary.get("error")),
        ("shots spent", summary.get("shots", None if last is None else last.shots_total)),
        ("wall time (s)", summary.get("seconds", None if last is None else last.elapsed)),
        ("seed", summary.get("seed")),
    ]
    problem = summary.get("problem") or {}
    for key, value in (problem.get("report") or {}).items():
        shown = bool(value) if key == "chemical_accuracy" else value  # a number meant as yes/no
        pairs.append((f"{problem.get('name', 'problem')}: {key.replace('_', ' ')}", shown))
    return _rows(pairs)


def _reliability_rows(records: Sequence[StepRecord]) -> str:
    calibrations = sorted({c for r in records for c in r.calibration_ids})
    return _rows(
        [
            ("circuits (rows) evaluated", sum(r.circuits for r in records)),
            ("backend retries", sum(r.retries for r in records)),
            ("failed or invalid rows", sum(r.failures for r in records)),
            ("rows read from the store", sum(r.cached for r in records)),
            ("calibration ids seen", ", ".join(calibrations) or "-"),
        ]
    )


def _monitor_section(records: Sequence[StepRecord]) -> str:
    monitored = [r for r in records if r.monitor]
    if not monitored:
        return "<p>No plateau-monitor decisions were recorded for this run.</p>"
    decided = [r for r in monitored if monitor_decision(r.monitor) != "ok"]
    quiet = f"<p>{len(monitored) - len(decided)} monitored step(s) decided <code>ok</code>.</p>"
    if not decided:
        return quiet
    rows = "".join(
        f"<tr><td class=n>{r.step}</td><td>{html.escape(monitor_decision(r.monitor))}</td>"
        f"<td><code>{html.escape(json.dumps(r.monitor, sort_keys=True, default=str))}</code>"
        "</td></tr>"
        for r in decided
    )
    header = "<tr><th>step</th><th>decision</th><th>details</th></tr>"
    return f"{quiet}<table id=monitor>{header}{rows}</table>"


def _figures(pngs: Mapping[str, bytes]) -> str:
    if not pngs:
        return "<p>No steps recorded yet: nothing to plot.</p>"
    parts = []
    for name, data in pngs.items():
        encoded = base64.b64encode(data).decode("ascii")
        parts.append(
            f'<figure id="plot-{name}"><img class=plot alt="{name} plot" '
            f'src="data:image/png;base64,{encoded}"><figcaption>{html.escape(_CAPTIONS[name])}'
            "</figcaption></figure>"
        )
    return "\n".join(parts)


def _page(run_id: str, body: str) -> str:
    policy = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f'<link rel=icon href="data:,"><title>qtrain run {html.escape(run_id)}</title>'
        f"<style>{_STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )


def write_report(run_dir: str | Path, *, out: str | Path | None = None) -> Path:
    """Write the run's HTML report (and its plots as PNG files beside it); its path.

    Args:
        run_dir: a run folder (it needs at least ``metrics.jsonl``; a run still in progress
            or one that crashed gets a report of the steps so far).
        out: the HTML file (default ``RUN_DIR/report/report.html``).

    Raises:
        CheckpointError: ``run_dir`` is not a run folder.
        ConfigError: matplotlib (the ``plot`` extra) is not installed.
    """
    directory, records, summary, config = _read(Path(run_dir))
    target = Path(out) if out is not None else Path(run_dir) / "report" / "report.html"
    pngs = render_plots(
        records, exact_value=summary.get("exact_value"), max_shots=_max_shots(config)
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    for name, data in pngs.items():
        (target.parent / f"{name}.png").write_bytes(data)
    run_id = Path(directory.path).resolve().name
    reproduce = (
        directory.reproduce.read_text(encoding="utf-8") if directory.reproduce.exists() else "{}"
    )
    config_text = directory.config.read_text(encoding="utf-8") if directory.config.exists() else ""
    body = "\n".join(
        [
            f"<h1>qtrain run <code>{html.escape(run_id)}</code></h1>",
            f"<h2>Summary</h2><table id=summary>{_summary_rows(records, summary)}</table>",
            f"<h2>Plots</h2>{_figures(pngs)}",
            f"<h2>Plateau monitor</h2>{_monitor_section(records)}",
            f"<h2>Reliability</h2><table id=reliability>{_reliability_rows(records)}</table>",
            "<h2>Config</h2><pre id=config>"
            + html.escape(config_text or "(no config.yaml: the run was started from Python)")
            + "</pre>",
            f"<h2>Reproduction</h2><pre id=reproduce>{html.escape(reproduce)}</pre>",
        ]
    )
    target.write_text(_page(run_id, body), encoding="utf-8")
    return target
