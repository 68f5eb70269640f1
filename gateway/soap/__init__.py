"""The repertorium's SOAP 1.1 service: edge checks, WS-Security, the spyne application and its documents.

Invariant: ``make_app(settings, store)`` is the only way in; importing this package opens nothing.
"""

from __future__ import annotations

from gateway.soap.app import make_app

__all__ = ["make_app"]
