"""``qtrain plateau CONFIG.yaml``: a barren-plateau scan with a table, CSV, JSON and a plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from qtrain.app.plateau import load_plateau_config, scan_from_config
from qtrain.cli.views import friendly_errors
from qtrain.diagnostics.result import ScanPoint, ScanResult

__all__ = ["fits_table", "plateau", "points_table"]


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def points_table(result: ScanResult) -> Table:
    """One row per point: n, depth, cost, init, variance, its interval, draws, shots."""
    level = result.settings.get("level", 0.95)
    table = Table(title=f"Var[∂C/∂θ_k] over random draws ({result.settings.get('ansatz')})")
    for column in (
        "n",
        "depth",
        "cost",
        "init",
        "variance",
        f"{level:.0%} CI",
        "samples",
        f"shots/row for SNR {result.settings.get('target_snr', 1.0):g}",
    ):
        table.add_column(column, justify="left" if column in ("cost", "init") else "right")
    for p in result.points:
        table.add_row(
            str(p.n_qubits),
            str(p.depth),
            p.cost,
            p.init,
            f"{p.variance:.3e}",
            f"[{p.ci_low:.3e}, {p.ci_high:.3e}]",
            str(p.samples),
            "-" if p.shots_per_row is None else f"{p.shots_per_row:,}",
        )
    return table


def fits_table(result: ScanResult) -> Table:
    """One row per series: the decay rate ``r`` of ``Var ∝ e^{−r·n}``, its interval, the verdict."""
    table = Table(title="decay with the qubit count: Var ∝ b^(−n)")
    for column in ("depth", "cost", "init", "rate r = ln b", "CI", "b", "shape", "barren plateau"):
        table.add_column(column)
    for f in result.fits:
        table.add_row(
            str(f.depth),
            f.cost,
            f.init,
            f"{f.rate:.3f}",
            f"[{f.rate_low:.3f}, {f.rate_high:.3f}]",
            _number(f.base),
            f.shape,
            "[bold red]yes[/]" if f.plateau else "no",
        )
    return table


@friendly_errors
def plateau(
    config: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A plateau YAML.")],
    out: Annotated[Path | None, typer.Option(help="Output folder (default from the config).")] = (
        None
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON result.")] = False,
) -> None:
    """Scan gradient variance over random circuits: table, CSV, JSON and a PNG plot."""
    spec = load_plateau_config(config)
    console = Console(stderr=as_json)

    def progress(point: ScanPoint) -> None:
        console.print(
            f"n={point.n_qubits:<3} depth={point.depth:<4} {point.cost:<8} {point.init:<16} "
            f"Var = {point.variance:.3e}  [{point.ci_low:.2e}, {point.ci_high:.2e}]  "
            f"({point.samples} draws, {point.seconds:.2f} s)",
            highlight=False,
        )

    run = scan_from_config(spec, output=out, on_point=progress)
    if as_json:
        typer.echo(
            json.dumps(
                {**run.result.to_dict(), "files": {k: str(v) for k, v in run.files.items()}},
                indent=1,
            )
        )
        return
    console.print(points_table(run.result))
    if run.result.fits:
        console.print(fits_table(run.result))
    for kind, path in run.files.items():
        console.print(f"{kind}: {path}", highlight=False)
