"""Serving a registry over HTTP (``prometheus-client``'s server, in a daemon thread).

Any path answers with the registry's metrics in the Prometheus text format; a bad port or a
taken address is a :class:`~qtrain.errors.ConfigError`, not an ``OSError``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from qtrain.errors import ConfigError

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from prometheus_client.registry import CollectorRegistry

__all__ = ["MetricsServer"]


class MetricsServer:
    """One HTTP endpoint serving a registry, started by :meth:`start`, stopped by :meth:`close`."""

    def __init__(self) -> None:
        self._server: tuple[WSGIServer, threading.Thread] | None = None
        self._host = "127.0.0.1"

    def start(self, registry: CollectorRegistry, port: int, host: str) -> None:
        """Serve ``registry`` on ``host:port`` (``0``: a free port).

        Raises:
            ConfigError: a bad port, already serving, or the address is taken.
        """
        from prometheus_client import start_http_server  # noqa: PLC0415 - optional extra

        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ConfigError(f"metrics port must be an int in 0..65535, got {port!r}")
        if self._server is not None:
            raise ConfigError(f"already serving metrics on port {self.port}")
        try:
            self._server = start_http_server(port, addr=host, registry=registry)
            self._host = host
        except OSError as error:
            raise ConfigError(f"cannot serve metrics on {host}:{port}: {error.strerror}") from None

    @property
    def port(self) -> int | None:
        """The port being served, or ``None``."""
        return None if self._server is None else int(self._server[0].server_port)

    @property
    def url(self) -> str | None:
        """``http://host:port/metrics`` while serving."""
        if self._server is None:
            return None
        return f"http://{self._host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving (no-op when not serving)."""
        if self._server is not None:
            server, thread = self._server
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
            self._server = None
