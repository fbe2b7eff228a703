"""Pushing a run's metrics to a Prometheus Pushgateway (for runs too short to be scraped).

:class:`MetricsPusher` replaces the metrics of the group ``job=<job>, run_id=<run id>`` with
the registry's (``prometheus_client.push_to_gateway``, an HTTP ``PUT``) at most once per
``interval`` seconds while the run goes, and always at its end. A push that fails (the gateway
is down, refuses, or is slow) is a ``metrics.push_failed`` warning in the logs, never the run's
failure: the run's numbers are in ``metrics.jsonl`` either way.
"""

from __future__ import annotations

import logging
import math
import time
import urllib.parse
from typing import TYPE_CHECKING

from qtrain.errors import ConfigError
from qtrain.logs import emit

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

__all__ = ["MetricsPusher"]

_LOG = logging.getLogger("qtrain.observe")


class MetricsPusher:
    """Pushes a registry to a Pushgateway, rate-limited (see the module docstring).

    Args:
        url: the Pushgateway, ``http://host:9091`` (``http`` or ``https``).
        job: the ``job`` of the pushed group.
        interval: least seconds between two pushes during the run (``0``: every step).
        timeout: seconds one push may take before it counts as failed.

    Raises:
        ConfigError: a URL that is not ``http(s)://host[:port]``, or a negative interval.
    """

    def __init__(
        self, url: str, *, job: str = "qtrain", interval: float = 10.0, timeout: float = 5.0
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"metrics push URL must be http(s)://host[:port], got {url!r}")
        bad = isinstance(interval, bool) or not isinstance(interval, int | float)
        if bad or not math.isfinite(interval) or interval < 0:
            raise ConfigError(f"metrics push interval must be >= 0 seconds, got {interval!r}")
        self.url, self.job, self.interval, self.timeout = url, job, float(interval), timeout
        self.pushes = 0  # successful pushes
        self.failures = 0
        self._last: float | None = None

    def push(self, registry: CollectorRegistry, run_id: str, *, force: bool = False) -> bool:
        """Push unless the last push was under ``interval`` ago (``force``: push anyway).

        Returns:
            Whether a push was made and succeeded.
        """
        from prometheus_client import push_to_gateway  # noqa: PLC0415 - optional extra

        now = time.monotonic()
        if not force and self._last is not None and now - self._last < self.interval:
            return False
        self._last = now
        try:
            push_to_gateway(
                self.url,
                job=self.job,
                registry=registry,
                grouping_key={"run_id": run_id},
                timeout=self.timeout,
            )
        except Exception as error:  # any failure of the gateway is a warning
            self.failures += 1
            emit(
                _LOG,
                logging.WARNING,
                "metrics.push_failed",
                f"cannot push metrics to {self.url}: {error}",
                url=self.url,
                error=type(error).__name__,
            )
            return False
        self.pushes += 1
        return True
