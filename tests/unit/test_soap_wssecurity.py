"""WS-Security UsernameToken checks against a real (SQLite) store, with the wall clock fixed."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lxml import etree

from gateway.adapters.soap.wssecurity import Authenticator, password_digest
from gateway.adapters.storage.sqlite import SqliteStore
from gateway.app.ports import InstitutionRecord
from gateway.contract.names import WSSE, WSSE_PASSWORD_DIGEST, WSSE_PASSWORD_TEXT, WSU
from gateway.errors import FailedAuthentication, InvalidSecurity

NOW = datetime(2015, 1, 10, 12, 0, 0, tzinfo=UTC)
ID, SECRET = "0212345668", "s3cret"


@pytest.fixture
def store(sqlite_store: SqliteStore) -> SqliteStore:
    sqlite_store.add_institution(InstitutionRecord(ID, "OCMW Demostad", 17, SECRET))
    sqlite_store.add_institution(InstitutionRecord("0212345767", "OCMW Off", 17, "other", enabled=False))
    return sqlite_store


def authenticator(store: SqliteStore, *, text: bool = False, ttl: float = 1.0) -> Authenticator:
    return Authenticator(store, window_seconds=300, allow_password_text=text, clock=lambda: NOW, institution_ttl=ttl)


def token(
    *,
    user: str = ID,
    secret: str = SECRET,
    created: datetime = NOW,
    nonce: bytes | None = None,
    kind: str = WSSE_PASSWORD_DIGEST,
    created_text: str | None = None,
) -> list[Any]:
    nonce = nonce if nonce is not None else os.urandom(16)
    stamp = created_text or created.strftime("%Y-%m-%dT%H:%M:%SZ")
    password = password_digest(nonce, stamp, secret) if kind == WSSE_PASSWORD_DIGEST else secret
    xml = (
        f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}"><wsse:UsernameToken>'
        f"<wsse:Username>{user}</wsse:Username>"
        f'<wsse:Password Type="{kind}">{password}</wsse:Password>'
        f"<wsse:Nonce>{base64.b64encode(nonce).decode()}</wsse:Nonce>"
        f"<wsu:Created>{stamp}</wsu:Created></wsse:UsernameToken></wsse:Security>"
    )
    return [etree.fromstring(xml)]


def test_a_correct_digest_proves_the_institution(store: SqliteStore) -> None:
    assert authenticator(store).authenticate(token()).id == ID


@pytest.mark.parametrize("offset", [-300, 300, 0])
def test_created_within_the_window_is_accepted(store: SqliteStore, offset: int) -> None:
    assert authenticator(store).authenticate(token(created=NOW + timedelta(seconds=offset))).id == ID


@pytest.mark.parametrize("offset", [-301, 301])
def test_created_outside_the_window_is_refused(store: SqliteStore, offset: int) -> None:
    with pytest.raises(FailedAuthentication):
        authenticator(store).authenticate(token(created=NOW + timedelta(seconds=offset)))


def test_created_with_an_offset_or_fraction_counts_as_its_utc_instant(store: SqliteStore) -> None:
    assert authenticator(store).authenticate(token(created_text="2015-01-10T13:02:00.123+01:00")).id == ID


def test_a_nonce_is_refused_the_second_time(store: SqliteStore) -> None:
    nonce = os.urandom(16)
    auth = authenticator(store)
    auth.authenticate(token(nonce=nonce))
    with pytest.raises(FailedAuthentication):
        auth.authenticate(token(nonce=nonce, created=NOW + timedelta(seconds=1)))


def test_a_wrong_digest_does_not_use_up_the_nonce(store: SqliteStore) -> None:
    nonce = os.urandom(16)
    with pytest.raises(FailedAuthentication):
        authenticator(store).authenticate(token(nonce=nonce, secret="wrong"))
    assert authenticator(store).authenticate(token(nonce=nonce)).id == ID


@pytest.mark.parametrize(
    "make",
    [
        lambda: token(user="0999999999"),
        lambda: token(user="0212345767", secret="other"),
        lambda: token(secret="wrong"),
        lambda: token(kind=WSSE_PASSWORD_TEXT),
    ],
    ids=["unknown", "disabled", "wrong-secret", "password-text-not-allowed"],
)
def test_every_failure_is_failed_authentication(store: SqliteStore, make: Callable[[], list[Any]]) -> None:
    with pytest.raises(FailedAuthentication):
        authenticator(store).authenticate(make())


def test_password_text_works_only_where_allowed(store: SqliteStore) -> None:
    assert authenticator(store, text=True).authenticate(token(kind=WSSE_PASSWORD_TEXT)).id == ID


@pytest.mark.parametrize(
    "edit",
    [
        lambda x: x.replace("<wsse:UsernameToken>", "<wsse:Other>").replace("</wsse:UsernameToken>", "</wsse:Other>"),
        lambda x: x.replace("PasswordDigest", "PasswordSomething"),
        lambda x: x.replace("<wsse:Nonce>", "<wsse:Nonce>%%"),
        lambda x: x.replace("<wsu:Created>", "<wsu:Created>yesterday "),
        lambda x: x.replace("</wsse:UsernameToken>", "<wsse:Username>again</wsse:Username></wsse:UsernameToken>"),
    ],
    ids=["no-token", "unknown-type", "bad-nonce", "bad-created", "two-usernames"],
)
def test_a_malformed_token_is_invalid_security(store: SqliteStore, edit: Callable[[str], str]) -> None:
    xml = edit(etree.tostring(token()[0]).decode())
    with pytest.raises(InvalidSecurity):
        authenticator(store).authenticate([etree.fromstring(xml)])


def test_no_security_header_is_invalid_security(store: SqliteStore) -> None:
    with pytest.raises(InvalidSecurity):
        authenticator(store).authenticate([])


def test_a_rotated_secret_works_at_once_although_the_institution_is_remembered(store: SqliteStore) -> None:
    auth = authenticator(store, ttl=3600)
    auth.authenticate(token())
    store.set_secret(ID, "rotated")
    assert auth.authenticate(token(secret="rotated")).id == ID


def test_a_remembered_institution_is_read_again_once_its_time_is_up(store: SqliteStore) -> None:
    remembering = authenticator(store, ttl=3600)
    remembering.authenticate(token())
    store.set_enabled(ID, False)
    assert remembering.authenticate(token()).id == ID  # still remembered: the documented second at most
    with pytest.raises(FailedAuthentication):
        authenticator(store, ttl=0).authenticate(token())
