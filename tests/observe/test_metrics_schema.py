from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from qtrain.observe.metrics import MetricsTracker
from qtrain.observe.metrics_schema import (
    EXECUTOR_COUNTERS,
    LAST_SEEN_GAUGES,
    STEP_COUNTERS,
    STEP_GAUGES,
)
from qtrain.testing import make_record

ROOT = Path(__file__).resolve().parents[2]


def test_metric_names_are_unique_prefixed_and_documented():
    names = [name for name, _, _ in (*EXECUTOR_COUNTERS, *STEP_COUNTERS, *STEP_GAUGES)]
    assert len(names) == len(set(names)) and all(n.startswith("qtrain_") for n in names)
    doc = (ROOT / "docs" / "operations.md").read_text()
    counters = [name for name, _, _ in (*EXECUTOR_COUNTERS, *STEP_COUNTERS)]
    missing = [n for n in names if f"`{n}{'_total' if n in counters else ''}`" not in doc]
    assert missing == []
    assert all(text.endswith(".") for _, _, text in (*EXECUTOR_COUNTERS, *STEP_COUNTERS))


def test_every_exported_family_is_documented():
    """What a scrape of a tracker with every field set exports is in operations.md's table."""
    tracker = MetricsTracker(run_id="doc")
    tracker.start({"settings": {}})
    tracker.log(make_record(0, canary={"residual": 1.0, "drift": True, "action": "warn"}))
    doc = (ROOT / "docs" / "operations.md").read_text()
    names = {f.name for f in text_string_to_metric_families(tracker.render())}
    counters = {
        f.name for f in text_string_to_metric_families(tracker.render()) if f.type == "counter"
    }
    infos = {f.name for f in text_string_to_metric_families(tracker.render()) if f.type == "info"}
    missing = []
    for name in names:
        shown = name + ("_total" if name in counters else "_info" if name in infos else "")
        if f"`{shown}`" not in doc and f"`{name}`" not in doc:
            missing.append(shown)
    assert missing == []
    assert all(text.endswith(".") for *_, text in LAST_SEEN_GAUGES)
