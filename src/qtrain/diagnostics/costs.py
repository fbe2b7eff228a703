"""Cost functions of the barren-plateau literature, as observables.

* **Global cost** ``C_G = 1 − |⟨t|ψ⟩|²`` (fidelity with a computational-basis target ``t``,
  default ``|0…0⟩``). The projector is ``|t⟩⟨t| = Π_i (I + s_i Z_i)/2`` with
  ``s_i = (−1)^{t_i}``, so ``C_G`` is a sum of all ``2ⁿ`` Z-strings (coefficient
  ``−Π_{i∈S} s_i / 2ⁿ`` each). Its gradients vanish exponentially in ``n`` even for shallow
  circuits (Cerezo et al., Nat. Commun. 12, 1791 (2021), Theorem 1).
* **Local cost** ``C_L = 1 − (1/n) Σ_i ⟨(I + s_i Z_i)/2⟩ = ½ − (1/2n) Σ_i s_i ⟨Z_i⟩``, the
  average over qubits of single-qubit projectors (Cerezo et al. 2021, Eq. (5)): the same
  minimum, and only polynomially small gradients for logarithmic depth (Theorem 2).

>>> str(local_cost(2))
'0.5 - 0.25 Z0 - 0.25 Z1'
>>> global_cost(3).n_terms, global_cost(3).groups()[0].basis
(8, ((0, 'Z'), (1, 'Z'), (2, 'Z')))
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from functools import lru_cache

from qtrain.errors import ConfigError
from qtrain.ir.observables import Observable
from qtrain.ir.pauli import PauliTerm

__all__ = ["COSTS", "CostSpec", "cost_label", "global_cost", "local_cost", "resolve_cost"]

CostSpec = str | Observable | Callable[[int], Observable]


def _signs(n_qubits: int, target: str | None) -> tuple[int, ...]:
    if isinstance(n_qubits, bool) or not isinstance(n_qubits, numbers.Integral) or n_qubits < 1:
        raise ConfigError(f"n_qubits must be an int >= 1, got {n_qubits!r}")
    bits = "0" * n_qubits if target is None else target
    if not isinstance(bits, str) or len(bits) != n_qubits or set(bits) - {"0", "1"}:
        raise ConfigError(f"target must be a string of {n_qubits} bits (0/1), got {target!r}")
    return tuple(1 if b == "0" else -1 for b in bits)


@lru_cache(maxsize=32)
def global_cost(n_qubits: int, target: str | None = None) -> Observable:
    """``1 − |⟨t|ψ⟩|²`` on ``n_qubits`` (``2ⁿ`` terms; cached, 0.35 s to build at n = 14).

    Args:
        n_qubits: register size.
        target: the target bit string, wire 0 first (default all zeros).
    """
    signs = _signs(n_qubits, target)
    scale = 1.0 / (1 << n_qubits)
    terms: list[tuple[PauliTerm, complex]] = [(PauliTerm(()), complex(1.0))]
    for mask in range(1 << n_qubits):
        wires = [w for w in range(n_qubits) if mask >> (n_qubits - 1 - w) & 1]
        sign = 1
        for w in wires:
            sign *= signs[w]
        terms.append((PauliTerm(tuple((w, "Z") for w in wires)), complex(-sign * scale)))
    return Observable.from_terms(terms)


@lru_cache(maxsize=32)
def local_cost(n_qubits: int, target: str | None = None) -> Observable:
    """``1 − (1/n) Σ_i ⟨(I + s_i Z_i)/2⟩`` on ``n_qubits`` (Cerezo et al. 2021)."""
    signs = _signs(n_qubits, target)
    terms: list[tuple[PauliTerm, complex]] = [(PauliTerm(()), complex(0.5))]
    for w, sign in enumerate(signs):
        terms.append((PauliTerm(((w, "Z"),)), complex(-sign / (2 * n_qubits))))
    return Observable.from_terms(terms)


COSTS: dict[str, Callable[[int], Observable]] = {"global": global_cost, "local": local_cost}


def resolve_cost(cost: CostSpec, n_qubits: int) -> Observable:
    """The observable of ``cost`` on ``n_qubits``.

    ``cost`` is a name in :data:`COSTS`, an observable, or a callable ``n_qubits -> Observable``.

    Raises:
        ConfigError: an unknown name, or something that is not an observable.
    """
    if isinstance(cost, str):
        if cost not in COSTS:
            raise ConfigError(f"unknown cost {cost!r}; choose one of {', '.join(COSTS)}")
        return COSTS[cost](n_qubits)
    built = cost(n_qubits) if callable(cost) and not isinstance(cost, Observable) else cost
    if not isinstance(built, Observable):
        raise ConfigError(
            f"a cost must be 'global', 'local', an Observable or n -> Observable, "
            f"got {type(built).__name__}"
        )
    return built


def cost_label(cost: CostSpec) -> str:
    """A short name for tables and plots."""
    if isinstance(cost, str):
        return cost
    if isinstance(cost, Observable):
        text = str(cost)
        return text if len(text) <= 32 else f"observable {cost.fingerprint()[:8]}"
    return str(getattr(cost, "__name__", "custom"))
