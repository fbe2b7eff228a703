"""MLflow experiment tracking: a run's params, per-step metrics, tags and artifacts.

:class:`MlflowTracker` logs through ``MlflowClient`` (never the global active run, so it
composes with a user's own ``mlflow.start_run``). Its default store is
``sqlite:///<runs folder>/mlflow.db`` with artifacts in ``<runs folder>/mlartifacts``: beside
the run folders, so ``mlflow ui --backend-store-uri sqlite:///runs/mlflow.db`` compares every
run of the folder (MLflow 3 refuses its old file store unless told otherwise). A resumed run
continues its MLflow run, found by the tag ``qtrain.run_id``.

Logged: params (the resolved config flattened to dotted keys, or ``fit``'s settings), one
metric history per ``StepRecord`` field (step = optimizer step), tags (seed, backend, qtrain
version, git commit when known, config hash, calibration ids seen, stopped by), and at the end
the run folder's files and the report's PNG plots (``plots/``). A resume that changes a
setting (``qtrain resume --max-steps 40``) logs the new value as ``resume.step_<k>.<key>``
(MLflow params are write-once). Where the run went (:meth:`MlflowTracker.location`: tracking
URI, experiment, run id) is in the run's summary under ``tracking.mlflow``. MLflow's own info
lines are quiet while it logs a run (its warnings still show, in qtrain's log format).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import importlib.util
import json
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qtrain.errors import ConfigError
from qtrain.extras import require
from qtrain.logs import quiet_loggers
from qtrain.train.records import StepRecord
from qtrain.train.rundir import RunDir
from qtrain.train.tracking import RunContext

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

__all__ = ["STEP_METRICS", "MlflowTracker", "flatten_params"]

STEP_METRICS = (
    "loss",
    "loss_stderr",
    "grad_norm",
    "grad_norm_stderr",
    "grad_snr",
    "learning_rate",
    "shots",
    "shots_total",
    "circuits",
    "retries",
    "failures",
    "cached",
    "seconds",
    "elapsed",
)
_ARTIFACTS: tuple[str, ...] = ("config.yaml", "run.json", "checkpoint.json", "summary.json")
_ARTIFACTS += ("reproduce.json", "metrics.jsonl")
_MAX_VALUE = 500  # characters of a param or tag value (MLflow allows 6000; keep the UI legible)
_BATCH = 100  # MLflow's limit of params or tags per log_batch
# The loggers MLflow configures on import (its own at INFO): quiet while a run logs to it.
_MLFLOW_LOGGERS = ("mlflow", "alembic", "sqlalchemy.engine", "huey")


def flatten_params(data: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested settings as MLflow params: dotted keys, JSON for lists, long values cut.

    >>> flatten_params({"optimizer": {"name": "adam", "learning_rate": 0.05}, "seed": 7})
    {'optimizer.name': 'adam', 'optimizer.learning_rate': '0.05', 'seed': '7'}
    """
    params: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            params.update(flatten_params(value, prefix=f"{name}."))
            continue
        text = json.dumps(value) if isinstance(value, list | tuple | bool) else str(value)
        params[name] = text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"
    return params


class MlflowTracker:
    """Log a run to MLflow (see the module docstring; the ``mlflow`` extra).

    Args:
        tracking_uri: where runs are stored (default: SQLite beside the run folders, or
            ``./runs/mlflow.db`` for a run without a folder).
        experiment: the MLflow experiment (created when missing).
        run_name: the MLflow run name (default: the run id).
        run_dir: the run folder whose files are logged as artifacts (the runner binds it).
        plots: log the report's PNG plots at the end; ``None``: when matplotlib (the ``plot``
            extra) is installed.

    Raises:
        ConfigError: MLflow (or, with ``plots=True``, matplotlib) is not installed.
    """

    kind = "mlflow"  # the key of :meth:`location` in the summary's ``tracking``

    def __init__(
        self,
        *,
        tracking_uri: str | None = None,
        experiment: str = "qtrain",
        run_name: str | None = None,
        run_dir: str | Path | None = None,
        plots: bool | None = None,
    ) -> None:
        require("mlflow", extra="mlflow", purpose="tracking: mlflow")
        if plots:
            require("matplotlib", extra="plot", purpose="MLflow plots")
        if not experiment:
            raise ConfigError("the MLflow experiment name must not be empty")
        self.tracking_uri, self.experiment, self.run_name = tracking_uri, experiment, run_name
        self.plots = (
            plots if plots is not None else importlib.util.find_spec("matplotlib") is not None
        )
        self.context = RunContext(run_id="", run_dir=None if run_dir is None else Path(run_dir))
        self.mlflow_run_id: str | None = None
        self.uri: str | None = None
        self._client: MlflowClient | None = None
        self._loud: Callable[[], None] | None = None
        self._calibrations: set[str] = set()
        self._params: dict[str, str] = {}

    def bind(self, context: RunContext) -> None:  # noqa: D102 - see RunContext
        if context.run_dir is None and self.context.run_dir is not None:
            context = dataclasses.replace(context, run_dir=self.context.run_dir)
        self.context = context

    def _store(self) -> tuple[str, Path]:
        """The tracking URI and the artifact folder for a new experiment."""
        directory = self.context.run_dir
        parent = Path(directory).resolve().parent if directory is not None else Path("runs")
        parent = parent.resolve()
        uri = self.tracking_uri or f"sqlite:///{parent / 'mlflow.db'}"
        return uri, parent / "mlartifacts"

    def start(self, info: Mapping[str, Any]) -> None:  # noqa: D102 - see Tracker
        from mlflow.tracking import MlflowClient  # noqa: PLC0415 - optional extra

        if self._loud is None:  # importing mlflow set its loggers to INFO: quiet for the run
            self._loud = quiet_loggers(_MLFLOW_LOGGERS)
        uri, artifacts = self._store()
        self.uri = uri
        if uri.startswith("sqlite:///"):
            Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        client = self._client = MlflowClient(tracking_uri=uri)
        found = client.get_experiment_by_name(self.experiment)
        experiment_id = (
            found.experiment_id
            if found is not None
            else client.create_experiment(self.experiment, artifact_location=artifacts.as_uri())
        )
        run_name = self.run_name or self.context.run_id or str(info.get("config_hash", ""))[:12]
        existing = client.search_runs(
            [experiment_id], filter_string=f"tags.`qtrain.run_id` = '{run_name}'", max_results=1
        )
        if existing and int(info.get("step", 0)) > 0:
            run = existing[0]
            self._params = dict(run.data.params)
        else:
            run = client.create_run(experiment_id, run_name=run_name, tags=self._tags(info))
        self.mlflow_run_id = run.info.run_id
        settings = dict(info.get("settings", {}))
        settings.pop("theta0", None)  # a vector, not a hyperparameter (it is in run.json)
        params = flatten_params(self.context.config or settings)
        self._log_params(self._new_params(params, int(info.get("step", 0))))
        client.set_tag(self.mlflow_run_id, "qtrain.sessions_from_step", str(info.get("step", 0)))

    def _new_params(self, params: Mapping[str, str], step: int) -> dict[str, str]:
        """What to log: unseen keys, and values a resume changed as ``resume.step_<k>.<key>``.

        MLflow params are write-once, so ``qtrain resume --max-steps 40`` on a run logged
        with ``budget.max_steps = 20`` logs ``resume.step_20.budget.max_steps = 40``.
        """
        new = {k: v for k, v in params.items() if k not in self._params}
        for key, value in params.items():
            if key in self._params and self._current(key) != value:
                new[f"resume.step_{step}.{key}"] = value
        return new

    def _current(self, key: str) -> str:
        """``key``'s value in force: the latest resume's override, else the first."""
        overrides = [
            (int(name.split(".", 2)[1].removeprefix("step_")), value)
            for name, value in self._params.items()
            if name.startswith("resume.step_") and name.split(".", 2)[2:] == [key]
        ]
        return max(overrides)[1] if overrides else self._params[key]

    def location(self) -> dict[str, str] | None:
        """Where the run went: ``tracking_uri``, ``experiment`` and ``run_id`` (once started)."""
        if self.mlflow_run_id is None or self.uri is None:
            return None
        return {
            "tracking_uri": self.uri,
            "experiment": self.experiment,
            "run_id": self.mlflow_run_id,
        }

    def _quiet_off(self) -> None:
        if self._loud is not None:
            self._loud()
            self._loud = None

    def _tags(self, info: Mapping[str, Any]) -> dict[str, str]:
        settings = info.get("settings", {})
        tags = {
            "qtrain.run_id": self.run_name or self.context.run_id,
            "qtrain.version": importlib.metadata.version("qtrain"),
            "qtrain.seed": str(settings.get("seed", "")),
            "qtrain.backend": self.context.backend,
            "qtrain.config_hash": str(info.get("config_hash", "")),
            "qtrain.method": str(settings.get("method", "")),
        }
        commit = self._reproduction().get("git_commit")
        if commit:
            tags["qtrain.git_commit"] = tags["mlflow.source.git.commit"] = str(commit)
        if self.context.run_dir is not None:
            tags["qtrain.run_dir"] = str(Path(self.context.run_dir).resolve())
        return tags

    def _reproduction(self) -> dict[str, Any]:
        if self.context.run_dir is None:
            return {}
        path = RunDir(Path(self.context.run_dir)).reproduce
        with contextlib.suppress(OSError, json.JSONDecodeError):
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            return data
        return {}

    def _log_params(self, params: Mapping[str, str]) -> None:
        from mlflow.entities import Param  # noqa: PLC0415 - optional extra

        assert self._client is not None and self.mlflow_run_id is not None
        items = [Param(k, v) for k, v in params.items()]
        for start in range(0, len(items), _BATCH):
            self._client.log_batch(self.mlflow_run_id, params=items[start : start + _BATCH])
        self._params.update(params)

    def log(self, record: StepRecord) -> None:  # noqa: D102 - see Tracker
        from mlflow.entities import Metric  # noqa: PLC0415 - optional extra

        if self._client is None or self.mlflow_run_id is None:
            return
        stamp = int(time.time() * 1000)
        metrics = [
            Metric(name, float(getattr(record, name)), stamp, record.step)
            for name in STEP_METRICS
            if getattr(record, name) is not None
        ]
        self._client.log_batch(self.mlflow_run_id, metrics=metrics)
        new = set(record.calibration_ids) - self._calibrations
        if new:
            self._calibrations |= new
            self._client.set_tag(
                self.mlflow_run_id, "qtrain.calibration_ids", ",".join(sorted(self._calibrations))
            )

    def finish(self, summary: Mapping[str, Any]) -> None:  # noqa: D102 - see Tracker
        if self._client is None or self.mlflow_run_id is None:
            return
        client, run_id = self._client, self.mlflow_run_id
        for key in ("final_loss_exact", "error", "exact_value", "shots", "steps", "seconds"):
            value = summary.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                client.log_metric(run_id, f"final.{key}", float(value))
        client.set_tag(run_id, "qtrain.stopped_by", str(summary.get("stopped_by")))
        client.log_dict(run_id, dict(summary), "summary.final.json")
        self._log_files()
        status = "KILLED" if summary.get("stopped_by") == "interrupted" else "FINISHED"
        client.set_terminated(run_id, status=status)
        self._quiet_off()

    def _log_files(self) -> None:
        assert self._client is not None and self.mlflow_run_id is not None
        if self.context.run_dir is None:
            return
        folder = Path(self.context.run_dir)
        for name in _ARTIFACTS:
            if (folder / name).exists():
                self._client.log_artifact(self.mlflow_run_id, str(folder / name))
        if not self.plots:
            return
        from qtrain.observe.report import write_plots  # noqa: PLC0415 - needs the plot extra

        with tempfile.TemporaryDirectory() as scratch:
            for path in write_plots(folder, Path(scratch)):
                self._client.log_artifact(self.mlflow_run_id, str(path), artifact_path="plots")

    def abort(self, error: BaseException) -> None:
        """The run died with ``error``: mark the MLflow run failed, with the reason."""
        if self._client is not None and self.mlflow_run_id is not None:
            self._client.set_tag(self.mlflow_run_id, "qtrain.error", repr(error)[:_MAX_VALUE])
            self._client.set_terminated(self.mlflow_run_id, status="FAILED")
        self._quiet_off()
