"""Serving the endpoint with gunicorn: N synchronous worker processes, each with its own store.

Invariant: the arbiter process opens no store and builds no application; each worker, after the fork, opens its
own store (its own SQLite connection or PostgreSQL pool) and makes its own application, and closes the store
when it exits. Workers share nothing but the database, which is where replayed nonces are caught.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from gateway.settings import WORKER_TIMEOUT_SECONDS, Settings
from gateway.soap.app import make_app
from gateway.storage.base import Store

__all__ = ["GatewayServer"]


class GatewayServer(BaseApplication):  # type: ignore[misc]
    """A gunicorn application serving ``make_app(settings, open_store(settings.db))`` in every worker."""

    def __init__(
        self, settings: Settings, open_store: Callable[[str], Store], *, timeout: int = WORKER_TIMEOUT_SECONDS
    ) -> None:
        self._settings = settings
        self._open_store = open_store
        self._store: Store | None = None
        self._options: dict[str, Any] = {
            "bind": [_bind(settings.host, settings.port)],
            "workers": max(1, settings.workers),
            "worker_class": "sync",
            "timeout": timeout,
            "graceful_timeout": 10,
            "proc_name": "ksz-gateway",
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "info",
            "worker_exit": self._worker_exit,
        }
        if "control_socket_disable" in _known_settings():
            # gunicorn >= 24 opens a control socket at one fixed path per user: servers would clash.
            self._options["control_socket_disable"] = True
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        """Called in each worker after the fork: its own store, its own application."""
        self._store = self._open_store(self._settings.db)
        return make_app(self._settings, self._store)

    def _worker_exit(self, server: Any, worker: Any) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def _known_settings() -> frozenset[str]:
    from gunicorn.config import KNOWN_SETTINGS

    return frozenset(setting.name for setting in KNOWN_SETTINGS)


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
