"""The ``qtrain`` command line (typer + rich).

``qtrain quickstart`` is the README's main job: it trains the built-in H₂ VQE on the embedded
simulator with sampled parameter-shift gradients and reports the energy against the exact
ground state. ``qtrain train CONFIG.yaml`` runs any config, ``qtrain resume RUN_DIR``
continues one, ``qtrain grad`` / ``qtrain plan`` take one gradient / price a run, and
``qtrain problems`` lists the built-ins.

Exit status: 0 when a run ends by a budget or stop rule; 2 for bad input; 65 a run file is
damaged beyond repair (``metrics.jsonl``); 66 a file may not be read; 73 the run folder (or a
file in it) may not be written — read-only, or no permission; 74 the disk is full (or another
I/O error); 130 after Ctrl-C or SIGTERM. Each is one line naming the file and what to do
(``docs/operations.md``, "When the disk or the folder fails").
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

import qtrain
from qtrain.app.runner import train_from_config
from qtrain.cli import observe, plateau, training
from qtrain.cli.views import friendly_errors
from qtrain.exec.store import ResultStore

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
app.command()(training.train)
app.command()(training.resume)
app.command()(training.grad)
app.command()(training.plan)
app.command()(training.problems)
app.command()(observe.report)
app.command()(plateau.plateau)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"qtrain {qtrain.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Train variational quantum circuits with exact gradients, budgets and error bars."""


@app.command()
@friendly_errors
def quickstart(
    shots: Annotated[int, typer.Option(min=2, help="Shots per row and commuting group.")] = 1000,
    steps: Annotated[int, typer.Option(min=1, help="Optimizer steps.")] = 40,
    seed: Annotated[int, typer.Option(min=0, help="Run seed.")] = 7,
    run_dir: Annotated[Path | None, typer.Option(help="Run folder (default under runs/).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Train the built-in H₂ VQE (4 qubits, STO-3G) and compare with the exact ground state."""
    config = training.quickstart_config(shots=shots, steps=steps, seed=seed)
    console = Console(stderr=as_json)
    if not as_json:
        console.print(
            "H₂ at 0.7414 Å (STO-3G, Jordan–Wigner, 4 qubits): Hartree–Fock + UCC double "
            f"excitation, Adam, parameter-shift gradients at {shots:,} shots per circuit",
            highlight=False,
        )
    training.run_and_report(
        lambda trackers: train_from_config(config, run_dir=run_dir, trackers=trackers)[0],
        console=console,
        as_json=as_json,
        title="qtrain quickstart: H₂ VQE (Hartree)",
        budget=(steps, None),
    )


store_app = typer.Typer(help="Inspect and clean a durable result store.", no_args_is_help=True)
app.add_typer(store_app, name="store")


@store_app.command("info")
@friendly_errors
def store_info(path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """How many finished rows the store at PATH holds (a damaged store is reported, not moved)."""
    store = ResultStore(path, on_corrupt="raise")
    try:
        typer.echo(f"{path}: {len(store)} finished row(s)")
    finally:
        store.close()


@store_app.command("prune")
@friendly_errors
def store_prune(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    older_than_days: Annotated[float, typer.Option(min=0.0, help="Age limit in days.")] = 30.0,
) -> None:
    """Delete rows older than --older-than-days from the store at PATH."""
    store = ResultStore(path, on_corrupt="raise")
    try:
        removed = store.prune(older_than_s=older_than_days * 86400.0)
    finally:
        store.close()
    typer.echo(f"{path}: removed {removed} row(s) older than {older_than_days:g} day(s)")
