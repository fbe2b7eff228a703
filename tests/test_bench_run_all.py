"""bench/run_all.py: docs/performance.md is exactly what the JSON results render to.

Nothing here runs a benchmark: the renderer reads JSON only, and the one test of the run mode
replaces the subprocess call.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import _results  # noqa: E402 - bench/ is not a package
import run_all  # noqa: E402 - bench/ is not a package

META = {
    "machine": {"cpu": "Test CPU 9000", "cpu_count": 3, "memory_gib": 7.5, "platform": "x"},
    "python": "3.11.0",
    "versions": {"qtrain": "9.9.9", "numpy": "1.0"},
    "commit": "abc1234 a subject",
    "src_uncommitted_changes": [],
    "timestamp": "2026-01-02T03:04:05+00:00",
}


def timing(seconds, **extra):
    return {"median_s": seconds, "time_s": seconds, "median_s_512": seconds * 100, **extra}


def synthetic():
    """``{file name: data}``: one small result per benchmark, in each script's own schema."""
    expval = {
        "n": 4,
        "layers": 1,
        "params": 8,
        "libs": {
            k: {"single": timing(t), "batch": timing(t)}
            for k, t in (("qtrain", 0.001), ("lightning-loop", 0.004), ("aer", 0.01))
        },
    }
    times = {"qtrain-ps": 0.002, "lightning-ps": 0.05, "qtrain-adj": 0.001, "aer-ps": 0.02}
    grad = {"n": 4, "layers": 1, "params": 8, "methods": {k: timing(t) for k, t in times.items()}}
    noise_lib = {"mode": "full", "expval": {"s": 0.01}, "grad": {"s": 0.1}}
    return {
        "expval.json": {"results": [expval], "targets": ["(a) n=4: MET", "(b) n=20: MISSED"]},
        "grad.json": {"results": [grad], "targets": ["n=4: MET"]},
        **{
            f"adjoint-ab-n{n}.json": {
                "n": n,
                "layers": 2,
                "max_abs_diff": 0.0,
                "ratio_of_medians": 0.5,
                "times_s": {"qtrain-adj": [0.1, 0.2, 0.3], "lightning-adj": [0.4, 0.4, 0.4]},
            }
            for n in (12, 16, 20)
        },
        "exec.json": {
            "cases": [
                {
                    "n": 4,
                    "layers": 1,
                    "shots": None,
                    "rows": 17,
                    "variants": {
                        "direct": {"median_s": 0.001},
                        "executor": {"median_s": 0.0011, "overhead": 0.1},
                        "store": {"median_s": 0.002, "overhead": 1.0},
                    },
                }
            ],
            "dask": None,
        },
        "store.json": {
            "calls": 5,
            "results": [{"rows": 33, "durability": "full", "commit_s": 3e-4, "read_s": 1e-4}],
        },
        "long-run.json": {
            "steps": 100,
            "first": {"median_ms": 2.0},
            "last": {"median_ms": 2.2},
            "ratio_median": 1.1,
            "checkpoint_bytes": 1234,
            "resume_s": 0.5,
        },
        "observe.json": {
            "steps": 40,
            "plain": {"median_s": 0.5},
            "mlflow": {"median_s": 1.0},
            "scrape_median_s": 0.001,
            "report_median_s": 1.2,
        },
        "noise.json": {
            "results": [
                {
                    "n": 4,
                    "params": 16,
                    "libs": {"qtrain-dm": noise_lib, "aer-dm": {**noise_lib, "mode": "part"}},
                }
            ]
        },
        "mitigation.json": {"table": "| n | qtrain |\n|---|---|\n| 2 | 6.5 ms |"},
        "plateau.json": {
            "rows": [
                {
                    "n": 2,
                    "variance": 0.015,
                    "qtrain": 0.5,
                    "qtrain-dask": 2.0,
                    "pl-lightning": {"seconds": 4.5, "extrapolated": True},
                }
            ],
            "totals": {"qtrain": 0.5},
        },
        "qiskit-bridge.json": {"table": "| n | bridge |\n|---|---|\n| 4 | 358.5 ms |"},
        "torch.json": {"results": [{"mode": "weights", "n": 4, "qtrain_ps_s": 0.0105}]},
        "plan.json": [{"config": "h2_vqe", "ratio": 1.3}],
        "precision.json": {"rows": [{"n": 16, "double_s": 0.2, "single_s": 0.1}]},
    }


@pytest.fixture
def results(tmp_path):
    for name, data in synthetic().items():
        body = data if isinstance(data, dict) else {"results": data}
        (tmp_path / name).write_text(json.dumps(body | {"meta": META}), encoding="utf-8")
    return tmp_path


def sections(text):
    return text.split("\n## ")[1:]


def test_run_all_renders_every_table_from_synthetic_results(results):
    text = run_all.render(results)
    assert text == run_all.render(results)  # deterministic: nothing but the files goes in
    parts = sections(text)
    assert len(parts) == len(run_all.BENCHES)
    for bench, part in zip(run_all.BENCHES, parts, strict=True):
        assert part.startswith(f"{bench.title} (`bench/{bench.script}`)")
        assert "No results yet" not in part
        assert "Test CPU 9000, 3 CPUs, 7.5 GiB" in part
        assert "qtrain 9.9.9" in part
        assert "commit: abc1234" in part
        assert "2026-01-02T03:04:05+00:00" in part
        table = [line for line in part.splitlines() if line.startswith("|")]
        assert len(table) >= 3, bench.key  # header, rule and at least one row
        assert part.rstrip().splitlines()[-1].strip(), bench.key  # a reading follows
    for needle in ("None", "nan", "{", "}"):
        assert needle not in text.split("-->", 1)[1]
    assert "| 1 ms | 4 ms (4.0×) | 10 ms (10.0×) |" in text  # single: qtrain, lightning, Aer
    assert "1 of 2 met; missed: (b) n=20: MISSED" in text


def test_run_all_names_a_missing_benchmark_and_how_to_run_it(tmp_path):
    text = run_all.render(tmp_path)
    assert text.count("No results yet") == len(run_all.BENCHES)
    assert "`python bench/bench_grad.py --json bench/results/grad.json`" in text


def test_run_all_prefers_the_benchmarks_own_files_over_legacy_ones(results):
    grad = next(b for b in run_all.BENCHES if b.key == "grad")
    (results / grad.legacy[0]).write_text(json.dumps({"results": []}), encoding="utf-8")
    assert [name for name, _ in run_all.files_for(grad, results)] == ["grad.json"]
    (results / "grad.json").unlink()
    assert [name for name, _ in run_all.files_for(grad, results)] == [grad.legacy[0]]


def test_run_all_from_results_renders_the_repository_results_without_running(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"ran {args}")

    monkeypatch.setattr(subprocess, "run", refuse)
    out = tmp_path / "performance.md"
    assert run_all.main(["--from-results", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.count("\n## ") == len(run_all.BENCHES)
    assert "| n | L | P | qtrain-ps |" in text  # the gradient table, from bench/results


def test_run_all_docs_performance_is_exactly_what_renders():
    doc = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    assert doc == run_all.render(), "run: python bench/run_all.py --from-results"


def test_run_all_check_reports_a_stale_page(tmp_path, results):
    out = tmp_path / "page.md"
    out.write_text("# hand-edited\n", encoding="utf-8")
    assert run_all.main(["--check", "--results", str(results), "--out", str(out)]) == 1
    assert run_all.main(["--from-results", "--results", str(results), "--out", str(out)]) == 0
    assert run_all.main(["--check", "--results", str(results), "--out", str(out)]) == 0


def test_run_all_runs_each_script_with_its_result_file(tmp_path, results, monkeypatch):
    ran = []

    def fake(command, **kwargs):
        ran.append(command[1:])
        return subprocess.CompletedProcess(command, 0 if "bench_store.py" in command[1] else 3)

    monkeypatch.setattr(subprocess, "run", fake)
    out = tmp_path / "page.md"
    argv = ["--only", "store,adjoint-ab", "--results", str(results), "--out", str(out)]
    assert run_all.main(argv) == 1  # the adjoint runs "failed": reported, page still written
    scripts = [Path(c[0]).name for c in ran]
    assert scripts == ["bench_adjoint_ab.py"] * 3 + ["bench_store.py"]
    assert ran[-1][1:] == ["--json", "bench/results/store.json"]
    assert out.exists()


def test_run_all_rejects_an_unknown_benchmark():
    with pytest.raises(SystemExit):
        run_all.main(["--only", "nonsense"])


def test_results_write_adds_meta_that_describe_reads_back(tmp_path):
    path = _results.write(tmp_path / "x.json", {"value": 1})
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["value"] == 1
    facts = _results.describe(data)
    assert facts["commit"] != _results.UNKNOWN and len(facts["commit"].split()[0]) >= 7
    assert facts["timestamp"].startswith("20")
    assert f"{data['meta']['machine']['cpu_count']} CPUs" in facts["machine"]
    rows = json.loads(_results.write(tmp_path / "y.json", [1, 2]).read_text(encoding="utf-8"))
    assert rows["results"] == [1, 2] and "meta" in rows


def test_results_describe_reads_files_written_before_the_meta_block():
    old = {
        "env": {
            "python": "3.11.7",
            "versions": {"qtrain": "0.1.0"},
            "cpu": "AMD EPYC",
            "cpu_count": 2,
            "qtrain_commit": "1cae44c Adjoint: ...",
            "src_uncommitted_changes": ["M src/x.py"],
        }
    }
    facts = _results.describe(old)
    assert facts == {
        "machine": "AMD EPYC, 2 CPUs",
        "versions": "Python 3.11.7, qtrain 0.1.0",
        "commit": "1cae44c (+1 uncommitted files under src/)",
        "timestamp": _results.UNKNOWN,
    }
    assert set(_results.describe({"n": 16}).values()) == {_results.UNKNOWN}
