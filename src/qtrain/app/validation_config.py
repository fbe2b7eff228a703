"""``validation:``: a held-out part of the data, evaluated every ``k`` steps while training.

For the built-in classifier the config names a split::

    problem: {name: classifier, n_points: 40}
    gradient: {method: param-shift, shots: 200}
    validation: {split: 0.25, every: 5, shots: 2000, max_shots: 40000}

A seeded quarter of the points (``SeedSequence(seed, spawn_key=(2,))``: independent of θ₀'s
stream, the same on every resume) is held out: the training objective is the other points,
the validation objective these, and every ``every`` steps ``StepRecord.validation`` gets
their loss, its standard error, the shots and their accuracy (``train/validation.py``).
``shots`` is the total of one evaluation; the run samples, so it is required (an exact run
validates exactly, and then ``shots`` is refused). Problems without data points (``h2``,
``maxcut``, a circuit and observable) have nothing to hold out: ``validation`` is refused for
them, naming what is supported.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, overload

import numpy as np
from pydantic import Field

from qtrain.app.config_errors import StrictModel
from qtrain.errors import ConfigError
from qtrain.problems import Problem
from qtrain.train.objective import Objective
from qtrain.train.validation import Validation

__all__ = ["SPLIT_STREAM", "ValidationConfig", "held_out_split", "validation_hook"]

SPLIT_STREAM = 2
"""The split's child stream of the run's seed (θ₀'s ``init`` uses 1)."""


class ValidationConfig(StrictModel):
    """``validation: {split: 0.25, every: 10, shots: 2000, max_shots: 100000}``."""

    split: Annotated[float, Field(gt=0, lt=1)] = 0.25
    every: Annotated[int, Field(ge=1)] = 10
    shots: Annotated[int, Field(ge=2)] | None = None
    max_shots: Annotated[int, Field(ge=1)] | None = None


def _subset(problem: Problem, indices: list[int], part: str, split: float) -> Problem:
    """The problem restricted to the data points ``indices`` (its metadata too)."""
    assert problem.targets is not None  # a classifier's labels
    metadata: dict[str, Any] = dict(problem.metadata)
    labels = [int(problem.targets[k]) for k in indices]
    if "points" in metadata:
        metadata["points"] = [metadata["points"][k] for k in indices]
    metadata.update(
        labels=labels,
        n_points=len(indices),
        n_positive=sum(1 for y in labels if y == 1),
        split={"part": part, "held_out": split, "of_points": problem.n_terms},
    )
    return dataclasses.replace(
        problem,
        description=f"{problem.description} ({part}: {len(indices)} of {problem.n_terms})",
        circuits=tuple(problem.circuits[k] for k in indices),
        observables=tuple(problem.observables[k] for k in indices),
        targets=problem.targets[indices],
        metadata=metadata,
    )


@overload
def held_out_split(
    problem: Problem, spec: ValidationConfig | None, seed: int | None
) -> tuple[Problem, Problem | None]: ...


@overload
def held_out_split(
    problem: None, spec: ValidationConfig | None, seed: int | None
) -> tuple[None, None]: ...


def held_out_split(
    problem: Problem | None, spec: ValidationConfig | None, seed: int | None
) -> tuple[Problem | None, Problem | None]:
    """``(training problem, validation problem)``: ``problem`` split by ``spec``.

    Without ``spec``: ``(problem, None)``.

    Raises:
        ConfigError: naming ``validation``: the problem has no data points to hold out (only
            ``problem: classifier`` has), or the split leaves no point on one side.
    """
    if spec is None:
        return problem, None
    if problem is None or problem.targets is None or problem.name != "classifier":
        what = "a circuit and observable" if problem is None else f"problem {problem.name!r}"
        raise ConfigError(
            f"validation: {what} has no data points to hold out; validation is supported "
            "for problem: classifier (a held-out split, validation.split)"
        )
    assert seed is not None  # drawn by prepare first
    total = problem.n_terms
    held = round(spec.split * total)
    if not 1 <= held <= total - 1:
        raise ConfigError(
            f"validation.split {spec.split} of {total} points holds out {held}: give a split "
            "that leaves at least one point for validation and one for training"
        )
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(SPLIT_STREAM,)))
    order = rng.permutation(total)
    validation = sorted(int(k) for k in order[:held])
    training = sorted(int(k) for k in order[held:])
    return (
        _subset(problem, training, "training", spec.split),
        _subset(problem, validation, "validation", spec.split),
    )


def validation_hook(
    problem: Problem | None, spec: ValidationConfig | None, *, sampled: bool
) -> Validation | None:
    """The validation step hook for the held-out ``problem`` (``None`` without one).

    ``sampled``: whether the run samples its gradients (then validation samples too, and
    ``validation.shots`` is required; an exact run validates exactly).

    Raises:
        ConfigError: naming ``validation.shots``: missing for a sampled run, given for an
            exact one, or too few for the held-out points.
    """
    if problem is None or spec is None:
        return None
    if sampled and spec.shots is None:
        raise ConfigError(
            "validation.shots: the run samples its gradients, so validation samples too: "
            "give validation.shots, the shots of one evaluation (split over the points)"
        )
    if not sampled and spec.shots is not None:
        raise ConfigError(
            f"validation.shots: the run is exact (no gradient shots), so validation is exact "
            f"too; drop validation.shots ({spec.shots})"
        )
    try:
        return Validation(
            Objective.from_problem(problem),
            every=spec.every,
            shots=spec.shots,
            max_shots=spec.max_shots,
            metrics=problem.report,
        )
    except ConfigError as error:
        raise ConfigError(f"validation.shots: {error}") from None
