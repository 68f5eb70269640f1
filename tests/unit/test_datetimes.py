"""Instants from messages (wsu:Created): read as UTC, and refused as the sender's error, never an overflow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from gateway.adapters.soap.wssecurity import read_username_token
from gateway.contract.datetimes import MAX_INSTANT_CHARS, utc_instant
from gateway.errors import DateOutOfRange, InvalidSecurity

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-01-10T12:00:00Z", datetime(2015, 1, 10, 12, tzinfo=UTC)),
        ("2015-01-10T12:00:00", datetime(2015, 1, 10, 12, tzinfo=UTC)),
        ("2015-01-10T13:30:00+01:30", datetime(2015, 1, 10, 12, tzinfo=UTC)),
        ("2015-01-10T12:00:00.123456Z", datetime(2015, 1, 10, 12, 0, 0, 123456, tzinfo=UTC)),
        ("9999-12-31T23:59:59Z", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("9999-12-31T23:59:59+14:00", datetime(9999, 12, 31, 9, 59, 59, tzinfo=UTC)),
        ("0001-01-01T00:00:00-14:00", datetime(1, 1, 1, 14, tzinfo=UTC)),
    ],
)
def test_an_instant_is_read_in_utc(text: str, expected: datetime) -> None:
    moment = utc_instant(text)
    assert moment == expected and moment.tzinfo is UTC


@pytest.mark.parametrize(
    "text", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00+00:01"]
)
def test_an_instant_outside_the_calendar_in_utc_is_out_of_range(text: str) -> None:
    with pytest.raises(DateOutOfRange, match="outside the years 1 to 9999"):
        utc_instant(text)


@pytest.mark.parametrize("text", ["", "yesterday", "2015-13-01T00:00:00Z", "2015-01-10T25:00:00Z", "1" * 10_000])
def test_what_is_no_instant_is_a_value_error_that_does_not_echo_it_whole(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        utc_instant(text)
    assert len(str(caught.value)) < 120


@given(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes))),
)
def test_every_offset_at_every_moment_is_an_instant_or_out_of_range(moment: datetime, zone: timezone) -> None:
    text = moment.replace(tzinfo=zone).isoformat()
    assert len(text) <= MAX_INSTANT_CHARS
    try:
        read = utc_instant(text)
    except DateOutOfRange:
        offset = zone.utcoffset(None)
        assert moment - datetime.min < offset or datetime.max - moment < -offset
    else:
        assert read == moment.replace(tzinfo=zone)


def _security(created: str) -> list[etree._Element]:
    header = etree.fromstring(
        f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}"><wsse:UsernameToken>'
        f'<wsse:Username>0212345668</wsse:Username><wsse:Password Type="{DIGEST}">x</wsse:Password>'
        f"<wsse:Nonce>AAAAAAAAAAAAAAAAAAAAAA==</wsse:Nonce><wsu:Created>{created}</wsu:Created>"
        "</wsse:UsernameToken></wsse:Security>"
    )
    return [header]


@pytest.mark.parametrize("created", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_a_created_outside_the_calendar_is_an_invalid_security_header(created: str) -> None:
    with pytest.raises(InvalidSecurity):
        read_username_token(_security(created))
