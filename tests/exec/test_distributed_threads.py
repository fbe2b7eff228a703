"""Local Dask workers get their share of the thread knob, so a host is not oversubscribed."""

import os
import sys

import pytest

import qtrain as qt

cloudpickle = pytest.importorskip("cloudpickle")
pytest.importorskip("distributed")
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests


def worker_threads():
    import numba  # noqa: PLC0415 - on the worker

    from qtrain.sim import threads  # noqa: PLC0415 - on the worker

    names = ("QTRAIN_NUM_THREADS", "NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")
    return {name: os.environ.get(name) for name in names} | {
        "pool": numba.config.NUMBA_NUM_THREADS,
        "knob": threads.get_num_threads(),
    }


@pytest.mark.slow
def test_distributed_workers_get_their_share_of_the_thread_knob(monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.setenv("QTRAIN_NUM_THREADS", "4")
    with qt.DaskExecutor(n_workers=2) as executor:
        seen = list(executor.client.run(worker_threads).values())
    assert len(seen) == 2
    for env in seen:
        assert env["QTRAIN_NUM_THREADS"] == env["NUMBA_NUM_THREADS"] == "2"
        assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "2"
        assert env["pool"] == 2
        assert env["knob"] == 2
