"""A real scrape of a short faulty run, for checking the deploy files against it.

The run is a real training run on the ``faulty`` backend (failures, throttling, partial
results, recalibrations); a tracker between the run and its ``MetricsTracker`` fills in the
fields only hardware, pricing tables, canaries, validation and mitigation produce (cost,
calibration age, readout error, canary, validation, mitigation, a backend switch), so every
metric family qtrain can export is in the scrape with the executor's real counters.
"""

import dataclasses
import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from qtrain.app.config import parse_config
from qtrain.app.runner import train_from_config
from qtrain.observe.metrics import MetricsTracker

FAULTY = {
    "name": "deploy-faulty",
    "seed": 5,
    "problem": {"name": "maxcut", "edges": [[0, 1], [1, 2], [2, 0]], "layers": 1},
    "optimizer": {"name": "adam", "learning_rate": 0.05},
    "gradient": {"method": "param-shift", "shots": 100},
    "budget": {"max_steps": 4, "max_shots": 2_000_000, "max_seconds": 3600},
    "backend": {
        "name": "faulty",
        "seed": 3,
        "failure_rate": 0.25,
        "throttle_rate": 0.1,
        "partial_rate": 0.2,
        "retry_after_s": 0.001,
        "recalibrate_every": 2,
    },
    "executor": {
        "retry": {"attempts": 40, "initial_s": 0.001, "max_s": 0.005, "jitter_s": 0.001},
        "max_rows": 3,
    },
}


class OnHardware:
    """Passes a run's records to ``metrics`` with the fields of a priced hardware run set."""

    def __init__(self, metrics):
        self.metrics = metrics

    def bind(self, context):
        priced = dataclasses.replace(context.budget, max_cost=50.0)
        self.metrics.bind(dataclasses.replace(context, budget=priced))

    def start(self, info):
        self.metrics.start(info)

    def log(self, record):
        step = record.step
        self.metrics.log(
            dataclasses.replace(
                record,
                backend="ibm_a" if step < 2 else "ibm_b",  # a fallback after step 1
                queue_s=30.0,
                execution_s=2.0,
                cost=0.01 * record.shots,
                cost_total=0.01 * record.shots_total,
                calibration_age_s=3600.0 * (step + 1),
                readout_error=0.03,
                canary=(
                    {
                        "value": -0.9,
                        "stderr": 0.02,
                        "reference": -1.0,
                        "residual": 5.0,
                        "statistic": 6.0,
                        "threshold": 5.0,
                        "drift": True,
                        "action": "warn",
                        "shots": 200,
                    }
                    if step % 2
                    else None
                ),
                validation={"loss": -0.8, "stderr": 0.03, "shots": 100},
                mitigation={"raw": -0.7, "mitigated": -0.9},
            )
        )

    def finish(self, summary):
        self.metrics.finish(summary)


@pytest.fixture(scope="session")
def real_scrape(tmp_path_factory):
    """``{"plain": names, "hardware": names, "text": ...}`` of the faulty run's scrapes."""
    run_dir = tmp_path_factory.mktemp("deploy") / "run"
    plain, hardware = MetricsTracker(), MetricsTracker()
    train_from_config(parse_config(FAULTY), run_dir=run_dir, trackers=[plain, OnHardware(hardware)])
    names = {}
    for kind, tracker in (("plain", plain), ("hardware", hardware)):
        text = tracker.render()
        names[kind] = {
            sample.name
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }
        names[f"{kind}_text"] = text
    names["run_id"] = run_dir.name
    return names


PROMQL_WORDS = {
    *"sum min max avg count rate irate increase delta deriv histogram_quantile".split(),
    *"clamp_min clamp_max by without on ignoring group_left group_right and or unless".split(),
    *"bool offset time abs max_over_time min_over_time avg_over_time changes resets".split(),
    *"topk bottomk label_values vector scalar absent sort sort_desc last_over_time".split(),
    *"timestamp round e inf nan s m h d".split(),
}


def metric_names(expr):
    """The metric names a PromQL expression uses (labels, strings, functions removed)."""
    text = re.sub(r"\$\{?\w+\}?", "", expr)  # Grafana variables
    text = re.sub(r'"[^"]*"', "", text)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"label_values\(\s*(\w*)\s*,\s*\w+\s*\)", r"\1", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    words = re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", text)
    return {w for w in words if w.lower() not in PROMQL_WORDS}


@pytest.fixture(scope="session")
def promql_names():
    """:func:`metric_names`, for the test modules."""
    return metric_names
