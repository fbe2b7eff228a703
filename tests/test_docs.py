"""The documentation: it builds strictly, and every python block in it runs on its own, twice.

The user guide's prose is the README's: guide pages include marked README sections
(``--8<-- "README.md:name"``, pymdownx.snippets) rather than copying them. The tests read a
page as MkDocs renders it (:func:`resolved`), so the included blocks are checked as well; the
README's own python blocks run once, in ``tests/test_readme.py``.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
# Every page is executed: decisions.md, performance.md and operations.md hold no python blocks
# (their snippets are fenced as text or bash: fragments and shell commands, not programs).
PAGES = sorted(p.relative_to(ROOT).as_posix() for p in DOCS.rglob("*.md"))
GUIDE = [page for page in PAGES if page.startswith("docs/guide/")]
README_BLOCKS = re.findall(r"```python\n(.+?)```", README.read_text("utf-8"), re.S)
MARKER = re.compile(r"<!-- --8<-- \[(start|end):([a-z][-_0-9a-z]*)\] -->")
INCLUDE = re.compile(r'--8<-- "README\.md:([a-z][-_0-9a-z]*)"')


def readme_sections():
    """``{name: text}``: the README's marked sections, as pymdownx.snippets extracts them."""
    sections, current = {}, None
    for line in README.read_text("utf-8").splitlines(keepends=True):
        marker = MARKER.fullmatch(line.strip())
        if marker is not None:
            kind, name = marker.groups()
            current = name if kind == "start" else None
            sections.setdefault(name, "")
            continue
        if current is not None:
            sections[current] += line
    return sections


def includes(page):
    """The README sections ``page`` includes, in order."""
    text = (ROOT / page).read_text("utf-8")
    return [m.group(1) for line in text.splitlines() if (m := INCLUDE.fullmatch(line.strip()))]


def resolved(page):
    """``page`` as MkDocs renders it: each include line replaced by its README section."""
    sections = readme_sections()
    lines = (ROOT / page).read_text("utf-8").splitlines(keepends=True)
    return "".join(
        sections[m.group(1)] if (m := INCLUDE.fullmatch(line.strip())) else line for line in lines
    )


def page_blocks(page, doc_blocks, folder):
    """The python blocks of ``page`` as rendered (includes resolved)."""
    copy = folder / "page.md"
    copy.write_text(resolved(page), encoding="utf-8")
    return doc_blocks.of(copy)


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
    started = (tmp_path / "guide" / "getting-started" / "index.html").read_text("utf-8")
    assert "Two commands on a fresh machine" in started  # the README's section, included
    for page in GUIDE:
        built = tmp_path / page.removeprefix("docs/").removesuffix(".md") / "index.html"
        html = built.read_text("utf-8")
        assert "8&lt;" not in html and "[start:" not in html, page  # no include line shows


def test_docs_cover_the_guide_and_the_architecture():
    for page in ("index", "guide/getting-started", "guide/cli", "guide/qiskit", "guide/noise"):
        assert f"docs/{page}.md" in PAGES
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in PAGES:  # no page is left out of the navigation
        assert page.removeprefix("docs/") in nav, page


def test_guide_pages_include_the_readme_instead_of_copying_it():
    """Each README section is in the guide once, by inclusion; no README paragraph is copied."""
    sections = readme_sections()
    assert sections and all(text.strip() for text in sections.values())
    included = [name for page in PAGES for name in includes(page)]
    assert sorted(included) == sorted(sections), "each README section included exactly once"
    paragraphs = [
        block
        for block in re.split(
            r"\n\s*\n", re.sub(r"```.*?```", "", README.read_text("utf-8"), flags=re.S)
        )
        if block.count("\n") >= 1 and not MARKER.search(block)
    ]
    assert len(paragraphs) > 20
    for page in GUIDE:
        text = (ROOT / page).read_text("utf-8")
        copied = [block for block in paragraphs if block.strip() in text]
        assert not copied, f"{page} copies README prose: {copied[0][:200]!r}"


def test_included_python_blocks_are_the_readmes_run_there(doc_blocks, tmp_path):
    """What a guide page includes is checked once, by tests/test_readme.py."""
    for page in GUIDE:
        for name in includes(page):
            body = readme_sections()[name]
            for block in re.findall(r"^```python\n(.+?)^```", body, flags=re.S | re.M):
                assert block in README_BLOCKS, (page, name)
                assert block in page_blocks(page, doc_blocks, tmp_path), (page, name)


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_docs_python_blocks_run_on_their_own_twice(page, doc_blocks, tmp_path):
    blocks = [b for b in page_blocks(page, doc_blocks, tmp_path) if b not in README_BLOCKS]
    # (a README block a page includes runs in tests/test_readme.py)
    for index, block in enumerate(blocks):
        for attempt in (1, 2):
            done = doc_blocks.run(block, tmp_path)
            assert done.returncode == 0, (
                f"{page} python block {index + 1}, run {attempt}:\n{block}\n{done.stderr[-3000:]}"
            )


def test_non_python_fences_hold_no_hidden_python():
    """A runnable-looking snippet must be fenced ``python`` (and so run) or marked as text."""
    for page in PAGES:
        text = resolved(page)
        assert not re.search(r"^ *```(py|python3|pycon)\n", text, flags=re.M), page
