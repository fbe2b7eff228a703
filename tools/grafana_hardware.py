"""The dashboard's fourth row: what hardware runs add (queue, cost, calibration, drift, ...).

Used by tools/gen_grafana_dashboard.py. Series that only priced hardware runs have (cost,
calibration age, readout error, canary, validation, mitigation) are NaN or absent on a
simulator: their panels stay empty there.
"""

from __future__ import annotations

from typing import Any

from gen_grafana_dashboard import RATE, SEL, rate


def hardware(layout: Any) -> None:
    layout.row("Hardware: queue, cost, calibration, drift, validation, mitigation")
    layout.panel(
        "Queue wait vs execution",
        [
            (rate("qtrain_exec_queue_seconds_total"), "queued s/s {{run_id}}"),
            (rate("qtrain_exec_execution_seconds_total"), "executing s/s {{run_id}}"),
            (
                f"{rate('qtrain_exec_queue_seconds_total')} / {rate('qtrain_exec_jobs_total')}",
                "queued s per job {{run_id}}",
            ),
        ],
        unit="s",
        description=(
            "Seconds provider jobs spent queued and running, per second of wall time; the mean "
            "queue wait per job (QtrainQueueWaitHigh)."
        ),
    )
    layout.panel(
        "Cost",
        [
            (f"max by (run_id) (qtrain_run_cost{{{SEL}}})", "run {{run_id}}"),
            (f"max by (run_id) (qtrain_budget_cost{{{SEL}}})", "budget {{run_id}}"),
            (f"max by (run_id) (qtrain_step_cost{{{SEL}}})", "last step {{run_id}}"),
        ],
        description="Money under the run's pricing table (NaN/empty without one).",
    )
    layout.panel(
        "Calibration age and readout error",
        [
            (
                f"max by (run_id) (qtrain_calibration_age_seconds{{{SEL}}}) / 3600",
                "age h {{run_id}}",
            ),
            (f"max by (run_id) (qtrain_readout_error{{{SEL}}})", "readout error {{run_id}}"),
        ],
        description="Hours since the backend's calibration; mean readout error rate.",
    )
    layout.panel(
        "Drift canary",
        [
            (f"qtrain_canary_residual{{{SEL}}}", "residual (σ) {{run_id}}"),
            (f"qtrain_canary_statistic{{{SEL}}}", "detector {{run_id}}"),
            (f"qtrain_canary_threshold{{{SEL}}}", "threshold {{run_id}}"),
            (f"qtrain_drift_detected{{{SEL}}}", "drift {{run_id}}"),
        ],
        width=12,
        description="Standardised residual of the canary, the detector against its threshold.",
    )
    layout.panel(
        "Drift detections and backend switches",
        [
            (
                "sum by (run_id, action) "
                f"(increase(qtrain_drift_detections_total{{{SEL}}}[{RATE}]))",
                "{{run_id}} drift: {{action}}",
            ),
            (
                f"sum by (run_id) (increase(qtrain_backend_switches_total{{{SEL}}}[{RATE}]))",
                "{{run_id}} backend switches",
            ),
            (f"qtrain_backend_in_use_info{{{SEL}}}", "{{run_id}} on {{in_use}}"),
        ],
        width=12,
    )
    layout.panel(
        "Validation loss",
        [
            (f"qtrain_validation_loss{{{SEL}}}", "validation {{run_id}}"),
            (f"max by (run_id) (qtrain_loss{{{SEL}}})", "training {{run_id}}"),
            (f"qtrain_validation_loss_stderr{{{SEL}}}", "σ {{run_id}}"),
        ],
        width=12,
    )
    layout.panel(
        "Mitigation: raw vs mitigated loss",
        [
            (f"qtrain_loss_raw{{{SEL}}}", "raw {{run_id}}"),
            (f"qtrain_loss_mitigated{{{SEL}}}", "mitigated {{run_id}}"),
        ],
        width=12,
    )
