"""The operator console: the manual's screens (household, Integraties - Desintegraties, consultation, CheckAccess)
as server-rendered web pages, with a person's integrations drawn as a timeline.

Invariant: the composition root (``gateway.entrypoints.compose.make_app``) is the only way in, mounting ``Console``
at ``/console``; the console reaches the directory through the application layer's use cases only, as one more
front beside SOAP, and imports no other adapter.
"""

from __future__ import annotations

from gateway.adapters.console.web import Console

__all__ = ["Console"]
