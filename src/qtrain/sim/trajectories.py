"""Noisy expectations by quantum trajectories (Monte Carlo wave functions), with error bars.

Each parameter row runs ``T`` statevectors. After a gate, each of its channels picks one Kraus
operator per trajectory — with probability ``p_i = ‖K_i ψ‖²`` — and applies ``K_i/√p_i``
(Dalibard, Castin & Mølmer, PRL 68, 580 (1992); Plenio & Knight, RMP 70, 101 (1998)): the
average of ``|ψ⟩⟨ψ|`` over trajectories is the density matrix. For a mixture of unitaries
(Pauli and depolarizing channels) ``p_i`` does not depend on the state and the choice is one
table lookup; otherwise ``p_i`` comes from the reduced density matrix on the channel's wires.
Every trajectory's chosen operators go to the kernels as one per-row matrix batch.

**Estimate and standard error.** Each (row, group) runs its own trajectories, as a device
measures each group in its own executions. Its ``N`` shots are split over ``T' = min(T, N)``
trajectories (as evenly as possible); trajectory ``t``'s shot mean ``m_t`` is an unbiased
estimate of the noisy value whatever its shot count, the estimate is their plain mean ``m̄``
and its variance ``Σ_t (m_t − m̄)²/(T'(T' − 1))`` — unbiased for independent estimates of one
mean with unequal variances, and carrying the trajectory noise and the shot noise together
(cluster sampling; Cochran, *Sampling Techniques*, 3rd ed., §9.2). It never exceeds
``S²/(T' − 1)`` for values in ``[−S, S]``, and is floored by the shot-noise estimate of the
pooled counts (``sim.measure.Spread``), so it is never 0. The variance estimate rests on
``T'`` values: its z-scores follow Student's t with ``T' − 1`` degrees of freedom (sd 1.13 at
``T' = 10``), hence at least ``MIN_TRAJECTORIES``.

**Reproducible.** Each (row, group) draws its trajectories' uniforms from
``SeedSequence(seed, spawn_key=(*row_key, group, TRAJECTORY_STREAM))``, block by block as they
run (memory stays within the budget), and its shots as ``sim.measure`` does, ``row_key`` the
row's content: numbers do not depend on batching,
chunking, order or deduplication. Term values (``term_out``) split level counts with draws
from ``(*row_key, group, TERM_STREAM)``, so asking for them changes no value.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import cast

import numpy as np
from numpy.typing import NDArray

from qtrain.ir.circuit import Circuit
from qtrain.noise.channels import Channel
from qtrain.noise.model import NoiseModel
from qtrain.sim import kernels as reference_kernels
from qtrain.sim.measure import GroupPlan, MeasurementPlan, draw_counts, rotated_probabilities
from qtrain.sim.program import Program, Step, StepBuilder, first_steps
from qtrain.sim.readout_map import ReadoutMap
from qtrain.sim.statevector import KernelSet, owned, run_step
from qtrain.sim.superop import PlacedChannel

__all__ = [
    "MIN_TRAJECTORIES",
    "TERM_STREAM",
    "TRAJECTORY_STREAM",
    "compile_trajectory_program",
    "trajectory_values",
]

MIN_TRAJECTORIES = 10
"""The fewest trajectories an estimate's error bar may rest on (see the module docstring)."""

TRAJECTORY_STREAM = 0xFFFFFFFF
"""The spawn-key slot of the trajectory uniforms (group indices never reach it)."""

TERM_STREAM = 0xFFFFFFFE
"""The spawn-key slot of the draws that split level counts for term values."""

Complex = NDArray[np.complex128]
Real = NDArray[np.float64]


@lru_cache(maxsize=64)
def compile_trajectory_program(circuit: Circuit, noise: NoiseModel) -> Program:
    """Statevector steps with ``"channel"`` steps where the noise acts (cached).

    Runs of gates between channels keep the statevector fusions; a channel step holds one
    ``(channel, wires)`` in ``items``.
    """
    resolved = noise.for_circuit(circuit)
    builder = StepBuilder(circuit.n_qubits)

    def channels(placed: tuple[tuple[Channel, tuple[int, ...]], ...]) -> None:
        if placed:
            builder.flush_permutations()
            builder.flush_pending()
        for channel, wires in placed:
            builder.steps.append(Step("channel", wires, items=((channel, wires),)))

    for index, op in enumerate(circuit.ops):
        builder.add(op)
        channels(resolved.after_ops[index])
    channels(resolved.before_measure)
    steps = builder.finish()
    return Program(circuit.n_qubits, steps, first_steps(steps, circuit.n_params))


@dataclass(frozen=True, eq=False)
class _Jumps:
    """A channel's Kraus operators, and its fixed probabilities when a unitary mixture."""

    kraus: Complex
    effects: Complex  # K_i† K_i
    mixture: Real | None  # p_i when K_i†K_i = p_i·I for every i
    unitaries: Complex | None  # K_i/√p_i then

    @classmethod
    def of(cls, channel: Channel) -> _Jumps:
        ops = np.asarray(channel.kraus_ops)
        effects = np.einsum("kji,kjl->kil", ops.conj(), ops)
        d = ops.shape[1]
        weights = np.real(np.trace(effects, axis1=1, axis2=2)) / d
        scalar = np.allclose(effects, weights[:, None, None] * np.eye(d), atol=1e-12)
        if not scalar:
            return cls(ops, effects, None, None)
        keep = weights > 0
        unitaries = ops[keep] / np.sqrt(weights[keep])[:, None, None]
        return cls(ops[keep], effects[keep], weights[keep] / weights[keep].sum(), unitaries)


@lru_cache(maxsize=256)
def _jumps(channel: Channel) -> _Jumps:
    return _Jumps.of(channel)


def _reduced(states: Complex, wires: tuple[int, ...], n_qubits: int) -> Complex:
    """Reduced density matrices ``(M, 2^k, 2^k)`` of ``states (M, 2ⁿ)`` on ``wires``."""
    m, k = states.shape[0], len(wires)
    tensor = states.reshape(m, *([2] * n_qubits))
    moved = np.moveaxis(tensor, [1 + w for w in wires], list(range(1, k + 1)))
    flat = moved.reshape(m, 1 << k, -1)
    reduced: Complex = np.einsum("mar,mbr->mab", flat, flat.conj())
    return reduced


def _apply_channel(
    states: Complex, step: Step, uniforms: Real, *, n_qubits: int, kernels: KernelSet
) -> Complex:
    """One Kraus operator per trajectory, drawn with ``uniforms (M,)``, renormalised."""
    channel, wires = cast("PlacedChannel", step.items[0])  # a channel step holds one pair
    jumps = _jumps(channel)
    if jumps.mixture is not None and jumps.unitaries is not None:
        choice = np.searchsorted(np.cumsum(jumps.mixture), uniforms * jumps.mixture.sum())
        choice = np.minimum(choice, jumps.mixture.size - 1)
        mats = np.ascontiguousarray(jumps.unitaries[choice])
    else:
        rho = _reduced(states, wires, n_qubits)
        probs = np.maximum(np.einsum("kab,mba->mk", jumps.effects, rho).real, 0.0)
        cumulative = np.cumsum(probs, axis=1)
        choice = (cumulative < (uniforms * cumulative[:, -1])[:, None]).sum(axis=1)
        choice = np.minimum(choice, probs.shape[1] - 1)
        picked = probs[np.arange(probs.shape[0]), choice]
        mats = jumps.kraus[choice] / np.sqrt(np.maximum(picked, 1e-300))[:, None, None]
    return kernels.apply_matrix(states, np.ascontiguousarray(mats), wires, n_qubits)


def _simulate(
    program: Program,
    theta: Real,
    sizes: NDArray[np.int64],
    *,
    uniforms: Real,
    kernels: KernelSet,
) -> Complex:
    """Final states ``(Σ sizes, 2ⁿ)``: ``sizes[i]`` trajectories of row ``theta[i]``.

    ``uniforms (Σ sizes, C)`` pick each trajectory's Kraus operator at each channel step.
    Steps before the first channel run once per row; then each row's state is copied to its
    trajectories.
    """
    n = program.n_qubits
    kinds = [step.kind for step in program.steps]
    shared = kinds.index("channel") if "channel" in kinds else len(kinds)
    states = reference_kernels.zero_states(theta.shape[0], n)
    for step in program.steps[:shared]:
        states = owned(run_step(states, step, theta, n, kernels), states)
    states = np.repeat(states, sizes, axis=0)
    repeated = np.repeat(theta, sizes, axis=0)
    c = 0
    for step in program.steps[shared:]:
        if step.kind == "channel":
            states = owned(
                _apply_channel(states, step, uniforms[:, c], n_qubits=n, kernels=kernels), states
            )
            c += 1
        else:
            states = owned(run_step(states, step, repeated, n, kernels), states)
    return states


def _shot_split(total: int, parts: int) -> NDArray[np.int64]:
    split = np.full(parts, total // parts, dtype=np.int64)
    split[: total % parts] += 1
    return split


class _Unit:
    """One (row, group): its own trajectories, shot stream and running sums.

    Groups of a row use independent trajectories, as a device measures each group in its
    own executions: the groups' estimates stay independent and their variances add. With a
    ``term_rng`` (the stream of its level splits) it also sums each trajectory's per-term
    means, estimated from that trajectory's shots as ``u`` is.
    """

    def __init__(
        self,
        group: GroupPlan,
        shots: int,
        count: int,
        rng: np.random.Generator,
        term_rng: np.random.Generator | None = None,
    ):
        self.group, self.shots, self.count, self.rng = group, shots, count, rng
        self.eig = group.eigenvalues if group.levels is None else group.levels
        self.split = _shot_split(shots, count)
        self.u = np.zeros(count)
        self.pooled = np.zeros(self.eig.size, dtype=np.int64)
        self.done = 0
        self.term_rng = term_rng
        self.term_sum = np.zeros(len(group.term_indices))

    def measure(
        self, states: Complex, n_qubits: int, kernels: KernelSet, readout: ReadoutMap | None
    ) -> None:
        """Draw the shots of the next ``len(states)`` trajectories, in trajectory order."""
        probs = rotated_probabilities(states, self.group, n_qubits, kernels)
        if readout is not None:
            probs = readout.apply(probs)
        for t in range(states.shape[0]):
            weights = probs[t]
            if self.group.level_of is not None:
                weights = np.bincount(self.group.level_of, weights=weights, minlength=self.eig.size)
            counts = draw_counts(self.rng, int(self.split[self.done]), weights)
            self.pooled += counts
            n = max(int(self.split[self.done]), 1)
            self.u[self.done] = float(counts @ self.eig) / n
            if self.term_rng is not None:
                table = self.group.term_table
                self.term_sum += table.estimates(counts, probs[t], n, self.term_rng)
            self.done += 1

    def result(self) -> tuple[float, float]:
        """``(estimate, variance)``: the cluster variance, floored by the pooled shot noise."""
        n = self.shots
        mean = float(self.pooled @ self.eig) / n
        second = float(self.pooled @ (self.eig * self.eig)) / n
        pooled = self.group.spread.variance(self.pooled, mean, second, n)
        estimate = float(self.u.mean())
        if self.count < 2:
            return estimate, pooled
        cluster = float(((self.u - estimate) ** 2).sum()) / (self.count * (self.count - 1))
        return estimate, max(cluster, pooled)

    def term_result(self) -> Real:
        """``(T_g,)`` the mean over trajectories of each term's per-trajectory mean."""
        means: Real = self.term_sum / self.count
        return means


def _blocks(counts: list[int], capacity: int) -> list[list[tuple[int, int, int]]]:
    """Batches of ``(unit, first, stop)`` trajectory blocks, each batch ≤ ``capacity`` states."""
    batches: list[list[tuple[int, int, int]]] = [[]]
    room = capacity
    for unit, count in enumerate(counts):
        first = 0
        while first < count:
            if room == 0:
                batches.append([])
                room = capacity
            stop = min(count, first + room)
            batches[-1].append((unit, first, stop))
            room -= stop - first
            first = stop
    return [batch for batch in batches if batch]


def trajectory_values(
    program: Program,
    plans: list[MeasurementPlan],
    theta: Real,
    shots: NDArray[np.int64],
    *,
    seed: int,
    row_keys: NDArray[np.uint32],
    trajectories: int | None,
    capacity: int,
    kernels: KernelSet,
    readout: ReadoutMap | None = None,
    term_out: list[Real] | None = None,
) -> tuple[Real, Real]:
    """Estimated values and variances ``(B, O)`` of every row and observable.

    Args:
        program: from :func:`compile_trajectory_program`.
        plans: one measurement plan per observable.
        theta: ``(B, P)`` parameter rows.
        shots: ``(B, G)`` shots per row and group (groups of all observables, in order).
        seed: the task's sampling seed.
        row_keys: ``(B, K)`` content keys of the rows (``sim.measure.row_seed_keys``).
        trajectories: ``T``: a (row, group) with ``N`` shots runs ``min(T, N)`` trajectories;
            ``None``: one per shot (every shot an independent sample of the noisy state).
        capacity: how many statevectors fit the memory budget at once (≥ 1).
        kernels: the kernel set.
        readout: readout errors on the sampled outcomes.
        term_out: one ``(B, T_o)`` array per observable, when given, filled with every term's
            raw estimate: as the value, the mean over a unit's trajectories of the mean ±1
            parity of the term's word over each trajectory's shots (1 for the identity term;
            ``sim.term_values``), so ``values = Σ_t c_t·term_out`` to rounding.
            The values do not change: the level splits draw from their own stream.
    """
    n = program.n_qubits
    n_channels = sum(step.kind == "channel" for step in program.steps)
    units, rows_of, jumps = _units(
        plans,
        shots,
        seed=seed,
        row_keys=row_keys,
        trajectories=trajectories,
        terms=term_out is not None,
    )
    for batch in _blocks([unit.count for unit in units], max(1, capacity)):
        ids = np.array([rows_of[u] for u, _, _ in batch])
        sizes = np.array([stop - first for _, first, stop in batch])
        # Drawn as the blocks run, in trajectory order: the same numbers as drawn at once.
        uniforms = np.concatenate(
            [jumps[u].random((stop - first, n_channels)) for u, first, stop in batch]
        )
        states = _simulate(program, theta[ids], sizes, uniforms=uniforms, kernels=kernels)
        offset = 0
        for (u, _, _), size in zip(batch, sizes, strict=True):
            units[u].measure(states[offset : offset + size], n, kernels, readout)
            offset += size
    return _totals(plans, units, theta.shape[0], term_out)


def _units(
    plans: list[MeasurementPlan],
    shots: NDArray[np.int64],
    *,
    seed: int,
    row_keys: NDArray[np.uint32],
    trajectories: int | None,
    terms: bool,
) -> tuple[list[_Unit], list[int], list[np.random.Generator]]:
    """Every (row, group) unit in row-major order, its row, and its trajectories' stream.

    With ``terms`` each unit also gets a stream for its level splits (``TERM_STREAM``): its
    shot stream goes on to its next trajectory, so drawing the splits from it would change
    the values.
    """
    groups = [group for plan in plans for group in plan.groups]
    units, rows_of, jumps = [], [], []
    for row in range(shots.shape[0]):
        key = tuple(int(k) for k in row_keys[row])
        for g, group in enumerate(groups):
            n = int(shots[row, g])
            count = n if trajectories is None else min(trajectories, n)
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(*key, g)))
            stream = np.random.SeedSequence(seed, spawn_key=(*key, g, TRAJECTORY_STREAM))
            splits = None
            if terms:
                splits = np.random.default_rng(
                    np.random.SeedSequence(seed, spawn_key=(*key, g, TERM_STREAM))
                )
            units.append(_Unit(group, n, count, rng, splits))
            rows_of.append(row)
            jumps.append(np.random.default_rng(stream))
    return units, rows_of, jumps


def _totals(
    plans: list[MeasurementPlan], units: list[_Unit], rows: int, terms: list[Real] | None
) -> tuple[Real, Real]:
    """Sum the units' estimates and variances per row and observable (and fill ``terms``)."""
    values, variances = np.empty((rows, len(plans))), np.empty((rows, len(plans)))
    for table in terms or []:
        table[...] = 1.0  # the identity term, in no group
    unit_order = iter(units)
    for row in range(rows):
        for o, plan in enumerate(plans):
            members = [next(unit_order) for _ in plan.groups]
            parts = [unit.result() for unit in members]
            values[row, o] = plan.constant + sum(value for value, _ in parts)
            variances[row, o] = sum(variance for _, variance in parts)
            if terms is not None:
                for unit in members:
                    terms[o][row, unit.group.term_indices] = unit.term_result()
    return values, variances
