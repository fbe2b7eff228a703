"""``qtrain resume RUN --from-step N``: a new run folder that starts from step ``N`` of ``RUN``.

The parent is never changed. The child's folder is ``--run-dir`` or, by default,
``<RUN>-from-<N>`` beside the parent (``-2``, ``-3``, … when that is taken); what it holds
is described in :mod:`qtrain.train.lineage`.
"""

from __future__ import annotations

from pathlib import Path

from qtrain.errors import CheckpointError
from qtrain.train.lineage import branch
from qtrain.train.rundir import RunDir

__all__ = ["branch_run", "default_branch_dir"]


def default_branch_dir(run_dir: Path, step: int) -> Path:
    """``<run_dir>-from-<step>``, or the first ``-2``, ``-3``, … that does not exist yet."""
    base = Path(run_dir)
    candidate = base.with_name(f"{base.name}-from-{step}")
    number = 2
    while candidate.exists():
        candidate = base.with_name(f"{base.name}-from-{step}-{number}")
        number += 1
    return candidate


def branch_run(run_dir: Path, step: int, new_dir: Path | None = None) -> Path:
    """Make the run folder of ``run_dir`` rolled back to ``step``; return it (not trained yet).

    ``step`` 0 is the start (the child trains from θ₀ with the parent's config); ``N`` is
    the state after ``N`` steps, from the parent's ``lineage.jsonl``.

    Raises:
        CheckpointError: ``run_dir`` is not a run folder, ``step`` is out of range (one
            message naming the range), or ``new_dir`` already holds a run.
    """
    parent = RunDir(Path(run_dir))
    if not parent.config.is_file():
        raise CheckpointError(
            f"{run_dir} is not a run folder (no config.yaml): give the folder qtrain train "
            "printed, such as runs/<name>-<time>-<hash>"
        )
    target = Path(new_dir) if new_dir is not None else default_branch_dir(Path(run_dir), step)
    if target.resolve() == Path(run_dir).resolve():
        raise CheckpointError(f"--run-dir {target} is the parent run itself; choose a new folder")
    branch(parent, step, RunDir(target))
    return target
