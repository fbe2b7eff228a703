"""``qtrain train | resume | grad | plan | problems``: the commands over ``app.runner``."""

from __future__ import annotations

import json
import signal
import warnings
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from qtrain.app.config import RunConfig, load_config
from qtrain.app.runner import (
    gradient_from_config,
    plan_from_config,
    resume_from_dir,
    train_from_config,
)
from qtrain.cli.observe import (
    METRICS_GRACE_S,
    LogFormat,
    LogFormatOption,
    LogLevelOption,
    MetricsGrace,
    MetricsHost,
    MetricsPort,
    MetricsPush,
    Observe,
    observing,
    tell,
)
from qtrain.cli.outcome import run_notes, stop_exit
from qtrain.cli.plan_view import circuits_cell, time_lines
from qtrain.cli.views import ProgressTracker, friendly_errors, summary_table, value_with_error
from qtrain.diagnostics.monitor import PlateauWarning
from qtrain.errors import CheckpointError
from qtrain.mitigation.extrapolation import MitigationWarning
from qtrain.problems import PROBLEMS
from qtrain.sim.statevector import format_bytes
from qtrain.train.loop import FitResult

__all__ = ["grad", "plan", "problems", "resume", "run_and_report", "train"]

ConfigPath = Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A YAML run config.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON to stdout instead of tables.")]
FromStep = Annotated[
    int | None,
    typer.Option("--from-step", min=0, help="Branch: a new run from the state after step N."),
]
BranchDir = Annotated[
    Path | None, typer.Option("--run-dir", help="The new run folder of --from-step.")
]


def _terminate_as_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM (a scheduler's pre-emption) stops like Ctrl-C


def run_and_report(
    start: Any,
    *,
    console: Console,
    as_json: bool,
    title: str,
    budget: tuple[int, int | None],
    observe: Observe | None = None,
) -> FitResult:
    """Run ``start(trackers)`` with a progress bar, then print the summary; exit 130 if cut.

    ``observe`` configures logs and serves metrics for the length of the run and, after the
    summary, for its grace period (with JSON logs there is no bar, and the notes after the
    summary follow :func:`observe.tell`).
    """
    options = observe or Observe()
    tracker = ProgressTracker(console, total_steps=budget[0], max_shots=budget[1])
    previous = signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    try:
        with observing(console, options, progress=tracker) as run, warnings.catch_warnings():
            # The monitor's decisions reach the terminal as log lines (and metrics.jsonl);
            # the Python warning a library user gets would only repeat them here.
            warnings.simplefilter("ignore", PlateauWarning)
            warnings.simplefilter("ignore", MitigationWarning)  # logged: mitigation.fallback
            result: FitResult = start(run.trackers)
    finally:
        tracker.close()  # a run that failed: its error must not be glued to the bar
        signal.signal(signal.SIGTERM, previous)
    try:
        if as_json:
            typer.echo(json.dumps({**result.summary, "run_dir": str(result.run_dir)}, indent=2))
        else:
            console.print(summary_table(result.summary, title=title))
            console.print(f"run directory: {result.run_dir}", highlight=False)
        for event, text in run_notes(result.summary, result.run_dir, first_step=run.first_step):
            tell(console, options, event, text)  # where MLflow logged it; a resume, no budget
        if result.stopped_by == "interrupted":
            text = (
                f"interrupted after step {result.steps}; the checkpoint is saved. "
                f"Continue with: qtrain resume {result.run_dir}"
            )
            tell(console, options, "run.interrupted", text, style="yellow")
            raise typer.Exit(130)
        paused = stop_exit(result.summary, result.run_dir)  # drift: exit 75, how to resume
        if paused is not None:
            tell(console, options, paused[1], paused[2], style="yellow")
            raise typer.Exit(paused[0])
    finally:  # the final metrics stay up for --metrics-grace seconds (not after Ctrl-C)
        run.linger(console, options, wait=result.stopped_by != "interrupted")
    return result


@friendly_errors
def train(
    config: ConfigPath,
    run_dir: Annotated[
        Path | None, typer.Option(help="Run folder (default: <run.dir>/<name>-<time>-<hash>).")
    ] = None,
    as_json: AsJson = False,
    *,
    metrics_port: MetricsPort = None,
    metrics_host: MetricsHost = "127.0.0.1",
    metrics_grace: MetricsGrace = METRICS_GRACE_S,
    metrics_push: MetricsPush = None,
    log_format: LogFormatOption = LogFormat.human,
    log_level: LogLevelOption = None,
) -> None:
    """Train from CONFIG with a live progress bar; checkpoints every step."""
    spec = load_config(config)
    console = Console(stderr=as_json)
    run_and_report(
        lambda trackers: train_from_config(spec, run_dir=run_dir, trackers=trackers)[0],
        console=console,
        as_json=as_json,
        title=f"qtrain train: {spec.name}",
        budget=(spec.budget.max_steps, spec.budget.max_shots),
        observe=Observe(
            metrics_port, log_format, log_level, metrics_host, metrics_grace, metrics_push
        ),
    )


@friendly_errors
def resume(
    run_dir: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="A run folder.")],
    max_steps: Annotated[int | None, typer.Option(min=1, help="New step budget.")] = None,
    max_shots: Annotated[int | None, typer.Option(min=1, help="New shot budget.")] = None,
    max_seconds: Annotated[float | None, typer.Option(min=0.0, help="New time budget.")] = None,
    as_json: AsJson = False,
    *,
    max_cost: Annotated[
        float | None, typer.Option(min=0.0, help="New money budget (needs pricing:).")
    ] = None,
    from_step: FromStep = None,
    new_run_dir: BranchDir = None,
    metrics_port: MetricsPort = None,
    metrics_host: MetricsHost = "127.0.0.1",
    metrics_grace: MetricsGrace = METRICS_GRACE_S,
    metrics_push: MetricsPush = None,
    log_format: LogFormatOption = LogFormat.human,
    log_level: LogLevelOption = None,
) -> None:
    """Continue the run in RUN_DIR from its checkpoint (bit-identical to an unbroken run).

    With --from-step N: a new run folder (--run-dir, default RUN_DIR-from-N) starts from the
    state after step N of RUN_DIR, which it records as its parent, and continues.
    """
    if new_run_dir is not None and from_step is None:
        raise typer.BadParameter(
            "needs --from-step N (the step to branch from)", param_hint="--run-dir"
        )
    if not (run_dir / "config.yaml").is_file():
        raise CheckpointError(
            f"{run_dir} is not a run folder (no config.yaml): give the folder qtrain train "
            "printed, such as runs/<name>-<time>-<hash>"
        )
    spec = load_config(run_dir / "config.yaml")
    budget = {"max_steps": max_steps, "max_shots": max_shots, "max_seconds": max_seconds}
    budget["max_cost"] = max_cost  # a run stopped by money goes on with a larger budget
    console = Console(stderr=as_json)
    run_and_report(
        lambda trackers: resume_from_dir(
            run_dir, budget=budget, trackers=trackers, from_step=from_step, new_dir=new_run_dir
        ),
        console=console,
        as_json=as_json,
        title=f"qtrain resume: {spec.name}",
        budget=(max_steps or spec.budget.max_steps, max_shots or spec.budget.max_shots),
        observe=Observe(
            metrics_port, log_format, log_level, metrics_host, metrics_grace, metrics_push
        ),
    )


@friendly_errors
def grad(config: ConfigPath, as_json: AsJson = False) -> None:
    """One loss and gradient at θ₀ with error bars (the config's method, shots, backend)."""
    prepared, evaluation = gradient_from_config(load_config(config))
    stderr = evaluation.gradient_stderr
    data = {
        "loss": evaluation.loss,
        "loss_stderr": evaluation.loss_stderr,
        "gradient": evaluation.gradient.tolist(),
        "gradient_stderr": None if stderr is None else stderr.tolist(),
        "method": evaluation.method,
        "circuits": evaluation.n_circuits,
        "shots": evaluation.shots,
        "seed": prepared.config.seed,
    }
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    table = Table(title=f"gradient at θ₀ ({evaluation.method})")
    for column in ("k", "θ₀", "∂L/∂θ_k", "SNR"):
        table.add_column(column, justify="right")
    for k, value in enumerate(evaluation.gradient):
        err = None if stderr is None else float(stderr[k])
        snr = "-" if err is None or err == 0 else f"{abs(value) / err:.1f}"
        table.add_row(str(k), f"{prepared.theta0[k]:.4f}", value_with_error(float(value), err), snr)
    console = Console()
    console.print(table)
    console.print(
        f"loss {value_with_error(evaluation.loss, evaluation.loss_stderr)}   "
        f"circuits {evaluation.n_circuits}   shots {evaluation.shots:,}",
        highlight=False,
    )


@friendly_errors
def plan(config: ConfigPath, as_json: AsJson = False) -> None:
    """Dry run: circuits, shots and estimated time per step and for the run; nothing runs."""
    report = plan_from_config(load_config(config))
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    step = report["step"]

    def seconds(value: float | None) -> str:
        return "unknown" if value is None else f"~{value:.3g} s"

    table = Table(title=f"qtrain plan: {report['name']} ({report['method']})")
    table.add_column("")
    table.add_column("per step", justify="right")
    table.add_column("whole run", justify="right")
    table.add_row("steps", "1", f"{report['steps']:,} of max {report['max_steps']:,}")
    table.add_row("circuits (rows)", circuits_cell(step), "")
    total = f"{report['total_shots']:,}"
    if report["max_shots"] is not None:
        total += f" of max {report['max_shots']:,}"
    table.add_row("shots", f"{step['shots']:,}", total)
    table.add_row("time", seconds(step["estimated_seconds"]), seconds(report["estimated_seconds"]))
    for row in _mitigation_table_rows(report):
        table.add_row(*row)
    console = Console()
    console.print(table)
    for name, value in _simulation_rows(report) + _mitigation_rows(report) + time_lines(report):
        console.print(f"{name}: {value}", highlight=False, soft_wrap=True)
    if report["adaptive_shots"]:
        console.print("the optimizer adapts its shots: later steps may cost more or less")


def _simulation_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    """``simulation``: the method and memory per row of each circuit width; the noise model."""
    rows = []
    several = len(report["simulation"]) > 1
    for sim in report["simulation"]:
        label = f"simulation ({sim['n_qubits']} qubits)" if several else "simulation"
        memory = format_bytes(sim["bytes_per_row"])
        rows.append((label, f"{sim['method']}, {memory} per row ({sim['reason']})"))
    backend = report["backend"]
    if backend.get("device") is not None:  # a Qiskit backend: its device, not a simulation
        options = f"{backend['execution']} execution, optimization level "
        options += f"{backend['optimization_level']}, seed_transpiler {backend['seed_transpiler']}"
        rows.append(("backend", f"qiskit {backend['device']} ({options})"))
    if backend.get("model") is not None:
        rows.append(("noise model", f"{backend['model'][:12]}, {backend['source']}"))
    return rows


def _mitigation_table_rows(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    """What the mitigated backend runs per step and for the run (``qt.Mitigated.overhead``)."""
    spec = report.get("mitigation")
    if not spec:
        return []
    step, plain, calibration = spec["step"], spec["unmitigated"], spec["calibration"]
    factors = spec["scale_factors"]
    rows = f"{step['rows']:,}"
    if factors > 1:
        rows += f" ({plain['rows']:,} × {factors} factors)"
    run_rows = f"{step['rows'] * report['steps']:,}"
    if calibration["circuits"]:
        run_rows += f" + {calibration['circuits']} calibration"
    run_shots = f"{spec['total_shots']:,}"
    if calibration["shots"]:
        run_shots += f" (incl. {calibration['shots']:,} calibration)"
    return [
        ("mitigated circuits (rows)", rows, run_rows),
        ("mitigated shots", f"{step['shots']:,}", run_shots),
    ]


def _mitigation_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    """``mitigation``: the readout source and the ZNE options; ZNE's variance cost in words."""
    spec = report.get("mitigation")
    if not spec:
        return []
    parts = []
    readout, zne, calibration = spec["readout"], spec["zne"], spec["calibration"]
    if readout is not None and readout["source"] == "measured":
        cost = f"{calibration['shots']:,} shots, seed {readout['seed']}"
        parts.append(
            f"readout inverted, calibration measured once ({calibration['circuits']} circuits, "
            f"{cost if calibration['shots'] else 'exact'})"
        )
    elif readout is not None:
        parts.append("readout inverted with the given calibration")
    if zne is not None:
        factors = ", ".join(f"{f:g}" for f in zne["factors"])
        extrapolation = zne["extrapolation"]
        if isinstance(extrapolation, list):
            extrapolation = f"polynomial (degree {extrapolation[1]})"
        parts.append(
            f"ZNE at scale factors {factors} ({extrapolation} extrapolation, "
            f"{zne['folding']} folding)"
        )
    rows = [("mitigation", "; ".join(parts))]
    if zne is not None and spec["step"]["shots"]:  # exact values: ZNE costs no variance
        exponential = zne["extrapolation"] == "exponential"
        rows.append(
            (
                "variance",
                f"ZNE multiplies each value's variance by ~{spec['variance_factor']:.3g} at equal "
                f"shots: stderr ×{spec['stderr_factor']:.2g}"
                + (" (more as the values decay: the fit's weights grow)" if exponential else ""),
            )
        )
    return rows


def problems(as_json: AsJson = False) -> None:
    """List the built-in problems and their options."""
    listing = {
        name: {"description": info.description, "options": dict(info.options)}
        for name, info in PROBLEMS.items()
    }
    if as_json:
        typer.echo(json.dumps(listing, indent=2, default=str))
        return
    table = Table(title="built-in problems (problem: {name: ..., <options>})")
    table.add_column("name")
    table.add_column("description")
    table.add_column("options (defaults)")
    for name, info in PROBLEMS.items():
        options = ", ".join(f"{k}={v!r}" for k, v in info.options.items())
        table.add_row(name, info.description, options)
    Console().print(table)


def quickstart_config(*, shots: int, steps: int, seed: int) -> RunConfig:
    """The README's main job: H₂ VQE (UCC double excitation) with Adam and sampled gradients."""
    from qtrain.app.config import parse_config  # noqa: PLC0415 - only for the quickstart

    return parse_config(
        {
            "name": "quickstart-h2",
            "seed": seed,
            "problem": {"name": "h2", "bond_length": 0.7414, "ansatz": "ucc"},
            "optimizer": {"name": "adam", "learning_rate": 0.05},
            "gradient": {"method": "param-shift", "shots": shots},
            "budget": {"max_steps": steps},
        }
    )
