"""The ``qtrain`` command line (typer + rich).

``qtrain quickstart`` is the README's main job: it trains the built-in H₂ VQE on the embedded
simulator with sampled parameter-shift gradients and reports the energy against the exact
ground state. ``qtrain train CONFIG.yaml`` runs any config, ``qtrain resume RUN_DIR``
continues one, ``qtrain grad`` / ``qtrain plan`` take one gradient / price a run, and
``qtrain problems`` lists the built-ins.

Exit status: 0 when a run ends by a budget or stop rule; 2 for bad input (a config, a run
that cannot start, a resume whose config changed, a file that is not a result store); 65 a
run file or store is damaged beyond repair (``metrics.jsonl``); 66 a file may not be read; 73
the run folder (or a file in it) may not be written or created there — read-only, no
permission, a path like ``/proc/x``; 74 the disk is full (or another I/O error); 130 after
Ctrl-C or SIGTERM. Each is one line naming the file and what to do
(``docs/operations.md``, "When the disk or the folder fails").
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from qtrain.logs import warnings_as_json


def _json_logs(args: Sequence[str]) -> bool:
    """Whether a command line asks for ``--log-format json`` (read before click parses it)."""
    for index, arg in enumerate(args):
        if arg == "--log-format" and index + 1 < len(args):
            return args[index + 1] == "json"
        if arg == "--log-format=json":
            return True
    return False


# With JSON logs stderr carries JSON lines only, a warning included: the hook comes before the
# command's own imports (typer, rich, the runner, the trackers), which could raise one.
if _json_logs(sys.argv[1:]):
    warnings_as_json()

import typer  # noqa: E402
from rich.console import Console  # noqa: E402

import qtrain  # noqa: E402
from qtrain.app.runner import train_from_config  # noqa: E402
from qtrain.cli import observe, plateau, store, training  # noqa: E402
from qtrain.cli.usage import EPILOG, HELP, OneLineErrors  # noqa: E402
from qtrain.cli.views import friendly_errors  # noqa: E402


class _Qtrain(OneLineErrors):
    """The group, with Python warnings as JSON lines for the whole of a JSON-log command.

    From before the config is read to after the summary: the run's own logging covers only
    the run (``cli.observe.observing``).
    """

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command; the hook is on while it runs if it asks for JSON logs."""
        given = sys.argv[1:] if args is None else list(args)
        restore = warnings_as_json() if _json_logs(given) else None
        try:
            return super().main(
                args, prog_name, complete_var, standalone_mode, windows_expand_args, **extra
            )
        finally:
            if restore is not None:
                restore()


app = typer.Typer(
    cls=_Qtrain,
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: flags without <bool>, no boxes (cli/usage.py)
    help=HELP,
    epilog=EPILOG,
)
# One short line each in `qtrain --help` (click cuts a long first sentence with "...").
app.command(short_help="Train from a config, with a progress bar and checkpoints.")(training.train)
app.command(short_help="Continue a run from its checkpoint.")(training.resume)
app.command(short_help="One gradient at θ₀ with error bars.")(training.grad)
app.command(short_help="Price a run (circuits, shots, time) without running it.")(training.plan)
app.command(short_help="List the built-in problems and their options.")(training.problems)
app.command(short_help="Write a run's HTML report and plots.")(observe.report)
app.command(short_help="Scan gradient variance for barren plateaus.")(plateau.plateau)


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


@app.command(short_help="Train the built-in H₂ VQE and compare with the exact ground state.")
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


app.add_typer(store.store_app, name="store")
