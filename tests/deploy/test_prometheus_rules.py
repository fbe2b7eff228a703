"""deploy/prometheus: promtool checks and tests the rules; they match the SLOs, the runbooks
and a real scrape of a qtrain run."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from qtrain.cli import app

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"


def rules():
    return [
        rule
        for group in yaml.safe_load((PROMETHEUS / "rules.yml").read_text())["groups"]
        for rule in group["rules"]
    ]


def alerts():
    return {rule["alert"]: rule for rule in rules() if "alert" in rule}


def promtool():
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing in CI: .ci/run installs Debian's prometheus package")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return path


def test_promtool_checks_the_rules():
    result = subprocess.run(
        [promtool(), "check", "rules", str(PROMETHEUS / "rules.yml")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_promtool_rule_tests_pass_and_cover_every_page_alert_firing_and_not():
    result = subprocess.run(
        [promtool(), "test", "rules", "rules_test.yml"],
        cwd=PROMETHEUS,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tests = yaml.safe_load((PROMETHEUS / "rules_test.yml").read_text())["tests"]
    checks = [check for test in tests for check in test.get("alert_rule_test", [])]
    for name, rule in alerts().items():
        if rule["labels"]["severity"] != "page":
            continue
        outcomes = [bool(c["exp_alerts"]) for c in checks if c["alertname"] == name]
        assert True in outcomes and False in outcomes, f"{name}: a test that fires and one not"


def test_a_broken_expectation_fails_promtool(tmp_path):
    """The rule tests can fail: the same file expecting no page where one fires does."""
    text = (PROMETHEUS / "rules_test.yml").read_text()
    broken = text.replace("      - eval_time: 90m\n", "      - eval_time: 50m\n", 1)
    assert broken != text
    (tmp_path / "rules.yml").write_text((PROMETHEUS / "rules.yml").read_text())
    (tmp_path / "rules_test.yml").write_text(broken)
    result = subprocess.run(
        [promtool(), "test", "rules", "rules_test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0 and "QtrainJobErrorBudgetBurn" in result.stdout + result.stderr


def test_every_alert_has_a_severity_summary_and_a_runbook_that_names_qtrain_commands():
    found = alerts()
    assert {rule["labels"]["severity"] for rule in found.values()} == {"page", "ticket"}
    index = (ROOT / "docs" / "runbooks" / "index.md").read_text()
    for name, rule in found.items():
        assert rule["annotations"]["summary"]
        url = rule["annotations"]["runbook_url"]
        assert url == f"docs/runbooks/{name}.md"
        text = (ROOT / url).read_text()
        for heading in ("## What it means", "## How to confirm it", "## What to do"):
            assert heading in text, (name, heading)
        assert re.search(r"`qtrain (report|store info|plan|resume) ", text), name
        assert f"]({name}.md)" in index
    books = {p.stem for p in (ROOT / "docs" / "runbooks").glob("Qtrain*.md")}
    assert books == set(found)  # no runbook of an alert that no longer exists


def test_runbook_commands_exist_in_the_cli():
    commands = set()
    for path in (ROOT / "docs" / "runbooks").glob("*.md"):
        commands |= set(re.findall(r"`qtrain (\w+(?: info)?)", path.read_text()))
    runner = CliRunner()
    for command in commands:
        result = runner.invoke(app, [*command.split(), "--help"])
        assert result.exit_code == 0, (command, result.output)


def test_every_metric_a_rule_uses_is_in_a_real_scrape(real_scrape, promql_names):
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    exported = real_scrape["hardware"]
    for rule in rules():
        names = promql_names(rule["expr"])
        assert names, rule
        missing = names - exported - recorded
        assert not missing, (rule.get("alert", rule.get("record")), sorted(missing))
    # the hardware-only families are absent from a plain simulator run: exactly these
    conditional = {n for rule in rules() for n in promql_names(rule["expr"])} - recorded
    assert conditional - real_scrape["plain"] == {"qtrain_budget_cost"}


def test_the_rules_implement_slos_yml():
    slos = yaml.safe_load((PROMETHEUS / "slos.yml").read_text())["slos"]
    by_record = {}
    for rule in rules():
        if "record" in rule:
            key = (rule["record"], tuple(sorted(rule.get("labels", {}).items())))
            by_record[key] = " ".join(rule["expr"].split())
    found = alerts()
    for slo in slos:
        sli, budget = slo["sli"], 1 - slo["objective"] / 100
        labels = tuple(sorted(sli.get("labels", {}).items()))
        for severity, spec in slo["alerts"].items():
            alert = found[spec["alert"]]
            assert alert["labels"]["severity"] == severity
            expr = " ".join(alert["expr"].split())
            for window in spec["windows"]:
                for span in (window["long"], window["short"]):
                    record = sli["record"].replace("$window", span)
                    query = " ".join(sli["error_ratio"].replace("$window", span).split())
                    assert by_record[(record, labels)] == query, (slo["name"], record)
                    burn = window["burn_rate"]
                    limit = f"({burn} * {budget:.2g})" if slo["kind"] == "error-ratio" else burn
                    assert f"{record} > {limit}" in expr, (spec["alert"], record, limit)


def _hours(span):
    return float(span[:-1]) * {"m": 1 / 60, "h": 1.0, "d": 24.0}[span[-1]]


def test_burn_rates_spend_the_budget_share_slos_yml_names_over_the_slo_window():
    """burn_rate = budget_share × window / long window (30 days: 2 % in 1 h is 14.4)."""
    checked = 0
    for slo in yaml.safe_load((PROMETHEUS / "slos.yml").read_text())["slos"]:
        if slo["kind"] != "error-ratio":
            continue  # a budget's pace is relative to the run's own time budget
        window = _hours(slo["window"])
        for spec in slo["alerts"].values():
            for span in spec["windows"]:
                expected = span["budget_share"] * window / _hours(span["long"])
                assert span["burn_rate"] == pytest.approx(expected), (slo["name"], span)
                checked += 1
    assert checked == 4
