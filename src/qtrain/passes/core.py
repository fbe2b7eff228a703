"""Compiler passes: what a pass is, and a :class:`Pipeline` that runs passes in order.

Two kinds of pass, told apart by ``kind`` (statically by its ``Literal`` type, at run time by
its value):

* a **transform** (:class:`Pass`) maps a circuit to a circuit: ``pass_(circuit) -> Circuit``.
  Unitary folding, gate fusion and device transpilation are transforms.
* an **analysis** (:class:`Analysis`) reads a circuit (and whatever else it needs, such as θ
  or an observable) and returns a report: ``pass_(circuit, ...) -> Report``. The
  parameter-shift plan (``passes.param_shift.ParameterShiftPass``) is one.

Options are given when the pass is built, never when it is called, so a pass is a value:
``name`` and ``describe()`` (JSON-ready options) say what it does and ``fingerprint()`` (a
content hash) keys caches and run records. A transform that moves the user's wires (a
router) also implements :class:`Routing` and reports a :class:`~qtrain.passes.layout.Layout`.

>>> from dataclasses import dataclass
>>> from qtrain.ir.circuit import Circuit
>>> @dataclass(frozen=True)
... class Repeat:
...     '''Run the circuit ``times`` times in a row.'''
...     times: int = 2
...     name = "repeat"
...     kind = "transform"
...     def describe(self): return {"name": self.name, "times": self.times}
...     def fingerprint(self): return fingerprint_of(self.describe())
...     def __call__(self, circuit):
...         return Circuit(circuit.n_qubits, circuit.ops * self.times)
>>> isinstance(Repeat(), Pass)
True
>>> pipeline = Pipeline([Repeat(2), Repeat(3)])
>>> compiled = pipeline.run(Circuit(1).h(0))
>>> len(compiled.circuit), [(r.name, r.ops_before, r.ops_after) for r in compiled.records]
(6, [('repeat', 1, 2), ('repeat', 2, 6)])
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Literal,
    Protocol,
    TypeGuard,
    TypeVar,
    runtime_checkable,
)

from qtrain.errors import NotAPassError, PassError
from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable
from qtrain.passes.layout import Layout

__all__ = [
    "Analysis",
    "Compiled",
    "Pass",
    "PassKind",
    "PassRecord",
    "Pipeline",
    "Routing",
    "fingerprint_of",
    "is_analysis",
    "is_transform",
]

PassKind = Literal["transform", "analysis"]
ReportT_co = TypeVar("ReportT_co", covariant=True)

_MEMBERS = ("name", "kind", "describe", "fingerprint", "__call__")


@runtime_checkable
class Pass(Protocol):
    """A transform pass: ``pass_(circuit) -> Circuit``, with its options fixed when built.

    ``isinstance(x, Pass)`` checks that the members exist (Python checks no signatures or
    values); :func:`is_transform` also checks ``kind == "transform"``, as :class:`Pipeline`
    does.
    """

    @property
    def name(self) -> str:
        """Short stable name, e.g. ``"fold"``; recorded for every run."""
        ...

    @property
    def kind(self) -> Literal["transform"]:
        """Always ``"transform"``."""
        ...

    def describe(self) -> dict[str, Any]:
        """The name and every option, JSON-ready."""
        ...

    def fingerprint(self) -> str:
        """Content hash of what the pass does (equal options, equal fingerprints)."""
        ...

    def __call__(self, circuit: Circuit, /) -> Circuit:
        """The transformed circuit (a new value; the input is immutable)."""
        ...


@runtime_checkable
class Routing(Pass, Protocol):
    """A transform that may move the user's wires (a device transpiler): it reports where.

    ``pass_(circuit)`` gives the circuit alone; ``route`` gives the circuit and the
    :class:`~qtrain.passes.layout.Layout` that observables must follow. :class:`Pipeline`
    calls ``route`` when a step has it and composes the layouts.
    """

    def route(self, circuit: Circuit, /) -> tuple[Circuit, Layout]:
        """The transformed circuit and where each of the input's wires went."""
        ...


@runtime_checkable
class Analysis(Protocol[ReportT_co]):
    """An analysis pass: ``pass_(circuit, ...) -> report``; the circuit is not changed.

    The arguments after the circuit are the analysis's own (θ for a gradient plan, an
    observable for a bound); the report type is the protocol's parameter.
    """

    @property
    def name(self) -> str:
        """Short stable name, e.g. ``"parameter-shift"``."""
        ...

    @property
    def kind(self) -> Literal["analysis"]:
        """Always ``"analysis"``."""
        ...

    def describe(self) -> dict[str, Any]:
        """The name and every option, JSON-ready."""
        ...

    def fingerprint(self) -> str:
        """Content hash of what the pass does."""
        ...

    def __call__(self, circuit: Circuit, /, *args: Any, **kwargs: Any) -> ReportT_co:
        """The report on ``circuit``."""
        ...


def is_transform(obj: object) -> TypeGuard[Pass]:
    """Whether ``obj`` has every member of :class:`Pass` and ``kind == "transform"``."""
    return isinstance(obj, Pass) and obj.kind == "transform"


def is_analysis(obj: object) -> TypeGuard[Analysis[object]]:
    """Whether ``obj`` has every member of :class:`Analysis` and ``kind == "analysis"``."""
    return isinstance(obj, Analysis) and obj.kind == "analysis"


def fingerprint_of(description: Mapping[str, Any]) -> str:
    """sha256 hex of a description's canonical JSON (sorted keys, no spaces).

    >>> fingerprint_of({"name": "fold", "scale": 3}) == fingerprint_of({"scale": 3, "name": "fold"})
    True

    Raises:
        PassError: the description is not JSON-ready (naming the offending value).
    """
    try:
        text = json.dumps(description, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise PassError(
            f"a pass description must be JSON-ready: {error}; got {description!r}"
        ) from error
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class PassRecord:
    """One step that ran: which pass, and the circuit before and after.

    Attributes:
        name: the pass's ``name``.
        fingerprint: the pass's ``fingerprint()``.
        before: fingerprint of the circuit it was given.
        after: fingerprint of the circuit it returned.
        ops_before: gate count it was given.
        ops_after: gate count it returned.
    """

    name: str
    fingerprint: str
    before: str
    after: str
    ops_before: int
    ops_after: int


@dataclass(frozen=True)
class Compiled:
    """What a :class:`Pipeline` made of a circuit.

    Attributes:
        circuit: the output circuit.
        layout: where the input's wires ended up (identity unless a :class:`Routing` moved them).
        records: one :class:`PassRecord` per step that ran, in order (nested pipelines
            flattened).
    """

    circuit: Circuit
    layout: Layout
    records: tuple[PassRecord, ...]

    def observable(self, observable: Observable) -> Observable:
        """``observable`` on the input's wires, moved to the output circuit's wires."""
        return self.layout.observable(observable)


def _not_a_pass(index: int, step: object) -> NotAPassError:
    """The error for a pipeline step that is not a transform pass, saying why."""
    label = f"Pipeline step {index} ({type(step).__name__}: {step!r})"
    kind = getattr(step, "kind", None)
    if kind == "analysis":
        return NotAPassError(
            f"{label} is an analysis pass: it returns a report, not a circuit. Run it on the "
            "pipeline's output instead, e.g. report = analysis(pipeline(circuit), ...)"
        )
    missing = [m for m in _MEMBERS if not hasattr(step, m)]
    if missing:
        why = f"it lacks {', '.join(missing)}"
    else:
        why = f"its kind is {kind!r}, not 'transform'"
    return NotAPassError(
        f"{label} is not a transform pass: {why}. A pass has name, kind='transform', "
        "describe(), fingerprint() and __call__(circuit) -> Circuit"
    )


def _validated(passes: Iterable[object]) -> tuple[Pass, ...]:
    if isinstance(passes, str | bytes) or not isinstance(passes, Iterable):
        raise NotAPassError(
            f"Pipeline takes an iterable of pass objects, got {type(passes).__name__}: {passes!r}"
        )
    steps: list[Pass] = []
    for index, step in enumerate(passes):
        if not is_transform(step):
            raise _not_a_pass(index, step)
        steps.append(step)
    return tuple(steps)


class Pipeline:
    """Transform passes run in order; itself a transform pass (and a :class:`Routing`).

    Every step is checked when the pipeline is built (:class:`~qtrain.errors.NotAPassError`
    names the first step that is not a transform pass), and every output when it runs
    (:class:`~qtrain.errors.PassError` names a step that returned something other than a
    circuit, or changed the qubit count without reporting a layout).

    >>> from qtrain.ir.circuit import Circuit
    >>> Pipeline([print])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    qtrain.errors.NotAPassError: Pipeline step 0 (...) is not a transform pass: it lacks name, ...
    >>> empty = Pipeline([])
    >>> empty(Circuit(1).h(0)) == Circuit(1).h(0), empty.describe()
    (True, {'name': 'pipeline', 'steps': []})
    """

    name: ClassVar[str] = "pipeline"
    kind: ClassVar[Literal["transform"]] = "transform"
    __slots__ = ("_steps",)

    def __init__(self, passes: Iterable[Pass]) -> None:
        self._steps = _validated(passes)

    @property
    def steps(self) -> tuple[Pass, ...]:
        """The passes, in the order they run."""
        return self._steps

    def __len__(self) -> int:
        return len(self._steps)

    def __repr__(self) -> str:
        return f"Pipeline([{', '.join(repr(step) for step in self._steps)}])"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pipeline) and self.fingerprint() == other.fingerprint()

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    def describe(self) -> dict[str, Any]:
        """The name and each step's ``describe()``, in order."""
        return {"name": self.name, "steps": [step.describe() for step in self._steps]}

    def fingerprint(self) -> str:
        """Content hash over the steps' fingerprints, in order."""
        return fingerprint_of(
            {"name": self.name, "steps": [step.fingerprint() for step in self._steps]}
        )

    def __call__(self, circuit: Circuit, /) -> Circuit:
        """The circuit after every step."""
        return self.run(circuit).circuit

    def route(self, circuit: Circuit, /) -> tuple[Circuit, Layout]:
        """The circuit after every step, and where its wires went."""
        compiled = self.run(circuit)
        return compiled.circuit, compiled.layout

    def run(self, circuit: Circuit) -> Compiled:
        """Run every step; the output circuit, the composed layout and a record per step.

        Raises:
            PassError: a step returned something other than a circuit, or changed the qubit
                count without reporting a layout (naming the step).
        """
        layout = Layout.identity(circuit.n_qubits)
        records: list[PassRecord] = []
        for index, step in enumerate(self._steps):
            if isinstance(step, Pipeline):
                inner = step.run(circuit)
                circuit, moved = inner.circuit, inner.layout
                records.extend(inner.records)
            else:
                before = circuit
                circuit, moved = _apply(index, step, before)
                records.append(
                    PassRecord(
                        step.name,
                        step.fingerprint(),
                        before.fingerprint(),
                        circuit.fingerprint(),
                        len(before),
                        len(circuit),
                    )
                )
            layout = layout.then(moved)
        return Compiled(circuit, layout, tuple(records))


def _apply(index: int, step: Pass, circuit: Circuit) -> tuple[Circuit, Layout]:
    """Run one step and check what it returned."""
    label = f"Pipeline step {index} ({step.name})"
    if isinstance(step, Routing):
        routed = step.route(circuit)
        if not (isinstance(routed, tuple) and len(routed) == 2):
            raise PassError(f"{label}: route must return (circuit, layout), got {routed!r}")
        output, moved = routed
    else:
        output, moved = step(circuit), None
    if not isinstance(output, Circuit):
        raise PassError(f"{label} returned {type(output).__name__}, not a Circuit: {output!r}")
    if moved is None:
        if output.n_qubits != circuit.n_qubits:
            raise PassError(
                f"{label} changed the qubit count from {circuit.n_qubits} to "
                f"{output.n_qubits} without reporting a layout; a pass that moves wires "
                "implements route(circuit) -> (circuit, Layout)"
            )
        return output, Layout.identity(circuit.n_qubits)
    if not isinstance(moved, Layout):
        raise PassError(f"{label}: route returned {type(moved).__name__}, not a Layout")
    if len(moved.wires) != circuit.n_qubits or moved.n_qubits != output.n_qubits:
        raise PassError(
            f"{label}: its layout places {len(moved.wires)} wire(s) on {moved.n_qubits}, "
            f"but the circuit went from {circuit.n_qubits} to {output.n_qubits} qubits"
        )
    return output, moved


if TYPE_CHECKING:  # mypy proves the pipeline is a transform pass and reports layouts

    def _pipeline_is_a_pass(pipeline: Pipeline) -> Routing:
        return pipeline
