"""Fixtures shared across test packages."""

import errno
import os
import re
import shutil
import subprocess
import sys

import pytest


class Tmpfs:
    """A real tmpfs mounted for one test: resized or made read-only with ``remount``."""

    def __init__(self, path):
        self.path = path

    def remount(self, options: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{options}", str(self.path)], check=True)


@pytest.fixture
def tmpfs(tmp_path):
    """A 64 KiB tmpfs (root with CAP_SYS_ADMIN, as on the developers' machines and CI).

    Failures of the file system itself — full, read-only — hit root too, unlike file modes.
    """
    mount = tmp_path / "mnt"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0 or shutil.which("umount") is None:
        pytest.skip("cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)")
    try:
        yield Tmpfs(mount)
    finally:
        subprocess.run(["umount", str(mount)], check=False)


@pytest.fixture
def fill_disk(monkeypatch):
    """``fill_disk(name, after=n)``: writes to files named like ``name`` fail after ``n`` of them.

    The failing write puts half its bytes on disk, then raises ENOSPC, as a full file system
    does. ``monkeypatch.undo()`` frees the disk.
    """
    real_open, real_write, real_close, paths = os.open, os.write, os.close, {}
    rules = []

    def fake_open(path, flags, *args, **kwargs):
        fd = real_open(path, flags, *args, **kwargs)
        paths[fd] = os.path.basename(os.fspath(path))
        return fd

    def fake_write(fd, data):
        for rule in rules:
            if rule["name"] in paths.get(fd, ""):
                rule["seen"] += 1
                if rule["seen"] > rule["after"]:
                    real_write(fd, bytes(data[: len(data) // 2]))
                    raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    def fake_close(fd):
        paths.pop(fd, None)
        return real_close(fd)

    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(os, "write", fake_write)
    monkeypatch.setattr(os, "close", fake_close)
    return lambda name, *, after=0: rules.append({"name": name, "after": after, "seen": 0})


class DocBlocks:
    """The python blocks of a Markdown file, each run on its own as a reader would run it.

    Each block runs in a fresh interpreter (``python -c``) in the given folder, so a block
    that leans on an earlier block's names, or on a file an earlier run left behind, fails.
    """

    FENCE = re.compile(r"^( *)```python\n(.+?)^\1```", flags=re.S | re.M)

    @classmethod
    def of(cls, path) -> list[str]:
        """The python-fenced blocks of ``path``, dedented (fences in lists are code too)."""
        text = path.read_text(encoding="utf-8")
        return [
            "".join(line[len(indent) :] for line in body.splitlines(keepends=True))
            for indent, body in cls.FENCE.findall(text)
        ]

    @staticmethod
    def run(block: str, cwd, *, timeout: float = 300.0) -> subprocess.CompletedProcess:
        """Run ``block`` in a fresh interpreter in ``cwd``: headless, warnings as errors."""
        env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "error"}
        return subprocess.run(
            [sys.executable, "-c", block],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture
def doc_blocks():
    """`DocBlocks`: extract and run the python blocks of a Markdown file."""
    return DocBlocks
