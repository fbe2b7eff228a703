"""A torch loop around QuantumLayer resumes bit-identically; RunLogger writes step records."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import qtrain as qt  # noqa: E402
from qtrain.torch import QuantumLayer, RunLogger  # noqa: E402
from qtrain.train.tracking import read_metrics  # noqa: E402

P = qt.P
CIRCUIT = qt.Circuit(2).ry(0, P(0)).ry(1, P(1)).cnot(0, 1).rx(0, P(2)).ry(1, P(3)).rx(0, P(0))
DATA = torch.tensor(np.random.default_rng(0).uniform(-1, 1, (8, 2)), dtype=torch.float64)
TARGET = torch.tensor(np.random.default_rng(1).uniform(-1, 1, (8, 1)), dtype=torch.float64)


def build(shots):
    torch.manual_seed(11)
    model = torch.nn.Sequential(
        torch.nn.Linear(2, 2),
        QuantumLayer(
            CIRCUIT,
            [qt.Z(0), qt.Z(1)],
            input_params=[0, 1],
            weight_params=[2, 3],
            method="param-shift",
            shots=shots,
            seed=5,
        ),
        torch.nn.Linear(2, 1),
    ).double()
    return model, torch.optim.Adam(model.parameters(), lr=0.05)


def train(model, optimizer, steps, logger=None, start=0):
    for step in range(start, start + steps):
        optimizer.zero_grad()
        loss = ((model(DATA) - TARGET) ** 2).mean()
        loss.backward()
        optimizer.step()
        if logger is not None:
            logger.log(step, loss, optimizer=optimizer)


def snapshot(model):
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("shots", [None, 200])
def test_state_dicts_resume_bit_identically(shots, tmp_path):
    model, optimizer = build(shots)
    train(model, optimizer, 3)
    torch.save(
        {"model": model.state_dict(), "optimizer": optimizer.state_dict()}, tmp_path / "ckpt.pt"
    )
    train(model, optimizer, 3)
    straight = snapshot(model)

    resumed, resumed_optimizer = build(shots)
    state = torch.load(tmp_path / "ckpt.pt")
    resumed.load_state_dict(state["model"])
    resumed_optimizer.load_state_dict(state["optimizer"])
    assert int(resumed[1].calls) == (3 if shots else 0)  # the sampling counter is state
    train(resumed, resumed_optimizer, 3)
    for a, b in zip(straight, snapshot(resumed), strict=True):
        assert torch.equal(a, b)


def test_run_logger_writes_one_step_record_per_step_and_resumes(tmp_path):
    model, optimizer = build(100)
    with RunLogger(tmp_path / "run", model) as logger:
        train(model, optimizer, 3, logger)
    records = read_metrics(tmp_path / "run" / "metrics.jsonl")
    assert [r.step for r in records] == [0, 1, 2]
    first = records[0]
    assert first.shots == 8 * 11 * 100 * 2  # 8 samples x (1 + 2 x 5 slots) rows x 2 groups
    assert first.circuits == 8 * 11 and first.method == "param-shift"
    assert first.learning_rate == 0.05 and first.grad_norm > 0
    assert records[-1].shots_total == 3 * first.shots
    with RunLogger(tmp_path / "run", model, resume_step=2) as logger:  # a crash after step 1
        train(model, optimizer, 2, logger, start=2)
    records = read_metrics(tmp_path / "run" / "metrics.jsonl")
    assert [r.step for r in records] == [0, 1, 2, 3]
    assert records[-1].shots_total == 4 * first.shots
