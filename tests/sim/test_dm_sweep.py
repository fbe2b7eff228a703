"""The two-sweep evaluation of exact parameter-shift batches against the ordinary batch.

``sim.dm_sweep`` evaluates rows that differ from row 0 in one step by a forward and a
backward sweep; it must give every such row the value a full simulation gives, leave the
other rows alone, and be what ``LocalSimulator`` uses for large exact batches.
"""

from __future__ import annotations

import numpy as np
import pytest

import qtrain as qt
from qtrain.backends import local_run
from qtrain.passes.param_shift import shifted_rows
from qtrain.passes.slots import lower
from qtrain.sim.density_matrix import compile_density_program, density_probabilities
from qtrain.sim.dm_sweep import single_step_rows, sweep_values
from qtrain.sim.measure import exact_values, measurement_plan
from qtrain.sim.readout_map import ReadoutMap
from qtrain.sim.statevector import run_program, select_kernels

NOISE = (
    qt.NoiseModel()
    .after("RY", qt.noise.depolarizing(0.05))
    .after("CNOT", qt.noise.depolarizing(0.08, n_wires=2))
    .after("CRX", qt.noise.thermal_relaxation(40.0, 30.0, 2.0))
    .after_all(qt.noise.amplitude_damping(0.03))
    .before_measure(qt.noise.phase_flip(0.02))
    .readout(qt.noise.readout_error(0.03, 0.06))
)


def circuit() -> qt.Circuit:
    t = qt.P
    return (
        qt.Circuit(3)
        .ry(0, t(0))
        .rz(1, 2 * t(1) + 0.3)
        .cnot(0, 1)
        .crx(1, 2, t(2))
        .u3(2, t(3), t(0), 0.2)
        .h(0)
        .rzz(0, 2, t(4))
        .cnot(2, 0)
        .rx(1, t(1))
    )


@pytest.mark.parametrize("kernels", ["numpy", "numba"])
def test_sweep_values_equal_the_ordinary_batch(kernels):
    c = circuit()
    observables = [qt.Z(0) + 0.5 * qt.X(1) @ qt.Y(2) - 0.3, qt.Y(0) @ qt.Z(2)]
    theta = np.random.default_rng(3).normal(size=c.n_params)
    program_slots = lower(c)
    rows, _ = shifted_rows(program_slots, theta)
    rows = np.vstack([rows, rows[0] + 0.1])  # a row differing in every slot: not swept
    k = select_kernels(kernels)
    program = compile_density_program(program_slots.shift_circuit, NOISE)
    plans = [measurement_plan(o, 3) for o in observables]
    readout = ReadoutMap.of(NOISE.readout_errors(3), 3)
    swept = sweep_values(program, rows, plans, readout=readout, kernels=k, budget=1 << 30)
    assert swept is not None
    values, done = swept
    assert done[:-1].all() and not done[-1]
    states = run_program(program, rows, k)
    hook = density_probabilities(states, 3, k)
    for o, plan in enumerate(plans):
        full = exact_values(states, plan, k, readout=readout, probabilities=hook)
        np.testing.assert_allclose(values[done, o], full[done], atol=1e-12)


def test_single_step_rows_classifies_rows():
    c = circuit()
    program = compile_density_program(lower(c).shift_circuit, NOISE)
    base = np.zeros(lower(c).n_slots)
    one = base.copy()
    one[2] = 0.5
    two = base.copy()
    two[[0, 4]] = 0.5
    at = single_step_rows(program, np.vstack([base, one, two, base]))
    assert at[0] == -1 and at[1] >= 0 and at[2] == -1 and at[3] == -1


def test_large_exact_batches_go_through_the_sweeps(monkeypatch):
    """At n = 6 a param-shift batch is over the threshold: the sweep runs and agrees."""
    calls = []
    original = local_run.sweep_values

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(local_run, "sweep_values", counted)
    c = qt.ansatz.hardware_efficient(6, 1)
    theta = np.random.default_rng(1).normal(size=c.n_params)
    sim = qt.LocalSimulator(noise=NOISE)
    swept = qt.grad(c, qt.Z(0) + qt.Z(5), theta, method="param-shift", backend=sim)
    assert calls
    central = qt.grad(c, qt.Z(0) + qt.Z(5), theta, method="finite-diff", backend=sim)
    np.testing.assert_allclose(swept.value, central.value, atol=1e-6)
