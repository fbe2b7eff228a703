import re
from pathlib import Path

import pytest

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


def readme_blocks():
    return re.findall(
        r"```python\n(.+?)```", (ROOT / "README.md").read_text(encoding="utf-8"), flags=re.S
    )


def test_readme_has_the_python_blocks_it_promises(doc_blocks):
    blocks = doc_blocks.of(ROOT / "README.md")
    assert len(blocks) >= 10
    assert blocks == readme_blocks()  # no python block hides from the runner (indented, odd fence)


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(readme_blocks())))
def test_readme_python_block_runs_on_its_own_twice(index, doc_blocks, tmp_path):
    """Each block, alone in a fresh interpreter, runs twice in the same folder.

    A fresh interpreter: a block that uses a name from an earlier block fails. Twice in one
    folder: a block that writes to a fixed run folder (the second run would find the first's
    run) fails.
    """
    block = doc_blocks.of(ROOT / "README.md")[index]
    for attempt in (1, 2):
        done = doc_blocks.run(block, tmp_path)
        assert done.returncode == 0, (
            f"README python block {index + 1}, run {attempt}:\n{block}\n{done.stderr[-3000:]}"
        )


def test_readme_first_block_prints_what_it_says(doc_blocks, tmp_path):
    block = doc_blocks.of(ROOT / "README.md")[0]
    done = doc_blocks.run(block + "\nprint(repr(qt.expval(c, H, theta)))\n", tmp_path)
    assert done.returncode == 0, done.stderr
    assert abs(float(done.stdout.strip().splitlines()[-1]) - 0.4998669) < 1e-6


def test_readme_names_the_config_names_of_its_optimizers():
    import qtrain as qt  # noqa: PLC0415 - the registry is what configs accept

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, cls in qt.optim.OPTIMIZERS.items():
        assert f"`{cls.__name__}`" in text, cls.__name__
        assert f"(`{name}`" in text, f"{cls.__name__}: config name {name!r} missing"


def test_readme_links_the_architecture_in_the_repository():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "../shared" not in text
    assert "(docs/architecture.md)" in text and (ROOT / "docs" / "architecture.md").exists()


def test_readme_json_sentence_is_true():
    from typer.testing import CliRunner  # noqa: PLC0415

    from qtrain.cli import app  # noqa: PLC0415

    text = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "Every command but the `store` ones takes `--json`." in text
    runner = CliRunner()
    json_commands = ("train", "resume", "grad", "plan", "problems", "plateau", "report")
    for command in (*json_commands, "quickstart"):
        assert "--json" in runner.invoke(app, [command, "--help"]).output, command
    for command in (["store", "info"], ["store", "prune"], ["store", "prune-jobs"]):
        assert "--json" not in runner.invoke(app, [*command, "--help"]).output


def test_readme_sections_for_the_guide_are_invisible_paired_markers():
    """The guide includes README sections (docs/guide/*.md); on GitHub the markers are hidden.

    Each marker is a whole-line HTML comment with a blank line on its inner side, and each
    section opens once and closes once, not inside another and not inside a code block.
    """
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    marker = re.compile(r"<!-- --8<-- \[(start|end):([a-z][-_0-9a-z]*)\] -->")
    opened, names, fenced = None, [], False
    for number, line in enumerate(lines):
        fenced ^= line.startswith("```")
        if "8<" not in line:
            continue
        found = marker.fullmatch(line)
        assert found and not fenced, f"README line {number + 1}: {line!r}"
        kind, name = found.groups()
        if kind == "start":
            assert opened is None and name not in names, name
            assert lines[number + 1] == "" and lines[number - 1] == "", name
            opened = name
            names.append(name)
        else:
            assert opened == name, name
            assert lines[number - 1] == "" and lines[number + 1 : number + 2] in ([], [""]), name
            opened = None
    assert opened is None and len(names) >= 4, names
