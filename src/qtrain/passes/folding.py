"""Unitary folding: the circuit map of digital zero-noise extrapolation (ZNE).

Folding stretches a circuit ``U`` into a longer circuit with the *same* unitary, so that on
noisy hardware the noise grows by a known scale factor ``λ`` while the ideal result does not
change; extrapolating the results at several ``λ`` back to ``λ = 0`` mitigates the noise
(Giurgica-Tiron, Hindy, LaRose, Mari and Zeng, "Digital zero noise extrapolation for quantum
error mitigation", IEEE QCE 2020, arXiv:2005.10921, §II–III).

* **Global folding** (:func:`fold_global`): ``U → U (U† U)^k`` for an odd integer
  ``λ = 2k + 1``; the gate count is exactly ``λ·d`` for ``d`` gates.
* **Local folding** (:func:`fold_local`, "fold gates at random" in the paper): every gate
  ``G → G (G† G)^k`` with ``k = ⌊(λ - 1)/2⌋``, then ``round(((λ - 1)/2 - k)·d)`` distinct
  gates, drawn without replacement by a seeded :class:`numpy.random.Generator`, are folded
  once more, so fractional ``λ ≥ 1`` are reached to within ``1/d``
  (:func:`achieved_factor` says how closely). The same seed gives the same circuit.

Parameters are kept: the inverse of a parameterised gate reads the same parameter through the
IR's inverse rules (:meth:`~qtrain.ir.circuit.Circuit.inverse`, ``RX(θ)† = RX(-θ)``,
``U3(θ, φ, λ)† = U3(-θ, -λ, -φ)``), so a folded circuit has the original's ``n_params`` and
``param_indices`` and takes the same ``(B, P)`` parameter rows.

Folding scales the noise only if an inverse gate carries the same noise as the gate it undoes.
Noise rules are keyed by gate name, and some inverses have a different name: a rule on ``"S"``
does not act on ``"Sdg"`` (likewise ``T``/``Tdg``, ``SX``/``SXdg``, ``ISWAP``/``ISWAPdg``),
so give both names the same rule, or the measured scale factor is smaller than ``λ``.
Rotations, ``PhaseShift``, ``U3``, ``PauliRot``, ``Unitary`` and the self-inverse gates
(``X``, ``H``, ``CNOT``, ``CZ``, ``SWAP``, ``CCX``, ...) keep their name.

>>> from qtrain.ir.circuit import Circuit
>>> from qtrain.ir.params import P
>>> c = Circuit(2).ry(0, P(0)).cnot(0, 1)
>>> [op.gate for op in fold_global(c, 3).ops]
['RY', 'CNOT', 'CNOT', 'RY', 'RY', 'CNOT']
>>> folded = fold_local(c, 2.0, seed=1)
>>> len(folded), achieved_factor(c, folded), folded.n_params
(4, 2.0, 1)
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np

from qtrain.errors import PassError
from qtrain.ir.circuit import Circuit, Op
from qtrain.passes.core import Pass, fingerprint_of

__all__ = [
    "FOLDING_METHODS",
    "Folding",
    "achieved_factor",
    "fold",
    "fold_global",
    "fold_local",
]

FOLDING_METHODS = ("global", "local")
"""The folding methods :func:`fold` and :class:`Folding` accept."""


def _check_factor(factor: object) -> float:
    """``factor`` as a float, or PassError naming it: a finite real number ``>= 1``."""
    if isinstance(factor, bool) or not isinstance(factor, numbers.Real):
        raise PassError(
            f"fold: the scale factor must be a real number >= 1, got "
            f"{type(factor).__name__}: {factor!r}"
        )
    value = float(factor)
    if not math.isfinite(value):
        raise PassError(f"fold: the scale factor must be finite, got {factor!r}")
    if value < 1.0:
        raise PassError(f"fold: the scale factor must be >= 1 (1 = no folding), got {factor!r}")
    return value


def _check_odd(factor: float, given: object) -> int:
    """``k`` for ``factor = 2k + 1``, or PassError suggesting local folding."""
    if not factor.is_integer() or int(factor) % 2 == 0:
        raise PassError(
            f"fold_global: the scale factor must be an odd integer (1, 3, 5, ...), got "
            f"{given!r}; use method='local' (fold_local) for even or fractional factors"
        )
    return (int(factor) - 1) // 2


def _check_method(method: object) -> str:
    """``method`` if it is one of :data:`FOLDING_METHODS`, else PassError listing them."""
    if not isinstance(method, str) or method not in FOLDING_METHODS:
        raise PassError(
            f"fold: unknown folding method {method!r}; choose one of "
            f"{', '.join(repr(m) for m in FOLDING_METHODS)}"
        )
    return method


def _check_seed(seed: object) -> int | np.random.Generator:
    """``seed`` if it is a non-negative int or a numpy Generator, else PassError naming it."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise PassError(
            f"fold: seed must be a non-negative int or a numpy.random.Generator, got "
            f"{type(seed).__name__}: {seed!r}"
        )
    return int(seed)


def _local_plan(factor: float, d: int) -> tuple[int, int]:
    """``(k, extra)``: every op folded ``k`` times, ``extra`` of the ``d`` ops once more."""
    half = (factor - 1.0) / 2.0
    k = math.floor(half)
    # Python's round (half to even), as documented; the fraction is < 1, so extra <= d.
    extra = min(round((half - k) * d), d)
    return k, extra


def fold_global(circuit: Circuit, factor: float) -> Circuit:
    """``U (U† U)^k`` for an odd integer ``factor = 2k + 1`` (factor 1: the circuit itself).

    Global unitary folding (Giurgica-Tiron et al., IEEE QCE 2020, arXiv:2005.10921, eq. 3).
    The result has ``factor · len(circuit)`` ops and the original's parameters.

    Args:
        circuit: the circuit ``U`` to fold.
        factor: the noise scale factor ``λ``, an odd integer ``>= 1`` (``3.0`` is fine).

    Returns:
        The folded circuit, same unitary and same parameter columns as ``circuit``.

    Raises:
        PassError: ``factor`` is not a finite real number, is below 1 or is not an odd
            integer (fractional and even factors need :func:`fold_local`).
    """
    k = _check_odd(_check_factor(factor), factor)
    if k == 0:
        return circuit
    round_trip = circuit.inverse().ops + circuit.ops
    return Circuit(circuit.n_qubits, circuit.ops + round_trip * k)


def fold_local(circuit: Circuit, factor: float, *, seed: int | np.random.Generator = 0) -> Circuit:
    """Fold gate by gate: every op ``G`` becomes ``G (G† G)^k``, some once more.

    With ``k = ⌊(factor - 1)/2⌋``, every op is folded ``k`` times; then
    ``round(((factor - 1)/2 - k) · d)`` distinct ops (``d = len(circuit)``, Python's
    half-to-even ``round``), chosen by ``Generator.choice`` without replacement, are folded
    once more ("fold gates at random", Giurgica-Tiron et al., IEEE QCE 2020,
    arXiv:2005.10921, §III). The gate count is ``d + 2·(k·d + extra)``, so the achieved
    factor (:func:`achieved_factor`) is within ``1/d`` of ``factor``.

    Args:
        circuit: the circuit to fold.
        factor: the noise scale factor ``λ >= 1``, fractional allowed.
        seed: a non-negative int (the same int always gives the same circuit) or a
            :class:`numpy.random.Generator` (whose state advances).

    Returns:
        The folded circuit, same unitary and same parameter columns as ``circuit``.

    Raises:
        PassError: ``factor`` is not a finite real number ``>= 1``, or ``seed`` is neither
            a non-negative int nor a numpy Generator.
    """
    value = _check_factor(factor)
    checked = _check_seed(seed)
    d = len(circuit)
    k, extra = _local_plan(value, d)
    if d == 0 or (k == 0 and extra == 0):
        return circuit
    folds = np.full(d, k, dtype=np.int64)
    if extra:
        rng = np.random.default_rng(checked) if isinstance(checked, int) else checked
        folds[rng.choice(d, size=extra, replace=False)] += 1
    # The inverse circuit, reversed, holds each op's inverse at the op's own position.
    inverses = circuit.inverse().ops[::-1]
    ops: list[Op] = []
    for op, inverse, n_folds in zip(circuit.ops, inverses, folds.tolist(), strict=True):
        ops.append(op)
        ops.extend((inverse, op) * n_folds)
    return Circuit(circuit.n_qubits, tuple(ops))


def fold(
    circuit: Circuit,
    factor: float,
    *,
    method: str = "global",
    seed: int | np.random.Generator = 0,
) -> Circuit:
    """Fold ``circuit`` to the noise scale ``factor`` by ``method`` (``"global"``/``"local"``).

    Args:
        circuit: the circuit to fold.
        factor: the noise scale factor ``λ >= 1`` (an odd integer for ``"global"``).
        method: one of :data:`FOLDING_METHODS`.
        seed: for ``"local"``: a non-negative int or a numpy Generator; checked but unused
            by ``"global"``.

    Returns:
        The folded circuit (see :func:`fold_global` and :func:`fold_local`).

    Raises:
        PassError: an unknown method, or a bad factor or seed (naming the value).
    """
    if _check_method(method) == "local":
        return fold_local(circuit, factor, seed=seed)
    _check_seed(seed)
    return fold_global(circuit, factor)


def achieved_factor(original: Circuit, folded: Circuit) -> float:
    """``len(folded) / len(original)``: the scale factor actually reached (1.0 if empty).

    >>> from qtrain.ir.circuit import Circuit
    >>> c = Circuit(1).h(0).x(0).s(0)
    >>> achieved_factor(c, fold_local(c, 1.5))
    1.6666666666666667
    """
    if len(original) == 0:
        return 1.0
    return len(folded) / len(original)


@dataclass(frozen=True)
class Folding:
    """Unitary folding as a transform pass: ``Folding(3.0)(circuit) == fold(circuit, 3.0)``.

    Options are checked when the pass is built; ``factor`` is stored as a float and ``seed``
    as an int, so ``Folding(3)`` and ``Folding(3.0)`` are equal with equal fingerprints.
    Every option is in :meth:`describe` (``seed`` too, though only ``"local"`` reads it).

    Attributes:
        factor: the noise scale factor ``λ >= 1`` (an odd integer for ``"global"``).
        method: one of :data:`FOLDING_METHODS`.
        seed: a non-negative int choosing the extra folds of ``"local"`` folding.

    >>> from qtrain.ir.circuit import Circuit
    >>> Folding(3)(Circuit(1).h(0)).ops == Circuit(1).h(0).h(0).h(0).ops
    True
    >>> Folding(2.5, method="local", seed=7).describe()
    {'name': 'fold', 'factor': 2.5, 'method': 'local', 'seed': 7}
    """

    factor: float
    method: str = "global"
    seed: int = 0
    name: ClassVar[str] = "fold"
    kind: ClassVar[Literal["transform"]] = "transform"

    def __post_init__(self) -> None:
        method = _check_method(self.method)
        factor = _check_factor(self.factor)
        if method == "global":
            _check_odd(factor, self.factor)
        seed = _check_seed(self.seed)
        if not isinstance(seed, int):
            raise PassError(
                f"Folding: seed must be a non-negative int (a pass is a value; pass a "
                f"Generator to fold_local instead), got {seed!r}"
            )
        object.__setattr__(self, "factor", factor)
        object.__setattr__(self, "seed", seed)

    def describe(self) -> dict[str, object]:
        """The name and every option, JSON-ready."""
        return {"name": self.name, "factor": self.factor, "method": self.method, "seed": self.seed}

    def fingerprint(self) -> str:
        """Content hash of :meth:`describe` (equal options, equal fingerprints)."""
        return fingerprint_of(self.describe())

    def __call__(self, circuit: Circuit, /) -> Circuit:
        """The folded circuit: same unitary, same parameters, about ``factor`` times longer."""
        return fold(circuit, self.factor, method=self.method, seed=self.seed)


if TYPE_CHECKING:  # mypy proves Folding is a transform pass

    def _folding_is_a_pass(folding: Folding) -> Pass:
        return folding
