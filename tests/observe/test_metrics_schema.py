from pathlib import Path

from qtrain.observe.metrics_schema import EXECUTOR_COUNTERS, STEP_COUNTERS, STEP_GAUGES

ROOT = Path(__file__).resolve().parents[2]


def test_metric_names_are_unique_prefixed_and_documented():
    names = [name for name, _, _ in (*EXECUTOR_COUNTERS, *STEP_COUNTERS, *STEP_GAUGES)]
    assert len(names) == len(set(names)) and all(n.startswith("qtrain_") for n in names)
    doc = (ROOT / "docs" / "operations.md").read_text()
    counters = [name for name, _, _ in (*EXECUTOR_COUNTERS, *STEP_COUNTERS)]
    missing = [n for n in names if f"`{n}{'_total' if n in counters else ''}`" not in doc]
    assert missing == []
    assert all(text.endswith(".") for _, _, text in (*EXECUTOR_COUNTERS, *STEP_COUNTERS))
