"""Who is calling, for both SOAP fronts: the one question every request answers before a use case runs.

Invariant: a request is attributed to an institution only by a proof the ``Authenticator`` accepted (a WS-Security
UsernameToken); anything else raises an ``AuthenticationError`` whose public text is the same whatever failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from lxml import etree

from gateway.adapters.soap.wssecurity import Authenticator
from gateway.app.ports import InstitutionRecord, NonceClaim

__all__ = ["Caller", "TokenCaller"]


class Caller(Protocol):
    """Who sends a request, from what came with it (its header entries, its WSGI environment)."""

    def verify(
        self, headers: Sequence[etree._Element], environ: dict[str, Any]
    ) -> tuple[InstitutionRecord, NonceClaim | None]:
        """The institution and the nonce the request's transaction must claim; ``AuthenticationError`` if none."""
        ...


class TokenCaller:
    """The caller a WS-Security UsernameToken proves."""

    def __init__(self, authenticator: Authenticator) -> None:
        self._authenticator = authenticator

    def verify(
        self, headers: Sequence[etree._Element], environ: dict[str, Any]
    ) -> tuple[InstitutionRecord, NonceClaim | None]:
        return self._authenticator.verify(headers)
