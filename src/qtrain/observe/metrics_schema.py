"""The names, help texts and sources of the Prometheus metrics qtrain exports.

Every metric starts with ``qtrain_``; ``docs/operations.md`` documents them and
``deploy/grafana/qtrain.json`` queries them (a test checks both against a real scrape).
Counters are named without ``_total`` here: the exposition format adds it.
"""

from __future__ import annotations

__all__ = [
    "DRIFT_ACTIONS",
    "EXECUTOR_COUNTERS",
    "LAST_SEEN_GAUGES",
    "LATENCY_BUCKETS_S",
    "NOT_CONVERGED_STOPS",
    "STEP_COUNTERS",
    "STEP_GAUGES",
]

# Seconds: local simulator calls take milliseconds, queued hardware jobs minutes.
LATENCY_BUCKETS_S: tuple[float, ...] = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
LATENCY_BUCKETS_S += (2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)

# (metric name, ExecutorCounters field, help)
EXECUTOR_COUNTERS = (
    ("qtrain_exec_calls", "calls", "Backend calls made by the executor."),
    ("qtrain_exec_rows_submitted", "submitted", "Rows sent to the backend (again on retry)."),
    ("qtrain_exec_rows_succeeded", "succeeded", "Rows that came back with a valid result."),
    ("qtrain_exec_rows_failed", "failed", "Rows lost to a failed call or a bad result."),
    ("qtrain_exec_rows_cached", "cached", "Rows read from the result store, not run."),
    ("qtrain_exec_rows_deduplicated", "deduplicated", "Duplicate rows folded into one."),
    ("qtrain_exec_retries", "retried", "Retry rounds (each resubmits what is outstanding)."),
    ("qtrain_exec_throttled", "throttled", "Backend calls refused by throttling."),
    ("qtrain_exec_partial_calls", "partial", "Calls returning some missing/invalid results."),
    ("qtrain_exec_abandoned_calls", "abandoned", "Calls given up after their timeout."),
    ("qtrain_exec_abandoned_shots", "abandoned_shots", "Shots of results that came too late."),
    ("qtrain_exec_rows_recovered", "recovered", "Late rows of abandoned calls stored."),
    ("qtrain_exec_rejected_shots", "rejected_shots", "Shots of results rejected as invalid."),
    ("qtrain_exec_overhead_shots", "overhead_shots", "Shots beside the tasks' (calibration)."),
    ("qtrain_exec_queue_seconds", "queue_s", "Seconds provider jobs waited in a queue."),
    ("qtrain_exec_execution_seconds", "execution_s", "Seconds provider jobs ran (not queued)."),
    ("qtrain_exec_jobs", "jobs", "Provider jobs in those seconds, each counted once."),
)
# (metric name, _StepTotals field, help)
STEP_COUNTERS = (
    ("qtrain_steps", "steps", "Optimizer steps finished (this process)."),
    ("qtrain_shots", "shots", "Shots spent by steps (the run's ledger, this process)."),
    ("qtrain_circuits", "circuits", "Parameter rows evaluated by steps."),
    ("qtrain_step_retries", "retries", "Backend retries during steps."),
    ("qtrain_step_failures", "failures", "Failed or invalid rows during steps."),
    ("qtrain_step_cached", "cached", "Rows steps read from the result store."),
    ("qtrain_step_queue_seconds", "queue_s", "Seconds the steps' jobs waited in a queue."),
    ("qtrain_step_execution_seconds", "execution_s", "Seconds the steps' jobs ran."),
    ("qtrain_cost", "cost", "Money the steps cost under the pricing table (0 without one)."),
)
# (metric name, StepRecord attribute, help); None is exported as NaN (exact runs)
STEP_GAUGES = (
    ("qtrain_loss", "loss", "Loss measured at the last step."),
    ("qtrain_loss_stderr", "loss_stderr", "Standard error of that loss (NaN when exact)."),
    ("qtrain_grad_norm", "grad_norm", "Norm of the last gradient estimate."),
    ("qtrain_grad_norm_stderr", "grad_norm_stderr", "Standard error of that norm."),
    ("qtrain_grad_snr", "grad_snr", "Gradient norm over its shot noise (NaN when exact)."),
    ("qtrain_learning_rate", "learning_rate", "Step size of the last step."),
    ("qtrain_step_shots", "shots", "Shots the last step cost."),
    ("qtrain_step_circuits", "circuits", "Parameter rows the last step evaluated."),
    ("qtrain_run_shots", "shots_total", "Shots spent by the run so far (all sessions)."),
    ("qtrain_run_elapsed_seconds", "elapsed", "Wall time of the run so far (all sessions)."),
    ("qtrain_step_cost", "cost", "Money the last step cost (NaN without a pricing table)."),
    ("qtrain_run_cost", "cost_total", "Money the run has cost so far (all sessions)."),
    ("qtrain_calibration_age_seconds", "calibration_age_s", "Calibration age at the last step."),
    ("qtrain_readout_error", "readout_error", "Mean readout error rate of the measured qubits."),
)
# (metric name, StepRecord dict field, key, help): the last value seen (canaries and
# validations run every k steps), NaN until one is
LAST_SEEN_GAUGES = (
    ("qtrain_canary_value", "canary", "value", "The drift canary's last measured value."),
    ("qtrain_canary_reference", "canary", "reference", "The canary's reference value."),
    ("qtrain_canary_residual", "canary", "residual", "The canary's standardised residual."),
    ("qtrain_canary_statistic", "canary", "statistic", "The drift detector's statistic."),
    ("qtrain_canary_threshold", "canary", "threshold", "The detector's alarm threshold."),
    ("qtrain_validation_loss", "validation", "loss", "The validation loss last evaluated."),
    ("qtrain_validation_loss_stderr", "validation", "stderr", "Its standard error."),
    ("qtrain_loss_raw", "mitigation", "raw", "The last loss before error mitigation."),
    ("qtrain_loss_mitigated", "mitigation", "mitigated", "The last loss after mitigation."),
)
# the drift policies' actions (``StepRecord.canary["action"]``); anything else is ``other``
DRIFT_ACTIONS = ("none", "warn", "pause", "recalibrate", "fallback", "other")
# stop reasons that are not convergence (``qtrain_run_converged`` is 0 after them): the
# budgets, an interruption, a non-finite update, a drift pause and a stale calibration
NOT_CONVERGED_STOPS: tuple[str, ...] = ("max_steps", "max_shots", "max_seconds", "max_cost")
NOT_CONVERGED_STOPS += ("interrupted", "non_finite", "drift", "calibration_stale")
