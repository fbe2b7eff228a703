import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qtrain as qt
from qtrain.errors import ConfigError, StateTooLargeError
from qtrain.sim.program import compile_program
from qtrain.sim.statevector import (
    chunk_rows,
    default_memory_budget,
    divergence,
    run_program,
    select_kernels,
    state_chunks,
)
from qtrain.testing import assert_matches_reference
from qtrain.testing.strategies import circuits, observables


@pytest.mark.parametrize("kernels", ["numpy", "numba"])
@settings(max_examples=120, deadline=None)
@given(data=st.data(), circuit=circuits(max_qubits=8, max_ops=14))
def test_statevector_batched_equals_rowwise_equals_reference(kernels, data, circuit):
    rows = data.draw(st.integers(1, 3))
    theta = np.random.default_rng(rows).uniform(-7, 7, size=(rows, circuit.n_params))
    observable = data.draw(observables(circuit.n_qubits))
    assert_matches_reference(circuit, theta, observable, atol=1e-10, kernels=kernels)


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(circuit=circuits(min_qubits=6, max_qubits=8, max_ops=40, max_params=6))
def test_statevector_long_random_circuits_match_reference(circuit):
    theta = np.random.default_rng(5).uniform(-7, 7, size=(2, circuit.n_params))
    assert_matches_reference(circuit, theta, atol=1e-10, kernels="numpy")
    assert_matches_reference(circuit, theta, atol=1e-10, kernels="numba")


def test_statevector_kernel_sets_agree_on_large_batches():
    c = qt.ansatz.strongly_entangling(10, 2).crx(0, 9, qt.P(0)).rzz(3, 7, qt.P(1))
    theta = np.random.default_rng(2).normal(size=(20, c.n_params))
    program = compile_program(c)
    np.testing.assert_allclose(
        run_program(program, theta, select_kernels("numba")),
        run_program(program, theta, select_kernels("numpy")),
        atol=1e-12,
    )


def test_statevector_select_kernels():
    assert select_kernels("numpy").__name__ == "qtrain.sim.kernels"
    assert select_kernels("auto").__name__ == "qtrain.sim.fast_kernels"
    with pytest.raises(ConfigError, match="'gpu'"):
        select_kernels("gpu")


def test_statevector_states_are_normalised():
    c = qt.ansatz.hardware_efficient(6, 3)
    theta = np.random.default_rng(0).normal(size=(4, c.n_params))
    states = run_program(compile_program(c), theta)
    np.testing.assert_allclose(np.linalg.norm(states, axis=1), 1.0, atol=1e-12)


def test_statevector_chunking_gives_identical_states():
    c = qt.ansatz.hardware_efficient(5, 2)
    theta = np.random.default_rng(1).normal(size=(7, c.n_params))
    program = compile_program(c)
    whole = run_program(program, theta)
    budget = 3 * 16 * 4 * 2**5  # three rows per chunk: row 0's copy and two more
    chunks = list(state_chunks(program, theta, budget))
    assert [len(ids) for ids, _ in chunks] == [2, 2, 2, 1]
    ids = np.concatenate([ids for ids, _ in chunks])
    assert sorted(ids.tolist()) == list(range(7))
    np.testing.assert_allclose(np.concatenate([s for _, s in chunks]), whole[ids], atol=1e-14)


def test_statevector_prefix_sharing_matches_independent_rows():
    c = qt.ansatz.hardware_efficient(4, 3).crx(0, 3, qt.P(2))
    program = compile_program(c)
    base = np.random.default_rng(3).normal(size=c.n_params)
    rows = np.tile(base, (c.n_params + 2, 1))
    for k in range(c.n_params):  # one row per parameter, shifted: a parameter-shift batch
        rows[k + 1, k] += 0.5
    starts = divergence(program, rows)
    assert starts[0] == 0 and starts[-1] == len(program.steps)  # the last row equals row 0
    assert len(set(starts.tolist())) > 3  # rows really join at different steps
    for kernels in ("numpy", "numba"):
        shared = run_program(program, rows, select_kernels(kernels))
        for r in range(rows.shape[0]):
            alone = run_program(program, rows[r : r + 1], select_kernels(kernels))[0]
            np.testing.assert_allclose(shared[r], alone, atol=1e-13)


def test_statevector_state_too_large_fails_before_allocating_naming_bytes():
    circuit = qt.ansatz.hardware_efficient(40, 1)
    tracemalloc.start()
    try:
        with pytest.raises(StateTooLargeError, match=r"40-qubit state needs 70368744177664 bytes"):
            qt.expval(circuit, qt.Z(0), np.zeros(80))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Refused before any state exists: a single chunk of even one amplitude row would be
    # 16 TiB; what the call allocated is bookkeeping (far below one 26-qubit row, 1 GiB).
    assert peak < 64 * 2**20


def test_statevector_chunk_rows_respects_budget():
    assert chunk_rows(10, 100, 10 * 16 * 4 * 1024) == 10
    assert chunk_rows(10, 5, 1 << 40) == 5
    with pytest.raises(StateTooLargeError, match="memory budget is 100 bytes"):
        chunk_rows(3, 1, 100)


def test_statevector_budget_from_environment(monkeypatch):
    monkeypatch.setenv("QTRAIN_MEMORY_BUDGET", "1e6")
    assert default_memory_budget() == 1_000_000
    monkeypatch.setenv("QTRAIN_MEMORY_BUDGET", "lots")
    with pytest.raises(ConfigError, match="lots"):
        default_memory_budget()
    monkeypatch.delenv("QTRAIN_MEMORY_BUDGET")
    assert default_memory_budget() > 0
