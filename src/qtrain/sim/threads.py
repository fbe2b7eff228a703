"""One knob for qtrain's threads: ``$QTRAIN_NUM_THREADS`` or :func:`set_num_threads`.

What it controls:

- **numba** (the compiled kernels of ``sim.fast_kernels`` and ``sim.fast_superop``: statevector
  gates, the adjoint sweep, density-matrix superoperators, trajectories): the threads of each
  parallel region. numba's count is per calling thread, so the kernels apply the setting in
  whatever thread calls them (an executor's worker threads too). numba's pool is fixed when it
  loads (``NUMBA_NUM_THREADS``, default: every core): a larger setting is capped at the pool.
- **numpy's BLAS** (OpenBLAS, MKL, BLIS, Accelerate): only through environment variables read
  when numpy loads. ``import qtrain`` sets ``OPENBLAS_NUM_THREADS`` and friends from
  ``$QTRAIN_NUM_THREADS`` (unless they are set) and so takes effect only when numpy was not
  imported before qtrain; :func:`set_num_threads` cannot change BLAS later. qtrain's hot paths
  are its own kernels, not BLAS.
- **Dask workers** started by ``DaskExecutor()`` get :func:`worker_environment`: each its share.

Not controlled: the OpenMP threads of other libraries in the process (PennyLane lightning,
Qiskit Aer) — ``OMP_NUM_THREADS`` is theirs. Results do not depend on the setting (a row's
amplitudes are computed the same way on any thread); the adjoint's partial sums are split by
thread count, so its gradients agree to rounding (≤ 1e-12), not bit for bit.

This module imports nothing heavy (no numpy): ``qtrain/__init__`` imports it before numpy
loads, and importing it calls :func:`set_blas_environment`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from qtrain.errors import ConfigError

__all__ = [
    "ENV",
    "apply",
    "get_num_threads",
    "requested",
    "set_blas_environment",
    "set_num_threads",
    "worker_environment",
]

ENV = "QTRAIN_NUM_THREADS"
BLAS_ENV = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
_KERNELS = "qtrain.sim.fast_kernels"
_CHOSEN: list[int] = []  # set_num_threads' value, if any (wins over the environment)


def parse(value: object, source: str = ENV) -> int:
    """A thread count (a positive integer) from ``value``.

    Raises:
        ConfigError: not a whole number ≥ 1; the message names ``source`` and the value.
    """
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or int(text) < 1:
        raise ConfigError(f"{source} must be a whole number of threads >= 1, got {value!r}")
    return int(text)


def requested() -> int | None:
    """The count asked for: :func:`set_num_threads`' value, else ``$QTRAIN_NUM_THREADS``.

    ``None`` when neither is set (numba's default: every core of its pool).

    Raises:
        ConfigError: ``$QTRAIN_NUM_THREADS`` is not a whole number ≥ 1.
    """
    if _CHOSEN:
        return _CHOSEN[0]
    raw = os.environ.get(ENV)
    return None if raw is None or not raw.strip() else parse(raw)


def set_num_threads(n: int | None) -> None:
    """Use ``n`` threads in qtrain's compiled kernels from now on, in every thread.

    ``None`` goes back to ``$QTRAIN_NUM_THREADS`` (or numba's default). Results do not depend
    on it (see the module docstring); BLAS is not changed (its threads are fixed at import).

    Raises:
        ConfigError: ``n`` is not a whole number ≥ 1.
    """
    _CHOSEN.clear()
    if n is not None:
        _CHOSEN.append(parse(n, f"set_num_threads(n) ({ENV})"))
    apply()


def get_num_threads() -> int:
    """The threads a parallel kernel uses now (the setting, capped at numba's pool).

    Without numba loaded: the setting, else the number of cores.
    """
    chosen = requested()
    pool = _pool_size()
    if pool is None:
        return chosen or os.cpu_count() or 1
    return min(chosen or pool, pool)


def _pool_size() -> int | None:
    if _KERNELS not in sys.modules:
        return None
    import numba  # noqa: PLC0415 - loaded already with the kernels

    pool: int = getattr(numba.config, "NUMBA_NUM_THREADS")  # noqa: B009 - untyped config
    return pool


def apply() -> None:
    """Hand the setting to the compiled kernels, if they are loaded (else they get it on load).

    Raises:
        ConfigError: ``$QTRAIN_NUM_THREADS`` is not a whole number ≥ 1.
    """
    kernels = sys.modules.get(_KERNELS)
    if kernels is not None:  # fast_kernels.pick asks NUM_THREADS() before each parallel call
        kernels.NUM_THREADS = _in_calling_thread(kernels.nb, get_num_threads())  # type: ignore[attr-defined]  # its knob


def _in_calling_thread(numba: Any, count: int) -> Callable[[], int]:
    def threads() -> int:
        if numba.get_num_threads() != count:
            numba.set_num_threads(count)  # numba's count is per thread: set it in this one
        return count

    return threads


def set_blas_environment() -> None:
    """Copy ``$QTRAIN_NUM_THREADS`` into BLAS's variables that are unset (before numpy loads).

    A bad value is left for :func:`requested` to report when the kernels load.
    """
    raw = os.environ.get(ENV, "").strip()
    if raw.isdigit() and int(raw) >= 1:
        for name in BLAS_ENV:
            os.environ.setdefault(name, raw)


def worker_environment(n_workers: int) -> dict[str, str]:
    """Environment of local Dask workers: threads per worker, so the host is not oversubscribed.

    Each of ``n_workers`` gets ``max(1, knob // n_workers)`` threads when the knob is set,
    else 1, for qtrain's kernels (``QTRAIN_NUM_THREADS``), numba's pool, OpenMP and BLAS.
    """
    chosen = requested()
    share = str(max(1, chosen // max(1, n_workers)) if chosen else 1)
    names = (ENV, "NUMBA_NUM_THREADS", "OMP_NUM_THREADS", *BLAS_ENV)
    return dict.fromkeys(names, share)


set_blas_environment()
