"""The ``fallback:`` and ``calibration:`` config sections (app/operations_config.py)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from qtrain.app.build import make_executor, prepare
from qtrain.app.config import FaultyBackendConfig, LocalBackendConfig, parse_config
from qtrain.app.hooks_config import config_hooks
from qtrain.app.operations_config import seconds
from qtrain.app.runner import resume_from_dir, train_from_config
from qtrain.errors import ConfigError
from qtrain.train.fallback import BackendFallback

CUSTOM = {
    "name": "ops",
    "seed": 4,
    "circuit": {"ansatz": "hardware_efficient", "n_qubits": 2, "layers": 1},
    "observable": "Z0 Z1 + 0.5 X1",
    "optimizer": {"name": "adam", "learning_rate": 0.05},
    "gradient": {"method": "param-shift", "shots": 100},
    "budget": {"max_steps": 3},
    "executor": {"retry": {"attempts": 2, "initial_s": 0, "max_s": 0, "jitter_s": 0}},
}
BROKEN = {"name": "faulty", "seed": 1, "failure_rate": 1.0}


def test_sections_parse_with_units_and_local_by_default() -> None:
    config = parse_config(
        {
            **CUSTOM,
            "fallback": [{"method": "statevector"}, {"name": "faulty", "failure_rate": 0.1}],
            "calibration": {"max_age": "6h", "policy": "refuse"},
        }
    )
    first, second = config.fallback
    assert isinstance(first, LocalBackendConfig) and first.method == "statevector"
    assert isinstance(second, FaultyBackendConfig)
    assert config.calibration is not None and config.calibration.max_age_s == 21600.0
    assert parse_config(CUSTOM).fallback == [] and parse_config(CUSTOM).calibration is None
    assert [seconds(v) for v in ("90s", "30m", "1.5h", "2d", 45, 0.5)] == [
        90.0, 1800.0, 5400.0, 172800.0, 45.0, 0.5,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"calibration": {"max_age": "6 hours"}}, "calibration.max_age"),
        ({"calibration": {"max_age": 0}}, "calibration.max_age"),
        ({"calibration": {"max_age": "1h", "policy": "pause"}}, "calibration.policy"),
        ({"calibration": {"policy": "warn"}}, "calibration.max_age"),
        ({"fallback": [{"name": "local", "device": "x"}]}, "fallback.0"),
        ({"fallback": [{"name": "cloud"}]}, "fallback.0"),
        ({"fallback": {"name": "local"}}, "fallback"),
    ],
)
def test_bad_sections_name_the_key(section: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config({**CUSTOM, **section})


def test_every_fallback_is_checked_like_the_backend() -> None:
    noisy = {"noise": {"after_all": [{"amplitude_damping": {"gamma": 0.001}}]}}
    exact = {**CUSTOM, "gradient": {"method": "adjoint"}}
    parse_config({**exact, "fallback": [{"name": "local"}]})
    with pytest.raises(ConfigError, match=r"gradient\.method"):
        parse_config({**exact, "fallback": [{"name": "local", **noisy}]})


def test_a_config_run_falls_back_records_it_and_resumes_there(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = parse_config({**CUSTOM, "backend": BROKEN, "fallback": [{"name": "local"}]})
    with caplog.at_level(logging.WARNING, logger="qtrain"):
        result, directory = train_from_config(config, run_dir=tmp_path / "run")
    assert result.stopped_by == "max_steps" and result.steps == 3
    assert {r.backend for r in result.history} == {"local-statevector"}
    summary = json.loads(Path(directory.summary).read_text())
    assert summary["fallback"]["backends"] == ["faulty(local-statevector)", "local-statevector"]
    assert summary["fallback"]["switches"][0]["step"] == 0
    assert any(getattr(r, "event", "") == "fallback.switch" for r in caplog.records)
    resumed = resume_from_dir(directory.path, budget={"max_steps": 5})
    assert [r.backend for r in resumed.history] == ["local-statevector"] * 5
    assert len(resumed.summary["fallback"]["switches"]) == 1  # no second switch


def test_refuse_on_a_backend_without_calibration_time_fails_before_work(tmp_path: Path) -> None:
    config = parse_config({**CUSTOM, "calibration": {"max_age": "1h", "policy": "refuse"}})
    with pytest.raises(ConfigError, match=r"backend: .*reports no calibration time"):
        train_from_config(config, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
    # warn: nothing to check on a simulator, the run goes on (no hook: nothing to record)
    warn = parse_config({**CUSTOM, "calibration": {"max_age": "1h"}})
    result, _ = train_from_config(warn, run_dir=tmp_path / "warn")
    assert {r.calibration_age_s for r in result.history} == {None}


def test_without_fallback_no_hook_is_added(tmp_path: Path) -> None:
    result, _ = train_from_config(parse_config(CUSTOM), run_dir=tmp_path / "run")
    assert "fallback" not in result.summary
    from qtrain.app.build import make_executor, prepare  # noqa: PLC0415
    from qtrain.app.hooks_config import config_hooks  # noqa: PLC0415

    prepared = prepare(parse_config({**CUSTOM, "fallback": [{"name": "local"}]}))
    hooks = config_hooks(prepared, make_executor(prepared.config, None))
    assert isinstance(hooks[0], BackendFallback) and len(hooks[0].backends) == 2


def test_hooks_run_fallback_then_drift_then_the_age_check() -> None:
    """The age check runs after any switch a drift policy makes, on the step's real backend."""
    config = parse_config(
        {
            **CUSTOM,
            "fallback": [{"name": "local"}],
            "drift": {"every_steps": 1, "shots": 100, "policy": "fallback"},
            "calibration": {"max_age": "6h", "policy": "warn"},
        }
    )
    prepared = prepare(config)
    hooks = config_hooks(prepared, make_executor(prepared.config, None))
    assert [hook.name for hook in hooks] == ["fallback", "drift", "calibration"]
