"""WS-Security UsernameToken authentication: which institution is calling.

Invariant: a request is attributed to an institution only when its ``wsse:UsernameToken`` names a known, enabled
institution, carries a digest of (nonce + Created + that institution's secret) — or, only where the operator
allowed it, the secret as text —, was created within the time window around now, and uses a nonce that
institution has not used before (remembered in the store, so across every worker). Anything else raises an
``AuthenticationError``: its message (for the log) says what failed; its public sentence (the faultstring) says
what to change for every refusal that reveals no secret — a malformed token, PasswordText where digests are
required, a Created outside the window (with the gateway's own UTC time), a replayed nonce — and is one and the same
for an unknown institution, a wrong digest and a disabled institution. Policy checks come before the institution
is looked up, so their answers are the same whether the institution exists or not.

Institutions are read from the store at most once a second per process (``INSTITUTION_TTL_SECONDS``): each read
takes the database's write lock on SQLite, which the workers would otherwise contend for on every request. So an
institution disabled, or a secret rotated, with ``ksz-gateway institutions`` stops working within that second; a
new secret works at once (a digest that fails against a remembered record is checked again against the store).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lxml import etree

from gateway.app.ports import InstitutionRecord, NonceClaim, Store
from gateway.contract.datetimes import utc_instant
from gateway.contract.names import WSSE, WSSE_BASE64, WSSE_PASSWORD_DIGEST, WSSE_PASSWORD_TEXT, WSU, qname
from gateway.contract.wssecurity import password_digest
from gateway.errors import (
    CreatedOutsideWindow,
    FailedAuthentication,
    IncompleteUsernameToken,
    InvalidSecurity,
    PasswordTextRefused,
    UnsupportedEncoding,
)

__all__ = [
    "INSTITUTION_TTL_SECONDS",
    "SECURITY",
    "Authenticator",
    "UsernameToken",
    "read_username_token",
]

SECURITY = qname(WSSE, "Security")
_TOKEN = qname(WSSE, "UsernameToken")
_USERNAME = qname(WSSE, "Username")
_PASSWORD = qname(WSSE, "Password")
_NONCE = qname(WSSE, "Nonce")
_CREATED = qname(WSU, "Created")
_MAX_NONCE_BYTES = 64
_SHOWN_CHARS = 200
INSTITUTION_TTL_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class UsernameToken:
    """What a ``wsse:UsernameToken`` says, decoded; ``created_text`` is Created exactly as it was digested."""

    username: str
    password: str
    digest: bool
    nonce: bytes | None
    created_text: str | None
    created: datetime | None


def _children(parent: etree._Element) -> dict[str, list[etree._Element]]:
    found: dict[str, list[etree._Element]] = {}
    for child in parent:
        found.setdefault(child.tag, []).append(child)
    return found


def _malformed(sentence: str) -> InvalidSecurity:
    """A malformed header: the sentence says what is wrong, to the log and to the caller alike."""
    return InvalidSecurity(sentence, public=sentence)


def _only(
    found: dict[str, list[etree._Element]], tag: str, what: str, where: str, *, required: bool
) -> etree._Element | None:
    elements = found.get(tag, ())
    if len(elements) > 1:
        raise _malformed(f"The {where} has more than one {what}; send exactly one.")
    if not elements:
        if required:
            raise _malformed(f"The {where} has no {what}; send one.")
        return None
    return elements[0]


def _text(element: etree._Element) -> str:
    return (element.text or "").strip()


def _shown(value: str) -> str:
    """A value of the request as a refusal quotes it: in quotes, cut short past ``_SHOWN_CHARS``."""
    return repr(value if len(value) <= _SHOWN_CHARS else value[:_SHOWN_CHARS] + "...")


def _parse_created(text: str) -> datetime:
    try:
        return utc_instant(text)  # an instant past the calendar's ends is a ValueError too, never an OverflowError
    except ValueError as exc:
        raise _malformed(
            f"wsu:Created {_shown(text)} is not a time: send an xs:dateTime in UTC, such as 2015-01-10T12:00:00Z."
        ) from exc


def _read_nonce(element: etree._Element) -> bytes:
    encoding = element.get("EncodingType")
    if encoding is not None and encoding != WSSE_BASE64:
        sentence = (
            f"wsse:Nonce has the EncodingType {_shown(encoding)}, which this gateway does not support: send the nonce "
            f'base64-encoded, with EncodingType "{WSSE_BASE64}" or without EncodingType.'
        )
        raise UnsupportedEncoding(sentence, public=sentence)
    try:
        nonce = base64.b64decode("".join(_text(element).split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _malformed("wsse:Nonce is not base64: send random bytes (16 are usual), base64-encoded.") from exc
    if not nonce or len(nonce) > _MAX_NONCE_BYTES:
        raise _malformed(
            f"wsse:Nonce decodes to {len(nonce)} bytes: send 1 to {_MAX_NONCE_BYTES} random bytes (16 are usual)."
        )
    return nonce


def read_username_token(headers: Sequence[etree._Element]) -> UsernameToken:
    """Find and decode the one ``wsse:Security/wsse:UsernameToken`` among the header entries."""
    securities = [h for h in headers if h.tag == SECURITY]
    if not securities:
        raise _malformed(
            "The request has no wsse:Security header: send one with a wsse:UsernameToken (Username, a "
            "#PasswordDigest Password, Nonce and Created)."
        )
    if len(securities) > 1:
        raise _malformed("The request has more than one wsse:Security header; send exactly one.")
    token = _only(_children(securities[0]), _TOKEN, "wsse:UsernameToken", "wsse:Security header", required=True)
    assert token is not None
    parts = _children(token)
    username_el = _only(parts, _USERNAME, "wsse:Username", "wsse:UsernameToken", required=True)
    password_el = _only(parts, _PASSWORD, "wsse:Password", "wsse:UsernameToken", required=True)
    assert username_el is not None and password_el is not None
    kind = password_el.get("Type") or WSSE_PASSWORD_TEXT  # the profile's default
    if kind not in (WSSE_PASSWORD_DIGEST, WSSE_PASSWORD_TEXT):
        raise _malformed(
            f"wsse:Password has the Type {_shown(kind)}, which this gateway does not know: "
            f'send Type "{WSSE_PASSWORD_DIGEST}".'
        )
    nonce_el = _only(parts, _NONCE, "wsse:Nonce", "wsse:UsernameToken", required=False)
    nonce = None if nonce_el is None else _read_nonce(nonce_el)
    created_el = _only(parts, _CREATED, "wsu:Created", "wsse:UsernameToken", required=False)
    created_text = None if created_el is None else _text(created_el)
    created = None if created_text is None else _parse_created(created_text)
    digest = kind == WSSE_PASSWORD_DIGEST
    if digest and (nonce is None or created_text is None):
        missing = " and ".join(
            name for name, value in (("wsse:Nonce", nonce), ("wsu:Created", created_text)) if value is None
        )
        sentence = (
            f"The UsernameToken has a password digest but no {missing}: the digest is made of nonce + Created + "
            "secret, so send both, wsse:Nonce base64-encoded and wsu:Created in UTC."
        )
        raise IncompleteUsernameToken(sentence, public=sentence)
    return UsernameToken(_text(username_el), _text(password_el), digest, nonce, created_text, created)


class Authenticator:
    """Checks UsernameTokens against the store's institutions and nonces."""

    def __init__(
        self,
        store: Store,
        *,
        window_seconds: int,
        allow_password_text: bool,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        institution_ttl: float = INSTITUTION_TTL_SECONDS,
    ) -> None:
        self._store = store
        self._window = timedelta(seconds=window_seconds)
        self._allow_text = allow_password_text
        self._clock = clock
        self._ttl = institution_ttl
        self._known: dict[str, tuple[float, InstitutionRecord]] = {}
        self._lock = threading.Lock()

    def _institution(self, username: str, *, fresh: bool = False) -> tuple[InstitutionRecord | None, bool]:
        """The institution named ``username`` and whether it was just read from the store."""
        now = time.monotonic()
        if not fresh:
            with self._lock:
                remembered = self._known.get(username)
            if remembered is not None and now - remembered[0] < self._ttl:
                return remembered[1], False
        with self._store.transaction() as tx:
            record = tx.institution(username)
        with self._lock:
            if record is None:
                self._known.pop(username, None)
            else:
                self._known[username] = (now, record)
        return record, True

    def _proves(self, token: UsernameToken, institution: InstitutionRecord) -> bool:
        if token.digest:
            assert token.nonce is not None and token.created_text is not None
            expected = password_digest(token.nonce, token.created_text, institution.secret)
            return hmac.compare_digest(expected.encode(), "".join(token.password.split()).encode())
        return hmac.compare_digest(token.password.encode(), institution.secret.encode())

    def verify(self, headers: Sequence[etree._Element]) -> tuple[InstitutionRecord, NonceClaim | None]:
        """The institution the request's UsernameToken proves, or ``AuthenticationError``; and the nonce that the
        request's transaction must claim (a replay is refused there, so one commit serves the whole request)."""
        token = read_username_token(headers)
        if not token.digest and not self._allow_text:
            raise PasswordTextRefused(f"PasswordText refused for {token.username!r}")
        now = self._clock()
        if token.created is not None:
            self._check_window(token, now)
        institution, fresh = self._institution(token.username)
        proven = institution is not None and self._proves(token, institution)
        if institution is not None and not fresh and not proven:
            institution, fresh = self._institution(token.username, fresh=True)  # maybe a new secret
            proven = institution is not None and self._proves(token, institution)
        if institution is None:
            raise FailedAuthentication(f"unknown institution {token.username!r}")
        if not institution.enabled:
            raise FailedAuthentication(f"institution {token.username} is disabled")
        if not proven:
            raise FailedAuthentication(f"wrong password or digest for institution {institution.id}")
        if token.nonce is None:
            return institution, None
        created = token.created if token.created is not None else now
        nonce = base64.b64encode(token.nonce).decode("ascii")
        return institution, NonceClaim(institution.id, nonce, created, now)

    def _check_window(self, token: UsernameToken, now: datetime) -> None:
        """Created within the window around ``now``; outside it, a refusal that shows the gateway's own UTC time."""
        assert token.created is not None
        offset = token.created - now
        if abs(offset) <= self._window:
            return
        seconds = int(abs(offset).total_seconds())
        side = "before" if offset < timedelta(0) else "after"
        window = int(self._window.total_seconds())
        sentence = (
            f"wsu:Created {token.created_text} lies {seconds} seconds {side} the gateway's time, "
            f"{now.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ} (UTC); it must be within {window} seconds of it: "
            "check the client's clock, and send Created in UTC."
        )
        raise CreatedOutsideWindow(f"wsu:Created {token.created_text} is {seconds} s {side} {now}", public=sentence)
