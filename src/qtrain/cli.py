"""The ``qtrain`` command line (typer + rich).

``qtrain quickstart`` is the README's main job. Until the training loop lands it evaluates the
built-in H₂ circuit exactly and with shots, and compares both with the exact ground energy.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

import qtrain
from qtrain.exec.expval import Estimate, expval
from qtrain.exec.store import ResultStore
from qtrain.problems.h2 import H2_FCI_ENERGY, H2_HF_ENERGY, h2_ansatz, h2_hamiltonian

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)

# θ₀ of the H₂ double excitation that reaches the ground state (see qtrain.problems.h2).
_H2_THETA = 0.20973


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
def quickstart(
    shots: Annotated[int, typer.Option(min=1, help="Shots per commuting group.")] = 10_000,
    seed: Annotated[int, typer.Option(min=0, help="Sampling seed.")] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Evaluate the built-in H₂ circuit: exact energy, sampled energy ± error, exact ground."""
    console = Console(stderr=as_json)
    circuit, hamiltonian = h2_ansatz(), h2_hamiltonian()
    theta = np.array([_H2_THETA])
    started = time.perf_counter()
    with Progress(console=console, transient=True) as progress:
        job = progress.add_task("H2 energy", total=2)
        exact = float(expval(circuit, hamiltonian, theta))  # type: ignore[arg-type]
        progress.advance(job)
        sampled = expval(circuit, hamiltonian, theta, shots=shots, seed=seed)
        progress.advance(job)
    assert isinstance(sampled, Estimate)  # shots were given
    elapsed = time.perf_counter() - started
    summary = {
        "problem": "H2 (STO-3G, 0.7414 Å, 4 qubits)",
        "theta": theta.tolist(),
        "exact_energy": exact,
        "sampled_energy": sampled.value,
        "sampled_stderr": sampled.stderr,
        "shots": sampled.shots,
        "hartree_fock_energy": H2_HF_ENERGY,
        "ground_energy": H2_FCI_ENERGY,
        "seconds": elapsed,
    }
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    table = Table(title="qtrain quickstart: H₂ energy (Hartree)")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_row("exact energy at θ", f"{exact:.8f}")
    table.add_row("sampled energy", f"{sampled.value:.5f} ± {sampled.stderr:.5f}")
    table.add_row("shots spent", f"{sampled.shots:,}")
    table.add_row("Hartree–Fock energy", f"{H2_HF_ENERGY:.8f}")
    table.add_row("exact ground energy (FCI)", f"{H2_FCI_ENERGY:.8f}")
    table.add_row("wall time", f"{elapsed:.3f} s")
    console.print(circuit.draw(), highlight=False, soft_wrap=True)
    console.print(table)


store_app = typer.Typer(help="Inspect and clean a durable result store.", no_args_is_help=True)
app.add_typer(store_app, name="store")


@store_app.command("info")
def store_info(path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """How many finished rows the store at PATH holds."""
    typer.echo(f"{path}: {len(ResultStore(path))} finished row(s)")


@store_app.command("prune")
def store_prune(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    older_than_days: Annotated[float, typer.Option(min=0.0, help="Age limit in days.")] = 30.0,
) -> None:
    """Delete rows older than --older-than-days from the store at PATH."""
    removed = ResultStore(path).prune(older_than_s=older_than_days * 86400.0)
    typer.echo(f"{path}: removed {removed} row(s) older than {older_than_days:g} day(s)")
