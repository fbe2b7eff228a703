import types
import typing

import pytest

import qtrain as qt

TYPING_NAMES = set(typing.__all__) | {"annotations", "TYPE_CHECKING", "NDArray"}
PUBLIC_MODULES = [
    getattr(qt, name) for name in qt.__all__ if isinstance(getattr(qt, name), types.ModuleType)
]


def public(module):
    return {name for name in dir(module) if not name.startswith("_")}


@pytest.mark.parametrize("module", [qt, qt.optim, qt.ansatz], ids=lambda m: m.__name__)
def test_dir_shows_exactly_the_public_api(module):
    assert public(module) == {name for name in module.__all__ if not name.startswith("_")}


@pytest.mark.parametrize("module", [qt, *PUBLIC_MODULES], ids=lambda m: m.__name__)
def test_no_stray_modules_or_typing_names_are_public(module):
    names = public(module)
    assert not names & TYPING_NAMES, sorted(names & TYPING_NAMES)
    foreign = {
        name
        for name in names
        if isinstance(getattr(module, name), types.ModuleType)
        and not getattr(module, name).__name__.startswith("qtrain.")
    }
    assert not foreign  # np, math, importlib, ...


def test_the_simulator_front_door_is_exported():
    assert {"state", "probabilities", "sample"} <= set(qt.__all__)
    assert qt.sample(qt.Circuit(1).x(0), shots=3, seed=1) == {"1": 3}
