"""Noise-induced barren plateaus: a variance scan on a noisy simulator.

Under local Pauli noise the gradient of any cost concentrates exponentially in the depth
(Wang et al., Nat. Commun. 12, 6961 (2021)): with depolarizing noise ``p`` after every gate
each layer multiplies every Pauli expectation, hence every gradient component, by at most
``(1 − p)`` per channel on its path. The ideal scan of the same local cost does not decay
with depth at n = 3, so the contrast is the noise's doing.
"""

from __future__ import annotations

import numpy as np

import qtrain as qt
from qtrain.diagnostics import variance_scan

NOISE = qt.NoiseModel().after_all(qt.noise.depolarizing(0.1))
DEPTHS = [2, 8, 14]


def scan(backend: qt.LocalSimulator) -> np.ndarray:
    result = variance_scan(
        "hardware_efficient",
        qubits=[3],
        depths=DEPTHS,
        cost="local",
        samples=60,
        seed=11,
        backend=backend,
    )
    by_depth = {p.depth: p.variance for p in result.points}
    return np.array([by_depth[d] for d in DEPTHS])


def test_noisy_scan_shows_the_noise_induced_plateau():
    ideal = scan(qt.LocalSimulator())
    noisy = scan(qt.LocalSimulator(noise=NOISE))
    assert np.all(ideal[1:] > 0.1 * ideal[0])  # no plateau without noise at n = 3
    assert np.all(np.diff(np.log(noisy)) < 0)  # decays with every added depth
    # Exponential in depth: every layer puts at least one depolarizing channel (factor 0.9 on
    # every Pauli expectation) on each qubit, so the variance falls by more than 0.9² a layer.
    slope = (np.log(noisy[2]) - np.log(noisy[1])) / (DEPTHS[2] - DEPTHS[1])
    assert slope < 2 * np.log(0.9)  # at least one 0.9 contraction per layer, squared
    assert noisy[2] < 1e-6 * ideal[2]


def test_noisy_scan_runs_param_shift_not_adjoint():
    result = variance_scan(
        "hardware_efficient",
        qubits=[2],
        depths=[2],
        cost="local",
        samples=8,
        seed=3,
        backend=qt.LocalSimulator(noise=NOISE),
    )
    assert {p.method for p in result.points} == {"param-shift"}
