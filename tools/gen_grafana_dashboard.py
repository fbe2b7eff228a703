"""Writes deploy/grafana/qtrain.json: the overview, on-call and debug views of qtrain runs.

    python tools/gen_grafana_dashboard.py

The dashboard has a data source variable (any Prometheus) and run_id / backend variables from
``qtrain_run_info``; the hardware row is in tools/grafana_hardware.py.
tests/deploy/test_grafana_dashboard.py checks that every metric a panel queries is in a real
scrape of a training run.
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "deploy" / "grafana" / "qtrain.json"
SEL = 'run_id=~"$run_id", backend=~"$backend"'
RATE = "$__rate_interval"
DS = {"type": "prometheus", "uid": "${datasource}"}


def rate(metric: str, by: str = "run_id") -> str:
    return f"sum by ({by}) (rate({metric}{{{SEL}}}[{RATE}]))"


def quantile(q: float, metric: str) -> str:
    return f"histogram_quantile({q}, sum by (le, run_id) (rate({metric}_bucket{{{SEL}}}[{RATE}])))"


def target(expr: str, legend: str, ref: str) -> dict[str, object]:
    return {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref}


class Layout:
    def __init__(self) -> None:
        self.panels: list[dict[str, object]] = []
        self.y = 0
        self.x = 0
        self.row_height = 0
        self.next_id = 1

    def row(self, title: str) -> None:
        self._newline()
        self.panels.append(
            {
                "type": "row",
                "title": title,
                "id": self._id(),
                "collapsed": False,
                "panels": [],
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
            }
        )
        self.y += 1

    def panel(
        self,
        title: str,
        targets: list[tuple[str, str]],
        *,
        kind: str = "timeseries",
        unit: str = "short",
        width: int = 8,
        height: int = 8,
        description: str = "",
        thresholds: list[tuple[str, float | None]] | None = None,
    ) -> None:
        if self.x + width > 24:
            self._newline()
        steps = [{"color": c, "value": v} for c, v in (thresholds or [("green", None)])]
        self.panels.append(
            {
                "type": kind,
                "title": title,
                "description": description,
                "id": self._id(),
                "datasource": DS,
                "gridPos": {"h": height, "w": width, "x": self.x, "y": self.y},
                "fieldConfig": {
                    "defaults": {
                        "unit": unit,
                        "thresholds": {"mode": "absolute", "steps": steps},
                    },
                    "overrides": [],
                },
                "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
                "targets": [
                    target(expr, legend, chr(ord("A") + i))
                    for i, (expr, legend) in enumerate(targets)
                ],
            }
        )
        self.x += width
        self.row_height = max(self.row_height, height)

    def _newline(self) -> None:
        self.y += self.row_height
        self.x, self.row_height = 0, 0

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


def overview(layout: Layout) -> None:
    layout.row("Overview: are runs healthy, and what do they cost?")
    layout.panel(
        "Job success rate",
        [
            (
                f"{rate('qtrain_exec_rows_succeeded_total')} / "
                f"{rate('qtrain_exec_rows_submitted_total')}",
                "{{run_id}}",
            )
        ],
        unit="percentunit",
        description="Rows that came back valid over rows submitted (retries included).",
        thresholds=[("red", None), ("orange", 0.5), ("green", 0.8)],
    )
    layout.panel(
        "Cost per gradient step",
        [
            (f"{rate('qtrain_shots_total')} / {rate('qtrain_steps_total')}", "shots {{run_id}}"),
            (
                f"{rate('qtrain_circuits_total')} / {rate('qtrain_steps_total')}",
                "circuits {{run_id}}",
            ),
        ],
        description="Shots and circuits (parameter rows) one optimizer step costs.",
    )
    layout.panel(
        "Step time",
        [
            (quantile(0.5, "qtrain_step_seconds"), "p50 {{run_id}}"),
            (quantile(0.95, "qtrain_step_seconds"), "p95 {{run_id}}"),
        ],
        unit="s",
    )
    layout.panel(
        "Runs: running, finished, converged",
        [
            (f"count(qtrain_run_finished{{{SEL}}} == 0)", "running"),
            (f"sum(qtrain_run_finished{{{SEL}}})", "finished"),
            (f"sum(qtrain_run_converged{{{SEL}}})", "converged (a stop rule ended it)"),
        ],
        kind="stat",
        width=8,
        height=6,
    )
    layout.panel(
        "Shots spent / budget",
        [
            (
                f"max by (run_id) (qtrain_run_shots{{{SEL}}}) / "
                f"max by (run_id) (qtrain_budget_shots{{{SEL}}})",
                "{{run_id}}",
            )
        ],
        kind="bargauge",
        unit="percentunit",
        width=8,
        height=6,
        thresholds=[("green", None), ("orange", 0.8), ("red", 0.95)],
    )
    layout.panel(
        "Steps done / budget",
        [
            (
                f"max by (run_id) (qtrain_run_steps{{{SEL}}}) / "
                f"max by (run_id) (qtrain_budget_steps{{{SEL}}})",
                "{{run_id}}",
            )
        ],
        kind="bargauge",
        unit="percentunit",
        width=8,
        height=6,
    )


def on_call(layout: Layout) -> None:
    layout.row("On-call: backend latency, errors, retries, partial failures, calibration")
    layout.panel(
        "Backend call latency",
        [
            (quantile(q, "qtrain_exec_call_seconds"), f"p{int(q * 100)} {{{{run_id}}}}")
            for q in (0.5, 0.95, 0.99)
        ],
        unit="s",
        description="Time per backend call (queue plus execution on remote backends).",
    )
    layout.panel(
        "Gradient completion latency",
        [
            (quantile(0.5, "qtrain_gradient_seconds"), "p50 {{run_id}}"),
            (quantile(0.95, "qtrain_gradient_seconds"), "p95 {{run_id}}"),
        ],
        unit="s",
        description="From submitting a step's circuits to its finished gradient.",
    )
    layout.panel(
        "Backend calls per second",
        [(rate("qtrain_exec_calls_total"), "{{run_id}}")],
        unit="reqps",
    )
    layout.panel(
        "Error rate (failed / submitted rows)",
        [
            (
                f"{rate('qtrain_exec_rows_failed_total')} / "
                f"{rate('qtrain_exec_rows_submitted_total')}",
                "{{run_id}}",
            )
        ],
        unit="percentunit",
        thresholds=[("green", None), ("orange", 0.2), ("red", 0.5)],
    )
    layout.panel(
        "Retries and throttling",
        [
            (rate("qtrain_exec_retries_total"), "retries/s {{run_id}}"),
            (rate("qtrain_exec_throttled_total"), "throttled calls/s {{run_id}}"),
        ],
        unit="ops",
    )
    layout.panel(
        "Partial failures",
        [
            (
                f"{rate('qtrain_exec_partial_calls_total')} / {rate('qtrain_exec_calls_total')}",
                "recent {{run_id}}",
            ),
            (f"max by (run_id) (qtrain_exec_partial_failure_ratio{{{SEL}}})", "run {{run_id}}"),
        ],
        unit="percentunit",
        description="Calls that returned with some task results missing or invalid.",
    )
    layout.panel(
        "Calibration changes",
        [
            (
                f"sum by (run_id) (increase(qtrain_calibration_changes_total{{{SEL}}}[{RATE}]))",
                "{{run_id}}",
            )
        ],
        description="New backend calibration ids: results before and after may differ.",
    )
    layout.panel(
        "Store hits and deduplication",
        [
            (rate("qtrain_exec_rows_cached_total"), "cached rows/s {{run_id}}"),
            (rate("qtrain_exec_rows_deduplicated_total"), "deduplicated rows/s {{run_id}}"),
        ],
        unit="ops",
    )
    layout.panel(
        "Failed rows and retries per step",
        [
            (
                f"{rate('qtrain_step_failures_total')} / {rate('qtrain_steps_total')}",
                "failed rows/step {{run_id}}",
            ),
            (
                f"{rate('qtrain_step_retries_total')} / {rate('qtrain_steps_total')}",
                "retries/step {{run_id}}",
            ),
        ],
    )


def debug(layout: Layout) -> None:
    layout.row("Debug: loss ± error, gradient norm and SNR, shots per step")
    layout.panel(
        "Loss ± 2σ",
        [
            (f"qtrain_loss{{{SEL}}}", "loss {{run_id}}"),
            (f"qtrain_loss{{{SEL}}} + 2 * qtrain_loss_stderr{{{SEL}}}", "+2σ {{run_id}}"),
            (f"qtrain_loss{{{SEL}}} - 2 * qtrain_loss_stderr{{{SEL}}}", "-2σ {{run_id}}"),
            (f"qtrain_loss_exact{{{SEL}}}", "exact minimum {{run_id}}"),
        ],
        width=12,
    )
    layout.panel(
        "Gradient norm ± σ",
        [
            (f"qtrain_grad_norm{{{SEL}}}", "‖g‖ {{run_id}}"),
            (f"qtrain_grad_norm_stderr{{{SEL}}}", "σ(‖g‖) {{run_id}}"),
        ],
        width=12,
    )
    layout.panel(
        "Gradient SNR",
        [(f"qtrain_grad_snr{{{SEL}}}", "{{run_id}}")],
        description="Below 1 the gradient is shot noise (a plateau, or too few shots).",
        thresholds=[("red", None), ("orange", 1), ("green", 3)],
    )
    layout.panel(
        "Shots and circuits per step",
        [
            (f"qtrain_step_shots{{{SEL}}}", "shots {{run_id}}"),
            (f"qtrain_step_circuits{{{SEL}}}", "circuits {{run_id}}"),
        ],
    )
    layout.panel(
        "Learning rate",
        [(f"qtrain_learning_rate{{{SEL}}}", "{{run_id}}")],
    )
    layout.panel(
        "Plateau monitor",
        [
            (f"qtrain_monitor_state{{{SEL}}} == 1", "{{run_id}}: {{qtrain_monitor_state}}"),
            (
                f"sum by (run_id, decision) (increase(qtrain_monitor_decisions_total{{{SEL}, "
                f'decision!="ok"}}[{RATE}]))',
                "{{run_id}} {{decision}}",
            ),
        ],
        description="The monitor's last decision (none: no monitor) and its non-ok decisions.",
    )
    layout.panel(
        "Run progress",
        [
            (f"qtrain_run_steps{{{SEL}}}", "steps {{run_id}}"),
            (f"qtrain_run_elapsed_seconds{{{SEL}}}", "elapsed s {{run_id}}"),
            (
                f"time() - max by (run_id) (qtrain_last_progress_timestamp_seconds{{{SEL}}})",
                "s since progress {{run_id}}",
            ),
        ],
        description="Seconds since the session started or last finished a step (QtrainRunStalled).",
    )
    layout.panel(
        "Runs",
        [(f"qtrain_run_info{{{SEL}}}", ""), (f"qtrain_run_start_time_seconds{{{SEL}}} * 1000", "")],
        kind="table",
    )


def dashboard() -> dict[str, object]:
    from grafana_hardware import hardware  # noqa: PLC0415 - it imports this module

    layout = Layout()
    overview(layout)
    on_call(layout)
    debug(layout)
    hardware(layout)
    variables = [
        {"type": "datasource", "name": "datasource", "label": "Prometheus", "query": "prometheus"},
        {
            "type": "query",
            "name": "run_id",
            "label": "run",
            "datasource": DS,
            "query": {"query": "label_values(qtrain_run_info, run_id)", "refId": "run_id"},
            "refresh": 2,
            "multi": True,
            "includeAll": True,
            "current": {"text": "All", "value": "$__all"},
        },
        {
            "type": "query",
            "name": "backend",
            "label": "backend",
            "datasource": DS,
            "query": {"query": "label_values(qtrain_run_info, backend)", "refId": "backend"},
            "refresh": 2,
            "multi": True,
            "includeAll": True,
            "current": {"text": "All", "value": "$__all"},
        },
    ]
    return {
        "title": "qtrain training runs",
        "uid": "qtrain-runs",
        "description": "Overview, on-call and debug views of qtrain runs (docs/operations.md).",
        "tags": ["qtrain", "quantum", "training"],
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "utc",
        "templating": {"list": variables},
        "annotations": {"list": []},
        "panels": layout.panels,
    }


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")
