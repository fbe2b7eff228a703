"""The documentation: it builds strictly, and every python block in it runs on its own, twice."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# Every page is executed: decisions.md, performance.md and operations.md hold no python blocks
# (their snippets are fenced as text or bash: fragments and shell commands, not programs).
PAGES = sorted(p.relative_to(ROOT).as_posix() for p in DOCS.rglob("*.md"))
README_BLOCKS = re.findall(r"```python\n(.+?)```", (ROOT / "README.md").read_text("utf-8"), re.S)


def docs_blocks(doc_blocks):
    return [(page, i, b) for page in PAGES for i, b in enumerate(doc_blocks.of(ROOT / page))]


def test_docs_build_strictly(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert (tmp_path / "api" / "training" / "index.html").exists()
    assert "GradientDescent" in (tmp_path / "api" / "optim" / "index.html").read_text("utf-8")


def test_docs_cover_the_guide_and_the_architecture():
    for page in ("index", "guide/getting-started", "guide/cli", "guide/qiskit", "guide/noise"):
        assert f"docs/{page}.md" in PAGES
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in PAGES:  # no page is left out of the navigation
        assert page.removeprefix("docs/") in nav, page


def test_docs_python_blocks_are_the_readmes(doc_blocks):
    """The guide repeats the README's examples: a copy that drifted would teach two APIs."""
    for page, index, block in docs_blocks(doc_blocks):
        if page.startswith("docs/guide/"):
            assert block in README_BLOCKS, f"{page} python block {index + 1} is not the README's"


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_docs_python_blocks_run_on_their_own_twice(page, doc_blocks, tmp_path):
    blocks = doc_blocks.of(ROOT / page)
    if page.startswith("docs/guide/"):
        blocks = [b for b in blocks if b not in README_BLOCKS]  # run by tests/test_readme.py
    for index, block in enumerate(blocks):
        for attempt in (1, 2):
            done = doc_blocks.run(block, tmp_path)
            assert done.returncode == 0, (
                f"{page} python block {index + 1}, run {attempt}:\n{block}\n{done.stderr[-3000:]}"
            )


def test_non_python_fences_hold_no_hidden_python():
    """A runnable-looking snippet must be fenced ``python`` (and so run) or marked as text."""
    for page in PAGES:
        text = (ROOT / page).read_text(encoding="utf-8")
        assert not re.search(r"^ *```(py|python3|pycon)\n", text, flags=re.M), page
