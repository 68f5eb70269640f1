"""Who is calling, for both SOAP fronts: a TLS client certificate registered for an institution, or a WS-Security
UsernameToken.

Invariant: a request is attributed to an institution only by a proof accepted here. A certificate counts when the
gateway's own TLS handshake verified it against the client CA bundle (``environ["gunicorn.socket"]``), or when a
reverse proxy at a trusted address (``--forwarded-allow-ips``) forwards it in ``X-SSL-Client-Cert`` (from any other
address that header is ignored); then it must be within its validity dates, issued by the client CA when one is
configured, registered by its SHA-256 fingerprint, and its institution enabled. Any of those failing is the very
fault a wrong secret gets (``FailedAuthentication``, one public text), whatever token comes with it. Without a
certificate the UsernameToken decides, as on the v1 front; with both, they must name the same institution.
Registered certificates are read from the store at most once a second per process (as institutions are).

``GuardedCaller`` puts the shared brake on guessing (``gateway.app.auth_guard``) around any of them: an address
throttled for what it claims is refused before any proof is looked at, and every refusal of authentication,
wherever in the request it came (a replayed nonce is found in the request's transaction), is recorded through
``refused``, which the endpoint calls once per refused request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from lxml import etree

from gateway.adapters.soap.documents import TrustedProxies
from gateway.adapters.soap.http import peer
from gateway.adapters.soap.wssecurity import INSTITUTION_TTL_SECONDS, SECURITY, Authenticator
from gateway.app.auth_guard import CLAIM_CHARS, AuthGuard
from gateway.app.ports import CertificateRecord, InstitutionRecord, NonceClaim, Store
from gateway.contract.certificates import Certificate, fingerprint, forwarded_certificate
from gateway.contract.names import WSSE, qname
from gateway.errors import AuthenticationError, AuthenticationThrottled, FailedAuthentication, InvalidSecurity

__all__ = [
    "CLAIMED",
    "FORWARDED_CERTIFICATE",
    "Caller",
    "CertificateOrToken",
    "ClientCertificates",
    "GuardedCaller",
    "TokenCaller",
    "claimed_by",
]

FORWARDED_CERTIFICATE = "HTTP_X_SSL_CLIENT_CERT"  # X-SSL-Client-Cert: URL-escaped PEM ($ssl_client_escaped_cert)
_NEITHER = (
    "The request came with neither a TLS client certificate nor a wsse:Security header: present the institution's "
    "registered client certificate, or send a wsse:UsernameToken (Username, a #PasswordDigest Password, Nonce and "
    "Created)."
)


class Caller(Protocol):
    """Who sends a request, from what came with it (its header entries, its WSGI environment)."""

    def verify(
        self, headers: Sequence[etree._Element], environ: dict[str, Any]
    ) -> tuple[InstitutionRecord, NonceClaim | None]:
        """The institution and the nonce the request's transaction must claim; ``AuthenticationError`` if none."""
        ...

    def refused(self, environ: dict[str, Any], error: AuthenticationError) -> None:
        """The request was refused for ``error`` (raised by ``verify`` or later in the request)."""
        ...


class TokenCaller:
    """The caller a WS-Security UsernameToken proves (no certificates)."""

    def __init__(self, authenticator: Authenticator) -> None:
        self._authenticator = authenticator

    def verify(
        self, headers: Sequence[etree._Element], environ: dict[str, Any]
    ) -> tuple[InstitutionRecord, NonceClaim | None]:
        return self._authenticator.verify(headers)

    def refused(self, environ: dict[str, Any], error: AuthenticationError) -> None:
        """Nothing is recorded (``GuardedCaller`` records)."""


class ClientCertificates:
    """The client certificate that came with a request, if any: from the TLS handshake the gateway made, or from
    a trusted reverse proxy's ``X-SSL-Client-Cert``."""

    def __init__(self, proxies: TrustedProxies, authorities: tuple[Certificate, ...] = ()) -> None:
        self._proxies = proxies
        self._authorities = authorities

    def _came(self, environ: dict[str, Any]) -> tuple[bytes | None, str | None]:
        """The DER bytes the gateway's own handshake verified (against --client-ca), else the header a trusted
        proxy forwarded; (None, None) when neither came."""
        socket = environ.get("gunicorn.socket")
        getpeercert = getattr(socket, "getpeercert", None)
        der = getpeercert(binary_form=True) if getpeercert is not None else None
        if der:
            return bytes(der), None
        header = environ.get(FORWARDED_CERTIFICATE)
        if not header or not self._proxies.trusts(peer(environ)):
            return None, None
        return None, str(header)

    def presented(self, environ: dict[str, Any]) -> Certificate | None:
        """The certificate, or None; ``FailedAuthentication`` for one a trusted proxy forwards that cannot count."""
        der, header = self._came(environ)
        if der is not None:
            return Certificate.from_der(der)
        if header is None:
            return None
        forwarded = forwarded_certificate(header)
        if forwarded is None:
            raise FailedAuthentication(f"X-SSL-Client-Cert from {peer(environ)} holds no readable certificate")
        if self._authorities and not forwarded.issued_by_one_of(self._authorities):
            raise FailedAuthentication(f"the forwarded certificate {forwarded.subject} is not one of the client CA's")
        return forwarded

    def fingerprint(self, environ: dict[str, Any]) -> str | None:
        """The SHA-256 fingerprint of the certificate that came, not yet judged (``unreadable`` for a forwarded
        header that holds none); None when none came."""
        der, header = self._came(environ)
        if der is not None:
            return fingerprint(der)
        if header is None:
            return None
        forwarded = forwarded_certificate(header)
        return forwarded.fingerprint if forwarded is not None else "unreadable"


class CertificateOrToken:
    """A registered client certificate, else a UsernameToken (``Authenticator``); both, if both came."""

    def __init__(
        self,
        authenticator: Authenticator,
        certificates: ClientCertificates,
        store: Store,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        ttl: float = INSTITUTION_TTL_SECONDS,
    ) -> None:
        self._authenticator = authenticator
        self._certificates = certificates
        self._store = store
        self._clock = clock
        self._ttl = ttl
        self._known: dict[str, tuple[float, CertificateRecord, InstitutionRecord | None]] = {}
        self._lock = threading.Lock()

    def verify(
        self, headers: Sequence[etree._Element], environ: dict[str, Any]
    ) -> tuple[InstitutionRecord, NonceClaim | None]:
        presented = self._certificates.presented(environ)
        if presented is None:
            if not any(entry.tag == SECURITY for entry in headers):
                raise InvalidSecurity("neither a client certificate nor a wsse:Security header", public=_NEITHER)
            return self._authenticator.verify(headers)
        institution = self._holder(presented)
        if not any(entry.tag == SECURITY for entry in headers):
            return institution, None
        token_holder, nonce = self._authenticator.verify(headers)
        if token_holder.id != institution.id:
            raise FailedAuthentication(
                f"the certificate of {institution.id} came with a UsernameToken of {token_holder.id}"
            )
        return institution, nonce

    def refused(self, environ: dict[str, Any], error: AuthenticationError) -> None:
        """Nothing is recorded (``GuardedCaller`` records)."""

    def fingerprint(self, environ: dict[str, Any]) -> str | None:
        """The fingerprint of the certificate that came with the request, not yet judged; None when none came."""
        return self._certificates.fingerprint(environ)

    def holder(self, environ: dict[str, Any]) -> InstitutionRecord:
        """The enabled institution whose registered, valid certificate came with the request, judged exactly as
        for a SOAP request; ``FailedAuthentication`` (the one public text) when none came or it does not count."""
        presented = self._certificates.presented(environ)
        if presented is None:
            raise FailedAuthentication("no client certificate came with the request")
        return self._holder(presented)

    def _holder(self, certificate: Certificate) -> InstitutionRecord:
        now = self._clock()
        if not certificate.valid_at(now):
            raise FailedAuthentication(
                f"certificate {certificate.fingerprint} ({certificate.subject}) is valid from "
                f"{certificate.not_before:%Y-%m-%d} to {certificate.not_after:%Y-%m-%d}, not on {now:%Y-%m-%d}"
            )
        record, institution = self._registered(certificate.fingerprint)
        if record is None:
            raise FailedAuthentication(
                f"certificate {certificate.fingerprint} ({certificate.subject}) is not registered"
            )
        if institution is None or not institution.enabled:
            raise FailedAuthentication(
                f"certificate {certificate.fingerprint} is of disabled institution {record.institution_id}"
            )
        return institution

    def _registered(self, fingerprint: str) -> tuple[CertificateRecord | None, InstitutionRecord | None]:
        moment = time.monotonic()
        with self._lock:
            remembered = self._known.get(fingerprint)
        if remembered is not None and moment - remembered[0] < self._ttl:
            return remembered[1], remembered[2]
        with self._store.transaction() as tx:
            record = tx.certificate(fingerprint)
            institution = None if record is None else tx.institution(record.institution_id)
        with self._lock:
            if record is None:
                self._known.pop(fingerprint, None)
            else:
                self._known[fingerprint] = (moment, record, institution)
        return record, institution


CLAIMED = "ksz.auth.claimed"  # the environ key where GuardedCaller notes what a request claims
_TOKEN = qname(WSSE, "UsernameToken")
_USERNAME = qname(WSSE, "Username")


def claimed_by(headers: Sequence[etree._Element], environ: dict[str, Any], certificates: ClientCertificates) -> str:
    """Who a request says it is, as recorded and throttled: its UsernameToken's Username as sent, else its client
    certificate's fingerprint (``sha256:...``), else ``""``. Never raises: a malformed header claims nothing."""
    for security in (h for h in headers if h.tag == SECURITY):
        for token in security.iterchildren(_TOKEN):
            for username in token.iterchildren(_USERNAME):
                return (username.text or "").strip()[:CLAIM_CHARS]
    presented = certificates.fingerprint(environ)
    return f"sha256:{presented}"[:CLAIM_CHARS] if presented else ""


class GuardedCaller:
    """A caller behind the shared brake on guessing: throttled addresses are refused before ``inner`` looks at
    any proof, and every refused authentication is recorded for ``front``."""

    def __init__(self, inner: Caller, guard: AuthGuard, front: str, certificates: ClientCertificates) -> None:
        self._inner = inner
        self._guard = guard
        self._front = front
        self._certificates = certificates

    def verify(
        self, headers: Sequence[etree._Element], environ: dict[str, Any]
    ) -> tuple[InstitutionRecord, NonceClaim | None]:
        claimed = claimed_by(headers, environ, self._certificates)
        environ[CLAIMED] = claimed
        address = peer(environ)
        self._guard.check(claimed, address)
        institution, nonce = self._inner.verify(headers, environ)
        self._guard.succeeded(claimed, address)
        return institution, nonce

    def refused(self, environ: dict[str, Any], error: AuthenticationError) -> None:
        if isinstance(error, AuthenticationThrottled):
            return  # refused unchecked: nothing was tried, and a flood of these writes nothing
        self._guard.failed(self._front, str(environ.get(CLAIMED, "")), peer(environ), error.code)
