import pytest

import qtrain as qt
from qtrain.testing import make_record


def history(losses, snrs=None, norms=None):
    snrs = snrs or [None] * len(losses)
    norms = norms or [1.0] * len(losses)
    return [
        make_record(k, loss=loss, grad_norm=norm, grad_snr=snr)
        for k, (loss, snr, norm) in enumerate(zip(losses, snrs, norms, strict=True))
    ]


def test_budget_refusals():
    budget = qt.Budget(max_steps=5, max_shots=1000, max_seconds=10.0)
    ok = {"shots_total": 0, "cost": 100, "elapsed": 0.0, "last_seconds": None}
    assert budget.refuses(step=0, **ok) is None
    assert budget.refuses(step=5, **ok) == "max_steps"
    assert budget.refuses(step=1, **{**ok, "shots_total": 950}) == "max_shots"
    assert budget.refuses(step=1, **{**ok, "shots_total": 900}) is None  # exactly the budget
    assert budget.refuses(step=1, **{**ok, "elapsed": 9.0, "last_seconds": 2.0}) == "max_seconds"


def test_stop_rules_each_fire_on_their_own_history():
    assert qt.StopRules(target=0.0).reason(history([1.0, -0.1])) == "target"
    rule = qt.StopRules(loss_tolerance=0.01, patience=2)
    assert rule.reason(history([1.0, 0.995, 0.99])) == "loss_tolerance"
    assert rule.reason(history([1.0, 0.5, 0.495])) is None  # only one small change
    snr = qt.StopRules(grad_snr_below=1.0, patience=2)
    assert snr.reason(history([1.0, 1.0, 1.0], snrs=[5.0, 0.8, 0.9])) == "grad_snr_below"
    assert snr.reason(history([1.0, 1.0], snrs=[0.5, None])) is None  # exact steps never fire
    tol = qt.StopRules(grad_tolerance=1e-3)
    assert tol.reason(history([1.0], norms=[1e-4])) == "grad_tolerance"
    assert qt.StopRules().reason(history([1.0, 0.0])) is None


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"patience": 0}, "patience"),
        ({"loss_tolerance": -1.0}, "loss_tolerance"),
        ({"target": "low"}, "target"),
    ],
)
def test_stop_rules_reject_bad_values(kwargs, fragment):
    with pytest.raises(qt.ConfigError, match=fragment):
        qt.StopRules(**kwargs)
