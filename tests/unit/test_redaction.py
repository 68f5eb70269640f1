"""What a log may show of a request: SSINs masked, control characters escaped, every value bounded
(gateway.app.redaction), and the formatters' last line of defence over whole records (gateway.adapters.observe.logs).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import unicodedata

from hypothesis import example, given
from hypothesis import strategies as st

from gateway.adapters.observe.logs import JsonFormatter, RequestLog, TextFormatter
from gateway.app.exchange import new_ticket
from gateway.app.observation import RequestNote
from gateway.app.redaction import MAX_SHOWN, escape, mask_ssin, masked_text, shown

ELEVEN_DIGITS = re.compile(r"\d{11}")
# The longest marker shown() adds to a cut value: "…(N chars)" for any N a test can make.
MARKER = len("…(99999999 chars)")

ssins = st.from_regex(r"[0-9]{11}", fullmatch=True)
texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=300)


@given(texts, ssins, texts)
def test_no_ssin_survives_being_shown_wherever_it_stands(before: str, ssin: str, after: str) -> None:
    out = shown(before + ssin + after)
    assert ssin not in out
    assert not ELEVEN_DIGITS.search(out)


@given(texts)
def test_no_run_of_eleven_digits_survives_any_text(text: str) -> None:
    assert not ELEVEN_DIGITS.search(shown(text))


@given(ssins, st.sampled_from([".", "-", " ", "/"]))
def test_an_ssin_written_with_separators_is_masked_too(ssin: str, separator: str) -> None:
    written = f"{ssin[:2]}.{ssin[2:4]}.{ssin[4:6]}{separator}{ssin[6:9]}.{ssin[9:]}"
    out = shown(f"the value '{written}' is not an SSIN")
    assert out == f"the value '{ssin[:6]}*****' is not an SSIN"


@given(st.text(max_size=5000), st.integers(min_value=1, max_value=400))
def test_a_shown_value_is_bounded_and_on_one_line(text: str, limit: int) -> None:
    out = shown(text, limit)
    assert len(out) <= limit + MARKER
    assert "\n" not in out and "\r" not in out
    assert not any(unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"} for ch in out)


def test_a_three_megabyte_username_is_shown_in_two_hundred_characters_and_a_length() -> None:
    out = shown("A" * 3_000_000)
    assert out == "A" * MAX_SHOWN + "…(3000000 chars)"


def test_a_schema_invalid_ssin_with_a_leading_space_is_masked() -> None:
    assert shown(" 90010190193") == " 900101*****"
    assert mask_ssin(" 90010190193") == "900101*****"
    assert mask_ssin("85073003328") == "850730*****"


def test_an_ssin_split_by_a_control_character_is_masked_and_no_escape_joins_digits() -> None:
    assert shown("9001019\x000193") == "900101*****"
    assert shown("\x19" + "1234567890") == "\\x{19}1234567890"
    assert not ELEVEN_DIGITS.search(shown("\U00014000" + "0" * 11))


def test_a_value_that_is_no_ssin_is_shown_as_it_is() -> None:
    assert mask_ssin("0212345668") == "0212345668"
    assert shown("KSZGW-1a2b3c") == "KSZGW-1a2b3c"


def test_control_characters_are_escaped_not_written() -> None:
    assert escape("a\nb\x1b[31m\u2028c\u202e") == "a\\x{0a}b\\x{1b}[31m\\u{2028}c\\u{202e}"
    assert escape("één ça") == "één ça"


def test_the_formatter_mask_spares_addresses_tickets_and_enterprise_numbers() -> None:
    line = "institution 0212345668 from 192.168.100.200 ticket KSZGW-12345678901ab incident 1234567890123abc"
    assert masked_text(line) == line
    assert masked_text("person 85073003328 refused") == "person 850730***** refused"


def _request_lines(ticket: str) -> list[str]:
    """The request line of an answer with ``ticket``, as the text and the JSON formatter write it."""
    note = RequestNote(front="repertorium", method="POST", path="/soap/repertorium", peer="127.0.0.1")
    note.ticket = ticket
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("gateway.test.requests")
    logger.propagate, logger.level = False, logging.INFO
    logger.addHandler(keep := Keep())
    try:
        RequestLog(logger).request(note.event(200, 0.001))
    finally:
        logger.removeHandler(keep)
    (record,) = records
    return [TextFormatter().format(record), JsonFormatter().format(record)]


@given(st.text(alphabet="0123456789abcdef", min_size=30, max_size=30))
@example("0123456789abcdef0123456789abcd")  # eleven decimal digits and more in a row: no SSIN, the Ticket's own
@example("abcdef" + "1" * 24)
def test_a_ticket_the_gateway_made_is_logged_whole(random_hex: str) -> None:
    ticket = f"KSZGW-{random_hex}"
    text, json_line = _request_lines(ticket)
    assert f"ticket={ticket}" in text
    assert json.loads(json_line)["ticket"] == ticket


def test_tickets_made_by_the_gateway_find_their_audit_record_in_the_log() -> None:
    tickets = [new_ticket() for _ in range(2000)]  # about one in twenty has eleven decimal digits in a row
    assert sum(bool(ELEVEN_DIGITS.search(t)) for t in tickets) > 0
    assert all(json.loads(_request_lines(t)[1])["ticket"] == t for t in tickets)


@given(ssins)
def test_a_ticket_the_gateway_did_not_make_is_shown_redacted(ssin: str) -> None:
    # the last: one hex digit too many for a Ticket of the gateway's
    for ticket in (f"KSZGW-{ssin}", f"X{ssin}", f"KSZGW-{ssin}abcdefabcdefabcdefab"):
        text, json_line = _request_lines(ticket)
        assert ssin not in text and ssin not in json.loads(json_line)["ticket"]


def _record(message: str, *args: object, fields: dict[str, object] | None = None) -> logging.LogRecord:
    record = logging.LogRecord("gateway.test", logging.WARNING, __file__, 1, message, args, None)
    if fields is not None:
        record.request_fields = fields
    return record


def test_a_json_line_is_one_line_with_the_fixed_keys_first() -> None:
    line = JsonFormatter().format(_record("hello %s", "x\ny 85073003328", fields={"front": "console", "level": "no"}))
    assert "\n" not in line
    data = json.loads(line)
    assert list(data)[:4] == ["time", "level", "logger", "message"]
    assert data["level"] == "warning" and data["logger"] == "gateway.test" and data["front"] == "console"
    assert data["message"] == "hello x\\x{0a}y 850730*****"


def test_a_text_line_cannot_be_split_and_its_traceback_lines_are_marked() -> None:
    try:
        raise ValueError("bad\nINFO forged line 85073003328")
    except ValueError:
        record = _record("failed: %s", "one\ntwo")
        record.exc_info = sys.exc_info()
    lines = TextFormatter().format(record).split("\n")
    assert "failed: one\\x{0a}two" in lines[0]
    assert all(line.startswith("  | ") for line in lines[1:])
    assert not any("85073003328" in line for line in lines)


def test_a_huge_message_is_bounded() -> None:
    data = json.loads(JsonFormatter().format(_record("%s", "x" * 1_000_000)))
    assert len(data["message"]) < 4100
