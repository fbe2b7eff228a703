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
