from dataclasses import dataclass

import numpy as np
import pytest

import qtrain as qt
from qtrain.errors import NotAPassError, PassError
from qtrain.ir.observables import Observable
from qtrain.passes.core import (
    Analysis,
    Compiled,
    Pass,
    Pipeline,
    Routing,
    fingerprint_of,
    is_analysis,
    is_transform,
)
from qtrain.passes.layout import Layout
from qtrain.testing.reference import reference_expval


@dataclass(frozen=True)
class Append:
    """Append one fixed gate to every wire (order-sensitive, so composition order shows)."""

    gate: str
    name = "append"
    kind = "transform"

    def describe(self):
        return {"name": self.name, "gate": self.gate}

    def fingerprint(self):
        return fingerprint_of(self.describe())

    def __call__(self, circuit):
        for q in range(circuit.n_qubits):
            circuit = circuit.gate(self.gate, q)
        return circuit


@dataclass(frozen=True)
class Fold:
    """Global unitary folding U → U (U† U)^k, the circuit map of zero-noise extrapolation."""

    k: int = 1
    name = "fold"
    kind = "transform"

    def describe(self):
        return {"name": self.name, "k": self.k}

    def fingerprint(self):
        return fingerprint_of(self.describe())

    def __call__(self, circuit):
        folded = circuit
        for _ in range(self.k):
            folded = folded.compose(circuit.inverse()).compose(circuit)
        return folded


@dataclass(frozen=True)
class Reverse:
    """A toy router: reverses the wires onto a device with one extra qubit, and says so."""

    name = "reverse"
    kind = "transform"

    def describe(self):
        return {"name": self.name}

    def fingerprint(self):
        return fingerprint_of(self.describe())

    def route(self, circuit):
        n = circuit.n_qubits
        wires = tuple(range(n - 1, -1, -1))
        return qt.Circuit(n + 1).compose(circuit, wires), Layout(wires, n + 1)

    def __call__(self, circuit):
        return self.route(circuit)[0]


@dataclass(frozen=True)
class Broken:
    """Returns whatever it was told to, to exercise the pipeline's output checks."""

    output: object
    name = "broken"
    kind = "transform"

    def describe(self):
        return {"name": self.name}

    def fingerprint(self):
        return fingerprint_of(self.describe())

    def __call__(self, circuit):
        return self.output


C = qt.Circuit(2).ry(0, qt.P(0)).cnot(0, 1).crx(0, 1, 2 * qt.P(1) + 0.3).rz(1, qt.P(0))
H = 0.5 * qt.Z(0) @ qt.Z(1) - qt.X(1) + 0.3 * qt.Y(0)
THETA = np.array([0.4, -0.9])


def test_core_protocol_runtime_check_is_structural_and_kind_aware():
    assert isinstance(Append("H"), Pass) and is_transform(Append("H"))
    assert isinstance(Reverse(), Routing) and not isinstance(Append("H"), Routing)
    assert not isinstance(lambda circuit: circuit, Pass)
    assert not is_transform(lambda circuit: circuit)

    @dataclass(frozen=True)
    class NoFingerprint:
        name = "nofp"
        kind = "transform"

        def describe(self):
            return {}

        def __call__(self, circuit):
            return circuit

    assert not isinstance(NoFingerprint(), Pass)
    analysis = qt.ParameterShiftPass()
    assert isinstance(analysis, Analysis) and is_analysis(analysis)
    assert not is_transform(analysis) and not is_analysis(Append("H"))


def test_core_pipeline_runs_steps_in_order_and_records_them():
    pipeline = Pipeline([Append("H"), Append("X")])
    compiled = pipeline.run(C)
    assert isinstance(compiled, Compiled)
    assert compiled.circuit == C.h(0).h(1).x(0).x(1) == pipeline(C)
    assert compiled.layout == Layout.identity(2)
    first, second = compiled.records
    assert (first.name, first.ops_before, first.ops_after) == ("append", 4, 6)
    assert (second.ops_before, second.ops_after) == (6, 8)
    assert first.before == C.fingerprint() and first.after == second.before
    assert second.after == compiled.circuit.fingerprint()
    assert first.fingerprint == Append("H").fingerprint() != second.fingerprint
    assert Pipeline([Append("X"), Append("H")])(C) != compiled.circuit  # order matters


def test_core_pipeline_is_a_pass_and_nests():
    inner = Pipeline([Append("H"), Append("X")])
    assert is_transform(inner) and isinstance(inner, Routing)
    nested = Pipeline([inner, Append("Z")])
    flat = Pipeline([Append("H"), Append("X"), Append("Z")])
    assert nested(C) == flat(C)
    assert [r.fingerprint for r in nested.run(C).records] == [
        r.fingerprint for r in flat.run(C).records
    ]
    assert len(nested) == 2 and nested.steps == (inner, Append("Z"))
    assert Pipeline([])(C) == C and Pipeline([]).run(C).records == ()


def test_core_pipeline_identity_is_its_steps():
    one = Pipeline([Append("H"), Fold(2)])
    same = Pipeline(p for p in [Append("H"), Fold(2)])
    assert one == same and hash(one) == hash(same) and one.fingerprint() == same.fingerprint()
    assert Pipeline([Fold(2), Append("H")]).fingerprint() != one.fingerprint()
    assert Pipeline([Append("H"), Fold(3)]) != one
    assert one.describe() == {
        "name": "pipeline",
        "steps": [{"name": "append", "gate": "H"}, {"name": "fold", "k": 2}],
    }
    assert repr(one) == "Pipeline([Append(gate='H'), Fold(k=2)])"
    assert fingerprint_of({"a": 1, "b": [2]}) == fingerprint_of({"b": [2], "a": 1})


def test_core_folding_pipeline_then_parameter_shift_analysis():
    folded = Pipeline([Fold(1)])(C)
    assert len(folded) == 3 * len(C)
    assert reference_expval(folded, H, THETA) == pytest.approx(reference_expval(C, H, THETA))
    plan = qt.ParameterShiftPass()(folded, THETA)
    values = np.array([reference_expval(c, H) for c in plan.circuits])
    np.testing.assert_allclose(
        plan.recombine(values), qt.grad(C, H, THETA, method="adjoint").value, atol=1e-12
    )


@pytest.mark.parametrize(
    ("steps", "pattern"),
    [
        ([Append("H"), print], r"step 1 \(builtin_function_or_method: .*lacks name, kind, desc"),
        ([lambda c: c], r"step 0 \(function: .*is not a transform pass: it lacks name"),
        ([qt.ParameterShiftPass()], r"step 0 \(ParameterShiftPass: .*is an analysis pass"),
        ([Append("H"), "fold"], r"step 1 \(str: 'fold'\)"),
        (Append("H"), r"iterable of pass objects, got Append"),
        ("fold", r"iterable of pass objects, got str: 'fold'"),
    ],
)
def test_core_pipeline_rejects_non_passes_up_front(steps, pattern):
    with pytest.raises(NotAPassError, match=pattern) as caught:
        Pipeline(steps)
    assert isinstance(caught.value, qt.QtrainError) and isinstance(caught.value, TypeError)


def test_core_pipeline_rejects_a_step_of_another_kind():
    @dataclass(frozen=True)
    class Odd(Append):
        kind = "optimisation"

    with pytest.raises(NotAPassError, match=r"its kind is 'optimisation', not 'transform'"):
        Pipeline([Odd("H")])


def test_core_pipeline_checks_what_each_step_returns():
    with pytest.raises(PassError, match=r"step 1 \(broken\) returned str, not a Circuit"):
        Pipeline([Append("H"), Broken("oops")])(C)
    with pytest.raises(PassError, match=r"from 2 to 3 without reporting a layout"):
        Pipeline([Broken(qt.Circuit(3))])(C)


def test_core_pipeline_composes_layouts_so_observables_follow_the_wires():
    pipeline = Pipeline([Append("H"), Reverse(), Append("S"), Reverse()])
    compiled = pipeline.run(C)
    assert compiled.circuit.n_qubits == 4
    assert compiled.layout == Layout((1, 2), 4)  # wire 0 → 1 → 1 (of 4), wire 1 → 0 → 2
    routed = reference_expval(compiled.circuit, compiled.observable(H), THETA)
    direct = Append("S")(Append("H")(C))
    assert routed == pytest.approx(reference_expval(direct, H, THETA))
    assert abs(reference_expval(compiled.circuit, H, THETA) - routed) > 1e-3  # moving matters
    routed, layout = pipeline.route(C)
    assert routed == compiled.circuit and layout == compiled.layout
    assert isinstance(compiled.observable(H), Observable)


def test_core_pipeline_checks_a_routers_layout():
    @dataclass(frozen=True)
    class LyingRouter(Reverse):
        def route(self, circuit):
            return qt.Circuit(circuit.n_qubits + 1), Layout((0,), 3)

    with pytest.raises(PassError, match=r"places 1 wire\(s\) on 3.*from 2 to 3 qubits"):
        Pipeline([LyingRouter()])(C)


def test_core_fingerprint_of_needs_json():
    with pytest.raises(PassError, match="JSON-ready"):
        fingerprint_of({"name": "x", "value": object()})
    with pytest.raises(PassError, match="JSON-ready"):
        fingerprint_of({"name": "x", "value": float("nan")})


def test_core_top_level_exports():
    assert qt.Pass is Pass and qt.Pipeline is Pipeline
