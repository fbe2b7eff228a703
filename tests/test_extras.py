import pytest

import qtrain as qt
from qtrain.extras import require


def test_require_names_the_extra_to_install():
    assert require("math", extra="none", purpose="sums").sqrt(4) == 2
    with pytest.raises(qt.ConfigError, match=r"pip install 'qtrain\[metrics\]'"):
        require("qtrain_no_such_package", extra="metrics", purpose="Prometheus metrics")
