"""The sampling seeds of an objective's evaluation: one root per plan, one child per circuit.

>>> child_seed(None, 3) is None
True
>>> child_seed(7, 0) == child_seed(7, 0) != child_seed(7, 1)
True
"""

from __future__ import annotations

import numpy as np

from qtrain.exec.expval import resolve_seed
from qtrain.grad.shots import ShotPolicy

__all__ = ["child_seed", "root_seed"]


def child_seed(seed: int | None, index: int) -> int | None:
    """An independent sampling seed per circuit, so terms never share sampling noise."""
    if seed is None:
        return None
    state = np.random.SeedSequence(seed, spawn_key=(index,)).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))


def root_seed(seed: int | None, policy: ShotPolicy | None, method: str) -> int | None:
    """``seed``, or fresh entropy drawn once per plan (one number) when anything is random."""
    if policy is None and method != "spsa":
        return seed
    return resolve_seed(seed)
