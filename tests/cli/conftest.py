import errno
import os

import pytest
import yaml


@pytest.fixture
def write_config():
    """Write a small run config (2-qubit VQE, sampled gradients) with ``overrides``."""

    def write(tmp_path, **overrides):
        config = {
            "name": "cli-test",
            "seed": 3,
            "circuit": {"ansatz": "hardware_efficient", "n_qubits": 2, "layers": 1},
            "observable": "Z0 + Z1",
            "theta0": [0.4, 0.4, 0.4, 0.4],
            "optimizer": {"name": "adam", "learning_rate": 0.1},
            "gradient": {"method": "param-shift", "shots": 200},
            "budget": {"max_steps": 8},
            "run": {"dir": str(tmp_path / "runs")},
            **overrides,
        }
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    return write


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
