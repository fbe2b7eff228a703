"""deploy/grafana/qtrain.json: generated, and every metric a panel queries is in a real scrape."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "qtrain.json"


def dashboard_queries():
    dashboard = json.loads(DASHBOARD.read_text())
    panels, queries = [], []

    def walk(items):
        for panel in items:
            panels.append(panel)
            walk(panel.get("panels", []))

    walk(dashboard["panels"])
    for panel in panels:
        if panel["type"] == "row":
            continue
        assert panel.get("targets"), panel["title"]
        queries += [(panel["title"], t["expr"]) for t in panel["targets"]]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            queries.append((variable["name"], query if isinstance(query, str) else query["query"]))
    return panels, queries


def test_every_dashboard_panel_uses_only_metrics_found_in_a_real_scrape(real_scrape, promql_names):
    panels, queries = dashboard_queries()
    rows = [p["title"].split(":")[0].lower() for p in panels if p["type"] == "row"]
    assert rows == ["overview", "on-call", "debug", "hardware"]
    used = set()
    for title, expr in queries:
        names = promql_names(expr)
        assert names, (title, expr)
        missing = names - real_scrape["hardware"]
        assert not missing, f"panel {title!r} uses {sorted(missing)}, not in the scrape"
        used |= names
    # only the money budget needs a priced run; everything else a simulator run exports
    assert used - real_scrape["plain"] == {"qtrain_budget_cost"}
    assert len(used) >= 40  # the four views cover most of what is exported
    for new in ("qtrain_exec_queue_seconds_total", "qtrain_run_cost", "qtrain_canary_residual"):
        assert new in used
    assert promql_names('sum by (run_id) (rate(qtrain_x_total{a="b"}[5m])) / qtrain_y') == {
        "qtrain_x_total",
        "qtrain_y",
    }
    assert promql_names('label_values(qtrain_z{a=~"$a"}, run_id)') == {"qtrain_z"}


def test_the_dashboard_file_is_what_the_generator_writes():
    code = (
        "import json, sys; sys.path.insert(0, 'tools'); import gen_grafana_dashboard as g; "
        "sys.stdout.write(json.dumps(g.dashboard(), indent=2, ensure_ascii=False) + '\\n')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, check=True, timeout=60
    ).stdout.decode("utf-8")
    assert out == DASHBOARD.read_text(encoding="utf-8"), "run python tools/gen_grafana_dashboard.py"
