import numpy as np
import pytest

import qtrain as qt
from qtrain.diagnostics.inits import Custom, IdentityBlocks, SmallAngle, Uniform, resolve_init


def test_uniform_and_small_angle_draws():
    rng = np.random.default_rng(1)
    u = Uniform().theta(5000, rng)
    assert u.min() >= 0 and u.max() < 2 * np.pi and abs(u.mean() - np.pi) < 0.1
    s = SmallAngle(0.05).theta(5000, rng)
    assert abs(s.std() - 0.05) < 0.003 and abs(s.mean()) < 0.005
    assert SmallAngle(0.05).name == "normal(0.05)" and Uniform().name == "uniform"


def test_identity_blocks_repeat_each_half():
    init = IdentityBlocks(blocks=2)
    theta = init.theta([3, 2], np.random.default_rng(2))
    assert theta.shape == (10,)
    assert np.array_equal(theta[:3], theta[3:6]) and np.array_equal(theta[6:8], theta[8:])
    assert not np.array_equal(theta[:2], theta[6:8])
    assert init.half_depth(8) == 2 and init.name == "identity_blocks(2)"
    with pytest.raises(qt.ConfigError, match="multiple of 2·blocks = 4, got depth 6"):
        init.half_depth(6)


def test_custom_init_is_checked():
    init = Custom(lambda p, rng: np.full(p, 0.5))
    assert np.array_equal(init.theta(3, np.random.default_rng(0)), [0.5, 0.5, 0.5])
    with pytest.raises(qt.ConfigError, match="must return 3 finite numbers"):
        Custom(lambda p, rng: [1.0]).theta(3, np.random.default_rng(0))


def test_resolve_init_names_mappings_and_errors():
    assert resolve_init("uniform") == Uniform()
    assert resolve_init({"name": "normal", "width": 0.3}) == SmallAngle(0.3)
    assert resolve_init("small") == SmallAngle()
    assert resolve_init({"name": "identity_blocks", "blocks": 3}) == IdentityBlocks(3)
    assert isinstance(resolve_init(lambda p, rng: np.zeros(p)), Custom)
    with pytest.raises(qt.ConfigError, match="unknown init 'zero'; choose one of uniform"):
        resolve_init("zero")
    with pytest.raises(qt.ConfigError, match="init 'normal'"):
        resolve_init({"name": "normal", "sigma": 1})
    with pytest.raises(qt.ConfigError, match="width must be a positive number"):
        SmallAngle(-1.0)
    with pytest.raises(qt.ConfigError, match="blocks must be a positive int"):
        IdentityBlocks(0)
