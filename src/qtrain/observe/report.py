"""The run report: one self-contained HTML page for a run folder, plus its plots as PNG files.

``write_report(run_dir)`` (``qtrain report RUN_DIR``) reads ``metrics.jsonl``,
``summary.json``, ``config.yaml`` and ``reproduce.json`` and writes
``RUN_DIR/report/report.html`` with the summary, the plots of :mod:`qtrain.observe.plots`
(inline base64 PNGs, also written beside the page), the plan's estimate against the run, the
plateau monitor's decisions, the reliability totals, where trackers logged the run and the
config. Each figure carries ``data-axes``: what each of its axes shows (tick labels, number of
drawn artists), so a browser check can assert the layout (no empty panel, integer ticks on
integer axes) without reading pixels. The page loads nothing: no script, no font, no
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
from qtrain.observe.plots import HEATMAP_PERCENTILES, render_figures, render_plots
from qtrain.observe.report_tables import (
    execution_rows,
    plan_rows,
    summary_rows,
    tracking_rows,
)
from qtrain.train.records import StepRecord
from qtrain.train.rundir import RunDir
from qtrain.train.tracking import monitor_decision, monitor_sentence, read_metrics

__all__ = ["write_plots", "write_report"]

_CAPTIONS = {
    "loss": "Loss measured at each step with its 1σ and 2σ bands, against the exact minimum "
    "when it is known.",
    "gradient": "Gradient norm ± its standard error, and the gradient's signal-to-noise ratio "
    "(below 1 the estimate is noise).",
    "shots": "Shots spent by the run against its shot budget.",
    "reliability": "Backend retries, failed rows and rows read from the result store, per step; "
    "dotted lines mark new calibration ids.",
    "gradient_heatmap": "Magnitude of every gradient component at every step (log scale). "
    f"The colour scale spans the {HEATMAP_PERCENTILES[0]:g}th to {HEATMAP_PERCENTILES[1]:g}th "
    "percentiles of the nonzero magnitudes, so a few outliers do not wash it out; values "
    "beyond them saturate (the arrows of the colour bar).",
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
        f"<td>{html.escape(monitor_sentence(r.monitor or {}))}</td></tr>"  # rounded, not JSON
        for r in decided
    )
    header = "<tr><th>step</th><th>decision</th><th>details</th></tr>"
    return f"{quiet}<table id=monitor>{header}{rows}</table>"


def _figures(figures: Mapping[str, tuple[bytes, list[dict[str, object]]]]) -> str:
    if not figures:
        return "<p>No steps recorded yet: nothing to plot.</p>"
    parts = []
    for name, (data, facts) in figures.items():
        encoded = base64.b64encode(data).decode("ascii")
        axes = html.escape(json.dumps(facts, ensure_ascii=False), quote=True)
        caption = _CAPTIONS[name]
        if name == "gradient" and len(facts) == 1:
            caption = "Gradient norm. The gradients are exact (no shot noise): no SNR panel."
        parts.append(
            f'<figure id="plot-{name}" data-axes="{axes}"><img class=plot alt="{name} plot" '
            f'src="data:image/png;base64,{encoded}"><figcaption>{html.escape(caption)}'
            "</figcaption></figure>"
        )
    return "\n".join(parts)


def _optional_tables(summary: Mapping[str, Any]) -> list[str]:
    plan = summary.get("plan")
    if not isinstance(plan, Mapping) or not plan:
        return []
    return [f"<h2>Plan against the run</h2><table id=plan>{plan_rows(plan)}</table>"]


def _tracking(summary: Mapping[str, Any]) -> list[str]:
    tracking = summary.get("tracking")
    if not isinstance(tracking, Mapping) or not tracking:
        return []
    return [f"<h2>Tracking</h2><table id=tracking>{tracking_rows(tracking)}</table>"]


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
    figures = render_figures(
        records, exact_value=summary.get("exact_value"), max_shots=_max_shots(config)
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    for name, (data, _) in figures.items():
        (target.parent / f"{name}.png").write_bytes(data)
    run_id = Path(directory.path).resolve().name
    reproduce = (
        directory.reproduce.read_text(encoding="utf-8") if directory.reproduce.exists() else "{}"
    )
    config_text = directory.config.read_text(encoding="utf-8") if directory.config.exists() else ""
    body = "\n".join(
        [
            f"<h1>qtrain run <code>{html.escape(run_id)}</code></h1>",
            f"<h2>Summary</h2><table id=summary>{summary_rows(records, summary)}</table>",
            *_optional_tables(summary),
            f"<h2>Plots</h2>{_figures(figures)}",
            f"<h2>Plateau monitor</h2>{_monitor_section(records)}",
            "<h2>Reliability</h2><table id=reliability>"
            f"{execution_rows(records, summary.get('execution'))}</table>",
            *_tracking(summary),
            "<h2>Config</h2><pre id=config>"
            + html.escape(config_text or "(no config.yaml: the run was started from Python)")
            + "</pre>",
            f"<h2>Reproduction</h2><pre id=reproduce>{html.escape(reproduce)}</pre>",
        ]
    )
    target.write_text(_page(run_id, body), encoding="utf-8")
    return target
