"""The sampling seeds of an objective's evaluation: one root per plan, one child per circuit.

>>> child_seed(None, 3) is None
True
>>> child_seed(7, 0) == child_seed(7, 0) != child_seed(7, 1)
True
"""

from __future__ import annotations

from qtrain.backends.protocol import child_seed as derived_child_seed
from qtrain.exec.expval import resolve_seed
from qtrain.grad.shots import ShotPolicy

__all__ = ["child_seed", "root_seed"]


def child_seed(seed: int | None, index: int) -> int | None:
    """An independent sampling seed per circuit, so terms never share sampling noise."""
    return None if seed is None else derived_child_seed(seed, index)


def root_seed(seed: int | None, policy: ShotPolicy | None, method: str) -> int | None:
    """``seed``, or fresh entropy drawn once per plan (one number) when anything is random."""
    if policy is None and method != "spsa":
        return seed
    return resolve_seed(seed)
