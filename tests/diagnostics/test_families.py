import numpy as np
import pytest

import qtrain as qt
from qtrain.diagnostics.families import FAMILIES, Family, resolve_family


def test_builtin_families():
    rng = np.random.default_rng(0)
    mcclean = resolve_family("mcclean")
    assert mcclean.random_structure and not FAMILIES["hardware_efficient"].random_structure
    member = mcclean.circuit(3, 2, rng)
    assert [op.gate for op in member.ops[:3]] == ["RY"] * 3 and member.n_params == 6
    assert mcclean.preparation(3).n_params == 0 and len(mcclean.preparation(3)) == 3
    assert FAMILIES["hardware_efficient"].circuit(3, 2, rng) == qt.ansatz.hardware_efficient(3, 2)
    assert len(FAMILIES["strongly_entangling"].preparation(2)) == 0


def test_callables_with_and_without_rng():
    def fixed(n, depth):
        return qt.ansatz.hardware_efficient(n, depth)

    def random(n, depth, rng):
        return qt.ansatz.random_pauli(n, depth, seed=rng)

    assert not resolve_family(fixed).random_structure and resolve_family(fixed).name == "fixed"
    family = resolve_family(random)
    assert family.random_structure
    a = family.circuit(3, 1, np.random.default_rng(1))
    assert a == qt.ansatz.random_pauli(3, 1, seed=np.random.default_rng(1))
    custom = Family("mine", lambda n, d, rng: fixed(n, d))
    assert resolve_family(custom) is custom


def test_bad_families_are_named():
    with pytest.raises(qt.ConfigError, match="unknown ansatz 'hea'; choose one of mcclean"):
        resolve_family("hea")
    with pytest.raises(qt.ConfigError, match="got int"):
        resolve_family(3)
