import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quick_start_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section, flags=re.S)


def test_readme_quick_start_is_exactly_two_commands():
    commands = quick_start_commands()
    assert len(commands) == 2
    assert all("\n" not in c for c in commands)
    assert commands[0].endswith("qtrain quickstart")


def test_readme_test_command_is_what_ci_runs():
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert quick_start_commands()[1] in ci_lines


def test_readme_python_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples write a result store under runs/
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.+?)```", text, flags=re.S)
    assert len(blocks) >= 2
    namespace: dict[str, object] = {}
    for block in blocks:  # later blocks use the names of earlier ones, as a reader would
        exec(compile(block.replace("print(", "str("), "README", "exec"), namespace)
    qt = namespace["qt"]
    assert abs(qt.expval(namespace["c"], namespace["H"], namespace["theta"]) - 0.4998669) < 1e-6
    assert len(namespace["plan"].circuits) > 1
    assert (tmp_path / "runs" / "demo" / "results.sqlite").exists()
    assert namespace["fit"].plateau and namespace["result"].stopped_by == "plateau"
    assert (tmp_path / "runs" / "plateau.png").exists()
