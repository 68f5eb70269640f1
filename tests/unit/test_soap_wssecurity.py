"""WS-Security UsernameToken checks against a real (SQLite) store, with the wall clock fixed: who is proved, and
what each refusal tells the caller."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lxml import etree

from gateway.adapters.soap.faults import fault_string
from gateway.adapters.soap.wssecurity import Authenticator, password_digest
from gateway.adapters.storage.sqlite import SqliteStore
from gateway.app.exchange import claim
from gateway.app.ports import InstitutionRecord
from gateway.contract.names import WSSE, WSSE_BASE64, WSSE_PASSWORD_DIGEST, WSSE_PASSWORD_TEXT, WSU
from gateway.errors import (
    AuthenticationError,
    CreatedOutsideWindow,
    FailedAuthentication,
    IncompleteUsernameToken,
    InvalidSecurity,
    NonceReplayed,
    PasswordTextRefused,
    UnsupportedEncoding,
)

NOW = datetime(2015, 1, 10, 12, 0, 0, tzinfo=UTC)
ID, SECRET = "0212345668", "s3cret"


@pytest.fixture
def store(sqlite_store: SqliteStore) -> SqliteStore:
    sqlite_store.add_institution(InstitutionRecord(ID, "OCMW Demostad", 17, SECRET))
    sqlite_store.add_institution(InstitutionRecord("0212345767", "OCMW Off", 17, "other", enabled=False))
    return sqlite_store


def authenticator(store: SqliteStore, *, text: bool = False, ttl: float = 1.0) -> Authenticator:
    return Authenticator(store, window_seconds=300, allow_password_text=text, clock=lambda: NOW, institution_ttl=ttl)


def authenticate(auth: Authenticator, store: SqliteStore, headers: list[Any]) -> InstitutionRecord:
    """As a request does: verify the token, then claim its nonce in the request's transaction."""
    institution, nonce = auth.verify(headers)
    with store.transaction() as tx:
        claim(tx, nonce)
    return institution


def refusal(auth: Authenticator, headers: list[Any]) -> AuthenticationError:
    with pytest.raises(AuthenticationError) as caught:
        auth.verify(headers)
    return caught.value


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
    assert authenticate(authenticator(store), store, token()).id == ID


@pytest.mark.parametrize("offset", [-300, 300, 0])
def test_created_within_the_window_is_accepted(store: SqliteStore, offset: int) -> None:
    assert authenticate(authenticator(store), store, token(created=NOW + timedelta(seconds=offset))).id == ID


@pytest.mark.parametrize(("offset", "side"), [(-301, "before"), (301, "after"), (-7200, "before")])
def test_created_outside_the_window_is_refused_with_the_gateways_utc_time(
    store: SqliteStore, offset: int, side: str
) -> None:
    created = NOW + timedelta(seconds=offset)
    error = refusal(authenticator(store), token(created=created))
    assert type(error) is CreatedOutsideWindow
    assert fault_string(error) == (
        f"wsu:Created {created:%Y-%m-%dT%H:%M:%SZ} lies {abs(offset)} seconds {side} the gateway's time, "
        "2015-01-10T12:00:00Z (UTC); it must be within 300 seconds of it: check the client's clock, and send "
        "Created in UTC."
    )


def test_a_stale_created_is_told_before_the_digest_is_checked_so_it_reveals_no_institution(
    store: SqliteStore,
) -> None:
    stale = NOW - timedelta(minutes=10)
    known = fault_string(refusal(authenticator(store), token(created=stale, secret="wrong")))
    unknown = fault_string(refusal(authenticator(store), token(created=stale, user="0999999999")))
    assert known == unknown
    assert "2015-01-10T12:00:00Z" in known


def test_created_with_an_offset_or_fraction_counts_as_its_utc_instant(store: SqliteStore) -> None:
    assert authenticate(authenticator(store), store, token(created_text="2015-01-10T13:02:00.123+01:00")).id == ID


def test_a_nonce_is_refused_the_second_time_saying_it_was_used_before(store: SqliteStore) -> None:
    nonce = os.urandom(16)
    auth = authenticator(store)
    authenticate(auth, store, token(nonce=nonce))
    with pytest.raises(NonceReplayed) as caught:
        authenticate(auth, store, token(nonce=nonce, created=NOW + timedelta(seconds=1)))
    assert fault_string(caught.value) == NonceReplayed.public_message
    assert "used before" in fault_string(caught.value)


def test_a_wrong_digest_does_not_use_up_the_nonce(store: SqliteStore) -> None:
    nonce = os.urandom(16)
    with pytest.raises(FailedAuthentication):
        authenticate(authenticator(store), store, token(nonce=nonce, secret="wrong"))
    assert authenticate(authenticator(store), store, token(nonce=nonce)).id == ID


@pytest.mark.parametrize(
    "make",
    [
        lambda: token(user="0999999999"),
        lambda: token(user="0212345767", secret="other"),
        lambda: token(secret="wrong"),
        lambda: token(secret="other"),
    ],
    ids=["unknown", "disabled", "wrong-secret", "another-institutions-secret"],
)
def test_unknown_disabled_and_wrong_secret_are_one_and_the_same_refusal(
    store: SqliteStore, make: Callable[[], list[Any]]
) -> None:
    error = refusal(authenticator(store), make())
    assert type(error) is FailedAuthentication
    assert fault_string(error) == FailedAuthentication.public_message


def test_password_text_is_refused_saying_to_send_a_digest_whoever_sends_it(store: SqliteStore) -> None:
    for user in (ID, "0999999999"):
        error = refusal(authenticator(store), token(kind=WSSE_PASSWORD_TEXT, user=user))
        assert type(error) is PasswordTextRefused
        assert "send wsse:Password with Type" in fault_string(error)
        assert WSSE_PASSWORD_DIGEST in fault_string(error)


def test_password_text_works_only_where_allowed(store: SqliteStore) -> None:
    assert authenticate(authenticator(store, text=True), store, token(kind=WSSE_PASSWORD_TEXT)).id == ID


MALFORMATIONS: dict[str, Callable[[str], str]] = {
    "no-token": lambda x: x.replace("<wsse:UsernameToken>", "<wsse:Other>").replace(
        "</wsse:UsernameToken>", "</wsse:Other>"
    ),
    "unknown-type": lambda x: x.replace("PasswordDigest", "PasswordSomething"),
    "bad-nonce": lambda x: x.replace("<wsse:Nonce>", "<wsse:Nonce>%%"),
    "bad-created": lambda x: x.replace("<wsu:Created>", "<wsu:Created>yesterday "),
    "two-usernames": lambda x: x.replace(
        "</wsse:UsernameToken>", "<wsse:Username>again</wsse:Username></wsse:UsernameToken>"
    ),
}


def _malformed_refusal(store: SqliteStore, edit: Callable[[str], str]) -> AuthenticationError:
    xml = edit(etree.tostring(token()[0]).decode())
    return refusal(authenticator(store), [etree.fromstring(xml)])


@pytest.mark.parametrize("edit", MALFORMATIONS.values(), ids=MALFORMATIONS.keys())
def test_a_malformed_token_is_invalid_security(store: SqliteStore, edit: Callable[[str], str]) -> None:
    assert isinstance(_malformed_refusal(store, edit), InvalidSecurity)


def test_each_malformation_is_told_in_a_sentence_of_its_own(store: SqliteStore) -> None:
    sentences = {fault_string(_malformed_refusal(store, edit)) for edit in MALFORMATIONS.values()}
    assert len(sentences) == len(MALFORMATIONS)
    assert InvalidSecurity.public_message not in sentences
    assert "The wsse:UsernameToken has more than one wsse:Username; send exactly one." in sentences


def test_no_security_header_is_invalid_security_saying_what_to_send(store: SqliteStore) -> None:
    error = refusal(authenticator(store), [])
    assert type(error) is InvalidSecurity
    assert fault_string(error).startswith("The request has no wsse:Security header: send one with a wsse:UsernameToken")


def _without(element: str) -> list[Any]:
    root = token()[0]
    found = root.find(f".//{element}")
    found.getparent().remove(found)
    return [root]


@pytest.mark.parametrize(
    ("element", "missing"),
    [(f"{{{WSSE}}}Nonce", "wsse:Nonce"), (f"{{{WSU}}}Created", "wsu:Created")],
    ids=["nonce", "created"],
)
def test_a_digest_without_nonce_or_created_names_what_is_missing(
    store: SqliteStore, element: str, missing: str
) -> None:
    error = refusal(authenticator(store), _without(element))
    assert type(error) is IncompleteUsernameToken
    assert fault_string(error).startswith(f"The UsernameToken has a password digest but no {missing}: ")


def test_a_nonce_encoding_other_than_base64_is_named_with_the_one_supported(store: SqliteStore) -> None:
    root = token()[0]
    root.find(f".//{{{WSSE}}}Nonce").set("EncodingType", "urn:example:hex")
    error = refusal(authenticator(store), [root])
    assert type(error) is UnsupportedEncoding
    assert fault_string(error) == (
        "wsse:Nonce has the EncodingType 'urn:example:hex', which this gateway does not support: send the nonce "
        f'base64-encoded, with EncodingType "{WSSE_BASE64}" or without EncodingType.'
    )
    root.find(f".//{{{WSSE}}}Nonce").set("EncodingType", WSSE_BASE64)
    assert authenticate(authenticator(store), store, [root]).id == ID


def test_a_refusal_quotes_at_most_a_short_piece_of_what_was_sent(store: SqliteStore) -> None:
    xml = etree.tostring(token()[0]).decode().replace("<wsu:Created>", "<wsu:Created>" + "x" * 5000)
    text = fault_string(refusal(authenticator(store), [etree.fromstring(xml)]))
    assert len(text) < 400 and "xxx..." in text


def test_a_rotated_secret_works_at_once_although_the_institution_is_remembered(store: SqliteStore) -> None:
    auth = authenticator(store, ttl=3600)
    authenticate(auth, store, token())
    store.set_secret(ID, "rotated")
    assert authenticate(auth, store, token(secret="rotated")).id == ID


def test_a_remembered_institution_is_read_again_once_its_time_is_up(store: SqliteStore) -> None:
    remembering = authenticator(store, ttl=3600)
    authenticate(remembering, store, token())
    store.set_enabled(ID, False)
    assert authenticate(remembering, store, token()).id == ID  # still remembered: the documented second at most
    with pytest.raises(FailedAuthentication):
        authenticate(authenticator(store, ttl=0), store, token())
