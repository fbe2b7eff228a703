"""What a variance scan returns: one point per (n, depth, cost, init), one fit per series.

``ScanResult`` is a frozen value with a JSON form (``to_dict``/``write_json``), a CSV of the
points (``write_csv``) and a plot (``plot``, with the ``plot`` extra).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from qtrain.display import html_table, number, text_block
from qtrain.errors import ConfigError

__all__ = ["CSV_COLUMNS", "DecayFit", "ScanPoint", "ScanResult"]


@dataclass(frozen=True)
class ScanPoint:
    """The gradient statistics of one (n, depth, cost, init) over random draws.

    Attributes:
        n_qubits, depth, cost, init: the point (cost and init by label).
        samples: random draws ``N``.
        n_params: parameters of each circuit.
        params: the gradient components ``k`` whose variance is estimated.
        mean: mean of ``∂C/∂θ_k`` over the draws (and the components).
        variance: ``Var[∂C/∂θ_k]`` over the draws (the mean over the chosen components).
        ci_low, ci_high: its BCa bootstrap interval at the scan's level.
        component_variance, component_low, component_high: per component ``(K,)``.
        cost_mean: mean of the cost over the draws.
        shots_per_row: shots per row and group for a gradient component whose typical size
            ``√Var`` is ``target_snr`` standard errors (``None`` if the variance is not
            positive); ``shots_low``/``shots_high`` from the variance interval.
        shots_per_component: the same, times the component's rows and groups.
        method: ``"param-shift"`` or ``"adjoint"``.
        rows, shots: rows evaluated and shots spent for this point's draws (shared by the
            costs of one (n, depth, init)).
        seconds: wall time of those draws.
    """

    n_qubits: int
    depth: int
    cost: str
    init: str
    samples: int
    n_params: int
    params: tuple[int, ...]
    mean: float
    variance: float
    ci_low: float
    ci_high: float
    component_variance: tuple[float, ...]
    component_low: tuple[float, ...]
    component_high: tuple[float, ...]
    cost_mean: float
    shots_per_row: int | None
    shots_low: int | None
    shots_high: int | None
    shots_per_component: int | None
    method: str
    rows: int
    shots: int
    seconds: float

    @property
    def series(self) -> tuple[int, str, str]:
        """``(depth, cost, init)``: the fit this point belongs to."""
        return self.depth, self.cost, self.init


CSV_COLUMNS = (
    "n_qubits",
    "depth",
    "cost",
    "init",
    "samples",
    "n_params",
    "mean",
    "variance",
    "ci_low",
    "ci_high",
    "cost_mean",
    "shots_per_row",
    "shots_low",
    "shots_high",
    "shots_per_component",
    "method",
    "rows",
    "shots",
    "seconds",
)


@dataclass(frozen=True)
class DecayFit:
    """``Var ∝ b^{−n}`` (and ``∝ n^{−p}``) for one (depth, cost, init) over its qubit counts.

    Attributes:
        depth, cost, init: the series.
        qubits: the qubit counts fitted.
        rate, rate_low, rate_high: ``r = ln b`` per qubit and its interval.
        base: ``b = e^r``.
        intercept: ``log Var`` extrapolated to ``n = 0``.
        power, power_low, power_high: the power-law exponent ``p``.
        residual_exponential, residual_power: weighted residual sums of the two fits.
        shape: ``exponential``, ``polynomial``, ``none`` or ``undetermined`` (< 3 sizes).
        plateau: a barren plateau — exponential decay with a rate significantly above zero.
        power_intercept: ``log Var`` of the power law at ``n = 1`` (NaN in files written
            before it was recorded).
    """

    depth: int
    cost: str
    init: str
    qubits: tuple[int, ...]
    rate: float
    rate_low: float
    rate_high: float
    base: float
    intercept: float
    power: float
    power_low: float
    power_high: float
    residual_exponential: float
    residual_power: float
    shape: str
    plateau: bool
    power_intercept: float = math.nan

    def predict(self, n_qubits: float) -> float:
        """The exponential fit's variance at ``n_qubits``."""
        return math.exp(self.intercept - self.rate * n_qubits)

    def predict_power(self, n_qubits: float) -> float:
        """The power law's variance at ``n_qubits`` (NaN if its intercept was not recorded)."""
        return math.exp(self.power_intercept - self.power * math.log(n_qubits))

    @property
    def model(self) -> str:
        """The fit that describes the series: ``exponential`` or ``power``.

        ``power`` for a ``polynomial`` shape, ``exponential`` for an exponential one; for
        ``none`` or ``undetermined``, whichever fit has the smaller residual.
        """
        if self.shape == "polynomial":
            return "power"
        if self.shape == "exponential" or math.isnan(self.power_intercept):
            return "exponential"
        better = self.residual_power < self.residual_exponential
        return "power" if better else "exponential"


def _json_ready(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, tuple | list):
        return [_json_ready(v) for v in value]
    return value


@dataclass(frozen=True)
class ScanResult:
    """Points and fits of a scan, plus the settings that produced them.

    Attributes:
        points: in scan order (init, depth, qubits, cost).
        fits: one per series with at least two qubit counts.
        settings: JSON-ready (ansatz, costs, inits, samples, params, seed, level, ...).
    """

    points: tuple[ScanPoint, ...]
    fits: tuple[DecayFit, ...]
    settings: Mapping[str, Any] = field(default_factory=dict)

    def point(
        self, n_qubits: int, depth: int, cost: str | None = None, init: str | None = None
    ) -> ScanPoint:
        """The point at ``(n_qubits, depth[, cost, init])`` (the first if several match).

        Raises:
            ConfigError: no such point.
        """
        for p in self.points:
            same = (p.n_qubits, p.depth) == (n_qubits, depth)
            if same and cost in (None, p.cost) and init in (None, p.init):
                return p
        raise ConfigError(f"no point at n={n_qubits}, depth={depth}, cost={cost}, init={init}")

    def fit(self, depth: int, cost: str | None = None, init: str | None = None) -> DecayFit:
        """The fit of one series (``cost``/``init`` may be left out when there is one).

        Raises:
            ConfigError: no such series.
        """
        for f in self.fits:
            if f.depth == depth and cost in (None, f.cost) and init in (None, f.init):
                return f
        raise ConfigError(f"no fit for depth={depth}, cost={cost}, init={init}")

    @property
    def plateau(self) -> bool:
        """Whether any series is flagged as a barren plateau."""
        return any(f.plateau for f in self.fits)

    def _rows(self) -> list[tuple[str, str]]:
        """What was scanned, and one line per fitted series."""

        def span(values: set[int]) -> str:
            ordered = sorted(values)
            return "-" if not ordered else ", ".join(str(v) for v in ordered)

        rows = [
            ("qubits", span({p.n_qubits for p in self.points})),
            ("depths", span({p.depth for p in self.points})),
            ("points", str(len(self.points))),
            ("barren plateau", "yes" if self.plateau else "no"),
        ]
        for f in self.fits:
            interval = f"[{number(math.exp(f.rate_low))}, {number(math.exp(f.rate_high))}]"
            verdict = "barren plateau" if f.plateau else f.shape
            rows.append(
                (
                    f"depth {f.depth}, {f.cost}, {f.init}",
                    f"b = {number(f.base)} {interval}, {verdict}",
                )
            )
        return rows

    def _title(self) -> str:
        ansatz = self.settings.get("ansatz", "ansatz")
        return f"ScanResult({ansatz}: gradient variance Var ∝ b^-n, one fit per series)"

    def __repr__(self) -> str:
        return text_block(self._title(), self._rows())

    def _repr_html_(self) -> str:
        return html_table(self._title(), self._rows())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (non-finite numbers become ``null``)."""
        return {
            "format": "qtrain.plateau/1",
            "settings": dict(self.settings),
            "points": [{k: _json_ready(v) for k, v in asdict(p).items()} for p in self.points],
            "fits": [{k: _json_ready(v) for k, v in asdict(f).items()} for f in self.fits],
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> ScanResult:
        """Inverse of :meth:`to_dict` (for plotting a saved scan).

        Raises:
            ConfigError: not a scan result.
        """
        if data.get("format") != "qtrain.plateau/1":
            raise ConfigError(f"not a qtrain plateau result (format {data.get('format')!r})")

        def build(cls: Any, item: Mapping[str, Any]) -> Any:
            values = {}
            for f in fields(cls):
                if f.name not in item and f.default is not MISSING:
                    continue  # a field added later: its default
                value = item[f.name]
                if isinstance(value, list):
                    value = tuple(math.nan if v is None else v for v in value)
                elif value is None and f.type == "float":
                    value = math.nan  # written as null because JSON has no NaN
                values[f.name] = value
            return cls(**values)

        points = tuple(build(ScanPoint, p) for p in data["points"])
        fits = tuple(build(DecayFit, f) for f in data["fits"])
        return ScanResult(points, fits, dict(data["settings"]))

    def write_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` to ``path``."""
        target = Path(path)
        target.write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")
        return target

    def write_csv(self, path: str | Path) -> Path:
        """One row per point (the columns of :data:`CSV_COLUMNS`)."""
        target = Path(path)
        with open(target, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(CSV_COLUMNS)
            for p in self.points:
                cells = [getattr(p, column) for column in CSV_COLUMNS]
                writer.writerow(["" if cell is None else cell for cell in cells])
        return target

    def plot(self, path: str | Path | None = None) -> Any:
        """The log-variance plot (see :func:`qtrain.diagnostics.plot.plot_scan`)."""
        from qtrain.diagnostics.plot import plot_scan  # noqa: PLC0415 - optional matplotlib

        return plot_scan(self, path)
