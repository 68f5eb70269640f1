"""The console's signed sessions and its words: what each accepts and what it refuses."""

from __future__ import annotations

import string
from dataclasses import replace
from datetime import date

import pytest

from gateway.adapters.console.i18n import LANGUAGES, TEXTS, code_label
from gateway.adapters.console.sessions import (
    ABSOLUTE_SECONDS,
    IDLE_SECONDS,
    Member,
    Missing,
    Revocations,
    Session,
    SessionCodec,
)
from gateway.domain.catalogue import DEFAULT_CATALOGUE_FILE, load_catalogue
from gateway.domain.periods import Period

KEY = b"k" * 32
NOW = 1_800_000_000


def _session() -> Session:
    return replace(
        Session.new(NOW, "nl"),
        institution="0212345668",
        secret_mark="mark",
        household=(Member("85073003328", "Jan Peeters"), Member("06011512374", "Zoë «Ω»")),
        missing=Missing(
            "form.living-wage", "R5.3", (("85073003328", (Period(date(2015, 1, 10), date(2015, 1, 10)),)),)
        ),
    )


def test_a_session_comes_back_whole_from_its_cookie() -> None:
    codec = SessionCodec(KEY)
    session = _session()
    assert codec.decode(codec.encode(session), NOW + 5) == session


@pytest.mark.parametrize("part", [0, 1, 2])
def test_a_cookie_altered_anywhere_is_no_session(part: int) -> None:
    codec = SessionCodec(KEY)
    pieces = codec.encode(_session()).split(".")
    pieces[part] = pieces[part][:-2] + ("AA" if pieces[part][-2:] != "AA" else "BB")
    assert codec.decode(".".join(pieces), NOW) is None


def test_a_session_claiming_another_institution_without_the_key_is_no_session() -> None:
    import base64
    import json

    codec = SessionCodec(KEY)
    version, payload, mac = codec.encode(_session()).split(".")
    content = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    content["inst"] = "0212345767"
    forged = base64.urlsafe_b64encode(json.dumps(content).encode()).rstrip(b"=").decode()
    assert codec.decode(f"{version}.{forged}.{mac}", NOW) is None
    assert SessionCodec(b"o" * 32).decode(codec.encode(_session()), NOW) is None


def test_a_session_ends_when_idle_too_long_or_too_old() -> None:
    codec = SessionCodec(KEY)
    session = _session()
    assert codec.decode(codec.encode(session), NOW + IDLE_SECONDS) is not None
    assert codec.decode(codec.encode(session), NOW + IDLE_SECONDS + 1) is None
    busy = session.touched(NOW + ABSOLUTE_SECONDS + 1)
    assert codec.decode(codec.encode(busy), NOW + ABSOLUTE_SECONDS + 1) is None


def test_a_csrf_token_answers_for_its_own_session_only() -> None:
    codec = SessionCodec(KEY)
    mine, theirs = _session(), _session()
    assert codec.csrf_ok(mine, codec.csrf_token(mine))
    assert not codec.csrf_ok(mine, codec.csrf_token(theirs))
    assert not codec.csrf_ok(mine, "")
    assert not codec.csrf_ok(mine, "é" * 40)


def test_the_secret_mark_changes_with_the_secret() -> None:
    codec = SessionCodec(KEY)
    assert codec.secret_mark("0212345668", "a") != codec.secret_mark("0212345668", "b")
    assert codec.secret_mark("0212345668", "a") == codec.secret_mark("0212345668", "a")


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SessionCodec(b"short")


def test_a_logged_out_session_stays_refused_until_it_would_have_ended() -> None:
    revocations = Revocations()
    session = _session()
    revocations.revoke(session)
    assert revocations.revoked(session, NOW + 60)
    assert not revocations.revoked(_session(), NOW + 60)
    assert not revocations.revoked(session, NOW + IDLE_SECONDS + 1)


def test_revocations_keep_no_more_than_their_bound() -> None:
    revocations = Revocations(max_ids=3)
    sessions = [Session.new(NOW) for _ in range(5)]
    for s in sessions:
        revocations.revoke(s)
    assert [revocations.revoked(s, NOW) for s in sessions] == [False, False, True, True, True]


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(TEXTS))
def test_every_text_exists_in_every_language_with_the_same_blanks(key: str) -> None:
    texts = TEXTS[key]
    assert len(texts) == len(LANGUAGES) and all(t.strip() for t in texts)
    assert len({frozenset(_fields(t)) for t in texts}) == 1


def test_every_quality_code_of_sector_17_has_its_name_from_the_manual_in_dutch_and_french() -> None:
    catalogue = load_catalogue((DEFAULT_CATALOGUE_FILE,))
    for quality in catalogue.codes_of(17):
        assert code_label(quality.label, "en") == quality.label
        assert code_label(quality.label, "nl") != quality.label
        assert code_label(quality.label, "fr") != quality.label
    assert code_label("file under investigation", "nl") == "dossier in onderzoek"
    assert code_label("a label an operator wrote", "fr") == "a label an operator wrote"
