"""Fixtures shared across test packages."""

import shutil
import subprocess

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
