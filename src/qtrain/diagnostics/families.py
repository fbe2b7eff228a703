"""Ansatz families for variance scans: ``(n_qubits, depth[, rng]) -> Circuit``, or a name.

A family with an ``rng`` argument has random *structure* (each draw is another circuit, as in
McClean et al. 2018); one without has a fixed structure (only the parameters are random). A
family may have a fixed preparation in front of its layers (McClean's ``RY(π/4)`` layer);
identity-block initialisation keeps the preparation and builds the blocks from the layers.

>>> sorted(FAMILIES)
['hardware_efficient', 'mcclean', 'strongly_entangling']
>>> resolve_family("mcclean").random_structure
True
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from qtrain.errors import ConfigError
from qtrain.ir import ansatz
from qtrain.ir.circuit import Circuit

__all__ = ["FAMILIES", "Family", "FamilySpec", "resolve_family"]

Builder = Callable[[int, int, np.random.Generator], Circuit]


@dataclass(frozen=True)
class Family:
    """An ansatz family.

    Attributes:
        name: shown in tables and plots.
        layers: ``(n_qubits, depth, rng) -> Circuit``: the trainable layers.
        random_structure: whether ``layers`` draws its structure from ``rng``.
        prepare: ``n_qubits -> Circuit``, a fixed preparation before the layers (or ``None``).
    """

    name: str
    layers: Builder
    random_structure: bool = False
    prepare: Callable[[int], Circuit] | None = None

    def preparation(self, n_qubits: int) -> Circuit:
        """The fixed preparation (an empty circuit if there is none)."""
        return self.prepare(n_qubits) if self.prepare is not None else Circuit(n_qubits)

    def circuit(self, n_qubits: int, depth: int, rng: np.random.Generator) -> Circuit:
        """One member: the preparation, then ``depth`` layers."""
        body = self.layers(n_qubits, depth, rng)
        if self.prepare is None:
            return body
        # Same wires, so the ops are shared as they are (compose would rebuild every op).
        return Circuit(n_qubits, self.preparation(n_qubits).ops + body.ops)


def _quarter_turns(n_qubits: int) -> Circuit:
    circuit = Circuit(n_qubits)
    for q in range(n_qubits):
        circuit = circuit.ry(q, math.pi / 4)
    return circuit


FAMILIES: dict[str, Family] = {
    "mcclean": Family(
        "mcclean",
        lambda n, depth, rng: ansatz.random_pauli(n, depth, seed=rng, prepare=False),
        random_structure=True,
        prepare=_quarter_turns,
    ),
    "hardware_efficient": Family(
        "hardware_efficient", lambda n, depth, rng: ansatz.hardware_efficient(n, depth)
    ),
    "strongly_entangling": Family(
        "strongly_entangling", lambda n, depth, rng: ansatz.strongly_entangling(n, depth)
    ),
}
"""Built-in families: McClean et al., Nat. Commun. 9, 4812 (2018) (``RY(π/4)``, then random
RX/RY/RZ on every wire and a CZ ladder per layer); Kandala et al. 2017 (RY, RZ, CNOT
ladder); Schuld et al. 2020 (strongly entangling layers)."""

FamilySpec = str | Family | Callable[..., Circuit]


def _positional_arity(function: Callable[..., Circuit]) -> int:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return 2
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return 3
    return sum(p.kind in kinds for p in parameters)


def resolve_family(spec: FamilySpec) -> Family:
    """A :class:`Family` from a name, a family, or a callable.

    A callable taking three positional arguments is called as ``(n_qubits, depth, rng)`` and
    has random structure; one taking two as ``(n_qubits, depth)``.

    Raises:
        ConfigError: an unknown name or something that is not callable.
    """
    if isinstance(spec, Family):
        return spec
    if isinstance(spec, str):
        if spec not in FAMILIES:
            raise ConfigError(f"unknown ansatz {spec!r}; choose one of {', '.join(FAMILIES)}")
        return FAMILIES[spec]
    if not callable(spec):
        raise ConfigError(
            f"ansatz must be a name, a Family or a callable (n_qubits, depth[, rng]) -> "
            f"Circuit, got {type(spec).__name__}"
        )
    function = spec
    name = str(getattr(spec, "__name__", "custom"))
    if _positional_arity(function) >= 3:
        return Family(name, function, random_structure=True)
    return Family(name, lambda n, depth, rng: function(n, depth))
