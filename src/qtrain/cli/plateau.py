"""``qtrain plateau CONFIG.yaml``: a barren-plateau scan with a table, CSV, JSON and a plot.

The tables fit the terminal: numbers are short (``2.65e-4``) and a cell that does not fit
wraps onto a second line; nothing is cut with an ellipsis. Each point is saved as it
finishes, so Ctrl-C keeps the finished ones and the same command continues the scan.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from qtrain.app.plateau import load_plateau_config, scan_from_config
from qtrain.cli.views import friendly_errors
from qtrain.diagnostics.result import ScanPoint, ScanResult

__all__ = ["fits_table", "plateau", "points_table", "sci"]


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def sci(value: float | None) -> str:
    """A variance as a short number: 3 digits, a bare exponent.

    >>> sci(0.0002647), sci(0.01779), sci(None), sci(0.0)
    ('2.65e-4', '1.78e-2', '-', '0')
    """
    if value is None:
        return "-"
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    mantissa, exponent = f"{value:.2e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _count(value: int | None) -> str:
    """A shot count: ``1,234`` up to a million, then ``4.45e15``."""
    if value is None:
        return "-"
    return f"{value:,}" if value < 1_000_000 else sci(float(value)).replace("e", "e+", 1)


def _widths(natural: list[int], minimum: list[int], budget: int) -> list[int]:
    """Column widths within ``budget``: the roomiest column gives way first, to its minimum."""
    widths = list(natural)
    while sum(widths) > budget:
        column = max(range(len(widths)), key=lambda c: widths[c] - minimum[c])
        if widths[column] <= minimum[column]:
            break  # narrower than every column's longest word: rich folds what is left
        widths[column] -= 1
    return widths


def _fit(
    header: list[int], cells: list[int], words: list[int], text: list[bool], budget: int
) -> list[int]:
    """Widths: long headers wrap first (down to their cells), then cells, to a word each.

    In a very narrow terminal, words of text columns fold before any number does.
    """
    natural = [max(h, c) for h, c in zip(header, cells, strict=True)]
    widths = _widths(_widths(natural, cells, budget), words, budget)
    return _widths(widths, [4 if t else w for t, w in zip(text, words, strict=True)], budget)


def _table(
    title: str,
    columns: list[tuple[str, str]],
    rows: Sequence[tuple[str, ...]],
    width: int | None,
    *,
    shared: tuple[str, ...] = ("depth", "draws"),
) -> Table:
    """A table in ``width`` columns whose cells wrap at spaces, never inside a number.

    Rich shrinks the widest columns first, cutting a number it could have moved to a second
    line; here each column gives way only down to its longest word, so ``[2.16e-4, 3.30e-4]``
    wraps after the comma. Only a terminal narrower than that folds words (never ``…``). A
    ``shared`` column with one value in every row moves to the title (``depth 40``).
    """
    same = [
        c
        for c, (name, _) in enumerate(columns)
        if name in shared and rows and len({row[c] for row in rows}) == 1
    ]
    if same:
        title += " (" + ", ".join(f"{columns[c][0]} {rows[0][c]}" for c in same) + ")"
        columns = [column for c, column in enumerate(columns) if c not in same]
        rows = [tuple(cell for c, cell in enumerate(row) if c not in same) for row in rows]
    plain = [[Text.from_markup(cell).plain for cell in row] for row in rows]
    header, cells, words = [], [], []
    for c, (name, _) in enumerate(columns):
        texts = [row[c] for row in plain]
        words.append(max(len(word) for text in [*texts, name] for word in text.split()))
        cells.append(max([words[-1], *map(len, texts)]))
        header.append(len(name))
    overhead = 3 * len(columns) - 1  # edges, and padding + a space between columns
    budget = (width or Console().width) - overhead
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    text = [justify == "left" for _, justify in columns]
    fits = _fit(header, cells, words, text, budget)
    for (name, justify), fit in zip(columns, fits, strict=True):
        table.add_column(
            name,
            justify=justify,  # type: ignore[arg-type] # "left" or "right"
            overflow="fold",
            width=fit,  # fixed: rich would shrink the widest column, numbers and all
        )
    for row in rows:
        table.add_row(*row)
    return table


def points_table(result: ScanResult, *, width: int | None = None) -> Table:
    """One row per point: n, depth, cost, init, variance, its interval, draws, shots.

    A depth or draw count shared by every point is in the title instead.
    """
    level = result.settings.get("level", 0.95)
    snr = result.settings.get("target_snr", 1.0)
    rows = [
        (
            str(p.n_qubits),
            str(p.depth),
            p.cost,
            p.init,
            sci(p.variance),
            f"[{sci(p.ci_low)}, {sci(p.ci_high)}]",
            str(p.samples),
            _count(p.shots_per_row),
        )
        for p in result.points
    ]
    return _table(
        f"Var[∂C/∂θ_k] over random draws, {result.settings.get('ansatz')}",
        [
            ("n", "right"),
            ("depth", "right"),
            ("cost", "left"),
            ("init", "left"),
            ("variance", "right"),
            (f"{level:.0%} CI", "right"),
            ("draws", "right"),
            (f"shots/row for SNR {snr:g}", "right"),
        ],
        rows,
        width,
    )


def fits_table(result: ScanResult, *, width: int | None = None) -> Table:
    """One row per series: the decay rate ``r`` of ``Var ∝ e^{−r·n}``, its interval, the verdict."""
    columns = [("depth", "right"), ("cost", "left"), ("init", "left"), ("rate r", "right")]
    columns += [("CI", "right"), ("b", "right"), ("shape", "left"), ("barren plateau", "left")]
    rows = [
        (
            str(f.depth),
            f.cost,
            f.init,
            f"{f.rate:.3f}",
            f"[{f.rate_low:.3f}, {f.rate_high:.3f}]",
            _number(f.base),
            f.shape,
            "[bold red]yes[/]" if f.plateau else "no",
        )
        for f in result.fits
    ]
    return _table("decay with the qubit count: Var ∝ b^(−n) = e^(−r·n)", columns, rows, width)


class _Progress:
    """One line per finished point; remembers the folder and how many points are saved."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.folder: Path | None = None
        self.reused = self.finished = 0

    def on_folder(self, folder: Path, reused: int) -> None:
        self.folder, self.reused = folder, reused
        if reused:
            self.console.print(
                f"continuing the scan in {folder}: {reused} point(s) saved by an earlier run",
                highlight=False,
                soft_wrap=True,
            )

    def on_point(self, point: ScanPoint) -> None:
        self.finished += 1
        saved = self.finished <= self.reused
        self.console.print(
            f"n={point.n_qubits:<2} depth={point.depth:<3} {point.cost:<6} {point.init:<15} "
            f"Var {sci(point.variance)} [{sci(point.ci_low)}, {sci(point.ci_high)}] "
            + ("(saved)" if saved else f"({point.seconds:.2f} s)"),
            highlight=False,
        )

    def interrupted(self) -> str:
        if self.folder is None or not self.finished:
            return "interrupted before the first point finished; nothing was saved"
        return (
            f"interrupted: {self.finished} finished point(s) are saved in "
            f"{self.folder / 'points.jsonl'}; run the same command again to continue"
        )


def _json(run: Any) -> str:
    files = {k: str(v) for k, v in run.files.items()}
    return json.dumps({**run.result.to_dict(), "files": files}, indent=1)


@friendly_errors
def plateau(
    config: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A plateau YAML.")],
    out: Annotated[Path | None, typer.Option(help="Output folder (default from the config).")] = (
        None
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON result.")] = False,
) -> None:
    """Scan gradient variance over random circuits: table, CSV, JSON and a PNG plot.

    Each point is saved as it finishes: after Ctrl-C the same command continues the scan.
    """
    spec = load_plateau_config(config)
    console = Console(stderr=as_json)
    progress = _Progress(console)
    try:
        run = scan_from_config(
            spec, output=out, on_point=progress.on_point, on_folder=progress.on_folder
        )
    except KeyboardInterrupt:
        console.print(f"[yellow]{progress.interrupted()}[/]", highlight=False, soft_wrap=True)
        raise typer.Exit(130) from None
    if as_json:
        typer.echo(_json(run))
        return
    console.print(points_table(run.result, width=console.width))
    if run.result.fits:
        console.print(fits_table(run.result, width=console.width))
    for kind, path in run.files.items():
        console.print(f"{kind}: {path}", highlight=False, soft_wrap=True)
