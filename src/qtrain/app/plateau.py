"""Plateau scan configurations: YAML validated by pydantic, then ``variance_scan`` and files.

The face of ``qtrain plateau CONFIG.yaml`` (Python users can call it too)::

    name: mcclean
    ansatz: mcclean                 # or hardware_efficient, strongly_entangling
    qubits: [2, 4, 6, 8]
    depths: [50]
    costs: [global, local]          # or Pauli sums such as "Z0 Z1"
    inits: [uniform, {name: identity_blocks, blocks: 1}]
    samples: 200
    seed: 7

Every mistake is one ``ConfigError`` naming the key, as for run configs. The results go to
``<output.dir>/<name>-<time>/``: ``scan.json``, ``scan.csv`` and ``scan.png``, and
``points.jsonl``: each point saved as it finishes (``app/plateau_points.py``). A scan cut
short (Ctrl-C) keeps its finished points, and running the same config again continues it —
in the same folder (the newest unfinished ``<name>-*`` one, or ``--out``) with the same seed.
``output.plot: true`` needs matplotlib, checked before any work; the default (``null``)
plots when matplotlib is installed.

>>> cfg = parse_plateau_config({"qubits": [2, 3], "depths": 1})
>>> cfg.ansatz, cfg.costs, cfg.samples
('mcclean', ['global'], 200)
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from qtrain.app.config import (
    ExecutorConfig,
    FaultyBackendConfig,
    LocalBackendConfig,
    read_yaml,
    validate_model,
)
from qtrain.app.plateau_points import PointLog, find_unfinished, resume_from, scan_key
from qtrain.app.runner import executor_for, make_backend
from qtrain.diagnostics.families import FAMILIES
from qtrain.diagnostics.plot import save_plot
from qtrain.diagnostics.result import ScanPoint, ScanResult
from qtrain.diagnostics.scan import variance_scan
from qtrain.errors import QtrainError
from qtrain.exec.expval import resolve_seed
from qtrain.extras import require
from qtrain.ir.observables import Observable

__all__ = [
    "PlateauConfig",
    "PlateauRun",
    "load_plateau_config",
    "parse_plateau_config",
    "scan_from_config",
]

InitName = Literal["uniform", "normal", "identity_blocks"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScanInitConfig(_Strict):
    """``{name: normal, width: 0.1}`` or ``{name: identity_blocks, blocks: 2}``."""

    name: Literal["uniform", "normal", "identity_blocks"]
    width: Annotated[float, Field(gt=0)] | None = None
    blocks: Annotated[int, Field(ge=1)] | None = None

    def spec(self) -> dict[str, Any]:
        """The mapping ``qt.diagnostics`` resolves."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class OutputConfig(_Strict):
    """Where the files go (``<dir>/<name>-<time>/`` unless ``path`` is given) and which."""

    dir: Path = Path("runs")
    path: Path | None = None
    plot: bool | None = None  # None: when matplotlib is installed; True: required


def _uniform() -> list[InitName | ScanInitConfig]:
    return ["uniform"]


class PlateauConfig(_Strict):
    """A barren-plateau scan (see :func:`qtrain.diagnostics.variance_scan`)."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")] = "plateau"
    seed: Annotated[int, Field(ge=0)] | None = None
    ansatz: str = "mcclean"
    qubits: Annotated[list[Annotated[int, Field(ge=1, le=30)]], Field(min_length=1)]
    depths: (
        Annotated[int, Field(ge=1)]
        | Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1)]
    )
    costs: Annotated[list[str], Field(min_length=1)] = Field(default_factory=lambda: ["global"])
    inits: Annotated[list[InitName | ScanInitConfig], Field(min_length=1)] = Field(
        default_factory=_uniform
    )
    samples: Annotated[int, Field(ge=4)] = 200
    params: Literal["all"] | Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)] = (
        Field(default_factory=lambda: [0])
    )
    shots: Annotated[int, Field(ge=2)] | None = None
    method: Literal["auto", "param-shift", "adjoint"] = "auto"
    level: Annotated[float, Field(gt=0, lt=1)] = 0.95
    resamples: Annotated[int, Field(ge=100)] = 2000
    target_snr: Annotated[float, Field(gt=0)] = 1.0
    backend: Annotated[LocalBackendConfig | FaultyBackendConfig, Field(discriminator="name")] = (
        Field(default_factory=LocalBackendConfig)
    )
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    @field_validator("ansatz")
    @classmethod
    def _known_ansatz(cls, value: str) -> str:
        if value not in FAMILIES:
            raise ValueError(f"unknown ansatz {value!r}; choose one of {', '.join(FAMILIES)}")
        return value

    @field_validator("costs")
    @classmethod
    def _costs_parse(cls, values: list[str]) -> list[str]:
        for value in values:
            if value not in ("global", "local"):
                try:
                    Observable.parse(value)
                except QtrainError as error:
                    raise ValueError(
                        f"cost {value!r} is neither 'global', 'local' nor a Pauli sum: {error}"
                    ) from None
        return values

    def cost_specs(self) -> dict[str, Any]:
        """``{label: cost}`` for the scan."""
        return {c: c if c in ("global", "local") else Observable.parse(c) for c in self.costs}

    def init_specs(self) -> list[Any]:
        """The init strategies for the scan."""
        return [i.spec() if isinstance(i, ScanInitConfig) else i for i in self.inits]


def parse_plateau_config(
    data: Any, *, source: str = "config", base: Path | None = None
) -> PlateauConfig:
    """Validate a plateau config dict; ``base``: the folder relative paths start from.

    Raises:
        ConfigError: every problem found, one per line, each naming its key.
    """
    return validate_model(PlateauConfig, data, source=source, what="plateau config", base=base)


def load_plateau_config(path: Path) -> PlateauConfig:
    """Read and validate a YAML plateau config.

    Raises:
        ConfigError: the file is missing, not YAML, or not a valid plateau config.
    """
    return parse_plateau_config(read_yaml(path), source=str(path), base=Path(path).parent)


@dataclass(frozen=True, eq=False)
class PlateauRun:
    """A finished scan and where its files are.

    Attributes:
        config: the config, with its seed filled in.
        result: the scan.
        directory: the output folder.
        files: ``{"json": ..., "csv": ..., "png": ..., "points": ...}`` (``png`` absent
            without a plot).
        reused: points read back from an earlier, interrupted run of the scan.
    """

    config: PlateauConfig
    result: ScanResult
    directory: Path
    files: dict[str, Path]
    reused: int = 0


def _wants_plot(config: PlateauConfig) -> bool:
    """Whether to draw ``scan.png``: matplotlib is checked before any work when asked for."""
    if config.output.plot:
        require("matplotlib", extra="plot", purpose="output.plot: true (the scan's PNG)")
        return True
    return config.output.plot is None and importlib.util.find_spec("matplotlib") is not None


def _folder(config: PlateauConfig, output: Path | None, key: str) -> Path:
    """``output``, ``output.path``, the newest unfinished run of this scan, or a new one."""
    explicit = output or config.output.path
    if explicit is not None:
        return Path(explicit)
    unfinished = find_unfinished(config.output.dir, config.name, key)
    if unfinished is not None:
        return unfinished
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder, count = config.output.dir / f"{config.name}-{stamp}", 1
    while folder.exists():  # another scan started in the same second
        count += 1
        folder = config.output.dir / f"{config.name}-{stamp}-{count}"
    return folder


def scan_from_config(
    config: PlateauConfig,
    *,
    output: Path | None = None,
    on_point: Callable[[ScanPoint], None] | None = None,
    on_folder: Callable[[Path, int], None] | None = None,
) -> PlateauRun:
    """Run the scan a config describes and write its JSON, CSV and (optionally) PNG.

    Each point is saved as it finishes (``points.jsonl``); points an interrupted run of the
    same config saved are read back, not measured again. ``on_folder(folder, reused)`` is
    called once the output folder is chosen, before any work.

    Raises:
        ConfigError: a bad setting, ``output.plot: true`` without matplotlib, or an output
            folder holding the points of another scan — all before any work.
    """
    plot = _wants_plot(config)
    key = scan_key(config)
    directory = _folder(config, output, key)
    seed, done = resume_from(directory, key)
    if config.seed is None:
        config = config.model_copy(update={"seed": resolve_seed(seed)})
    assert config.seed is not None  # filled in above
    log = PointLog(directory, key=key, seed=config.seed, points=done)
    if on_folder is not None:
        on_folder(directory, len(done))
    executor = executor_for(config.executor, make_backend(config.backend), None)
    try:
        result = variance_scan(
            config.ansatz,
            qubits=config.qubits,
            depths=config.depths,
            cost=config.cost_specs(),
            init=config.init_specs(),
            samples=config.samples,
            params=config.params,
            seed=config.seed,
            shots=config.shots,
            method=config.method,
            executor=executor,
            level=config.level,
            resamples=config.resamples,
            target_snr=config.target_snr,
            on_point=on_point,
            done=done,
            on_measured=log.append,
        )
    finally:
        close = getattr(executor, "close", None)
        if callable(close):
            close()  # a Dask cluster started for the scan
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "json": result.write_json(directory / "scan.json"),
        "csv": result.write_csv(directory / "scan.csv"),
    }
    if plot:
        files["png"] = save_plot(result, directory / "scan.png")
    if log.path.exists():
        files["points"] = log.path
    return PlateauRun(config, result, directory, files, reused=len(done))
