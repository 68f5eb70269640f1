"""SSIN (INSZ) validity: RULES.md section 7."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.domain.identifiers import check_ssin, is_valid_ssin


def check_digits(body: str, century: int) -> str:
    """The two check digits of a 9-digit body: ``97 - (n mod 97)``, with a leading 2 for 2000 and later."""
    n = int(body)
    if century == 2000:
        n += 2_000_000_000
    return f"{97 - n % 97:02d}"


def ssin(body: str, century: int = 1900) -> str:
    assert len(body) == 9
    return body + check_digits(body, century)


def wrong_check_digits(body: str) -> str:
    """Check digits that match neither century."""
    good = {check_digits(body, 1900), check_digits(body, 2000)}
    return next(f"{c:02d}" for c in range(1, 98) if f"{c:02d}" not in good)


# --- literal numbers, check digits worked out by hand ---------------------------------------------------

KNOWN_GOOD = [
    # 850730033 = 97 * 8770412 + 69 -> 97 - 69 = 28; born 30 July 1985.
    pytest.param("85073003328", 1900, date(1985, 7, 30), "national-register", id="1985"),
    # 2060115123 = 97 * 21238300 + 23 -> 97 - 23 = 74; born 15 January 2006.
    pytest.param("06011512374", 2000, date(2006, 1, 15), "national-register", id="2006"),
    # 229001 = 97 * 2360 + 81; 2000229001 mod 97 = (68 + 81) mod 97 = 52 -> 97 - 52 = 45; born 29 Feb 2000.
    pytest.param("00022900145", 2000, date(2000, 2, 29), "national-register", id="leap-day-2000"),
    # 850729964 = 97 * 8770412 -> remainder 0, check digits 97.
    pytest.param("85072996497", 1900, date(1985, 7, 29), "national-register", id="check-digits-97"),
]


@pytest.mark.parametrize(("number", "century", "birth", "kind"), KNOWN_GOOD)
def test_known_good_numbers_are_accepted_with_their_birth_date(
    number: str, century: int, birth: date, kind: str
) -> None:
    result = check_ssin(number)
    assert result.valid, result.reason
    assert result.reason == ""
    assert result.century == century
    assert result.birth_date == birth
    assert result.kind == kind
    assert is_valid_ssin(number)


def test_the_literal_numbers_agree_with_the_check_digit_helper() -> None:
    assert ssin("850730033") == "85073003328"
    assert ssin("060115123", 2000) == "06011512374"
    assert ssin("000229001", 2000) == "00022900145"
    assert ssin("850729964") == "85072996497"


# --- computed numbers -----------------------------------------------------------------------------------

VALID_BODIES = [
    pytest.param("850730033", 1900, date(1985, 7, 30), id="1985"),
    pytest.param("010101001", 1900, date(1901, 1, 1), id="1901"),
    pytest.param("991231999", 1900, date(1999, 12, 31), id="1999-last-day"),
    pytest.param("000101001", 2000, date(2000, 1, 1), id="2000"),
    pytest.param("120615150", 2000, date(2012, 6, 15), id="2012"),
    pytest.param("240229123", 2000, date(2024, 2, 29), id="2024-leap-day"),
    pytest.param("040229123", 1900, date(1904, 2, 29), id="1904-leap-day"),
    pytest.param("750430042", 1900, date(1975, 4, 30), id="30-april"),
]


@pytest.mark.parametrize(("body", "century", "birth"), VALID_BODIES)
def test_a_national_register_number_is_valid_in_the_century_its_check_digits_name(
    body: str, century: int, birth: date
) -> None:
    result = check_ssin(ssin(body, century))
    assert result.valid, result.reason
    assert result.century == century
    assert result.birth_date == birth
    assert result.kind == "national-register"


@pytest.mark.parametrize("century", [1900, 2000])
@pytest.mark.parametrize(("offset", "month"), [(20, 7), (40, 7), (20, 12), (40, 1)])
def test_a_bis_number_adds_twenty_or_forty_to_the_month(century: int, offset: int, month: int) -> None:
    body = f"85{month + offset:02d}30033"
    result = check_ssin(ssin(body, century))
    assert result.valid, result.reason
    assert result.kind == "bis"
    assert result.birth_date == date(century + 85, month, 30)


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        pytest.param("850000033", "national-register", id="month-and-day-unknown"),
        pytest.param("850010033", "national-register", id="month-unknown-day-10"),
        pytest.param("850031033", "national-register", id="month-unknown-day-31"),
        pytest.param("852000033", "bis", id="bis-month-unknown"),
        pytest.param("854000033", "bis", id="bis-plus-40-month-unknown"),
    ],
)
def test_month_00_means_an_unknown_birth_date(body: str, kind: str) -> None:
    result = check_ssin(ssin(body))
    assert result.valid, result.reason
    assert result.kind == kind
    assert result.birth_date is None


@pytest.mark.parametrize("body", ["850700033", "852700033", "850200033", "000200033"])
def test_day_00_means_an_unknown_birth_day(body: str) -> None:
    result = check_ssin(ssin(body))
    assert result.valid, result.reason
    assert result.birth_date is None


# --- refusals -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["850730033", "060115123", "000229001", "852730033"])
def test_wrong_check_digits_are_refused(body: str) -> None:
    number = body + wrong_check_digits(body)
    result = check_ssin(number)
    assert not result.valid
    assert "check digits" in result.reason
    assert number in result.reason


def test_one_changed_digit_of_a_valid_number_is_refused() -> None:
    assert not is_valid_ssin("85073003329")
    assert not is_valid_ssin("85073003318")
    assert not is_valid_ssin("85073013328")


def test_check_digits_00_are_never_valid() -> None:
    assert not is_valid_ssin("85072996400")


@pytest.mark.parametrize("century", [1900, 2000])
@pytest.mark.parametrize("month", ["13", "19", "33", "39", "53", "59", "60", "73", "99"])
def test_an_impossible_birth_month_is_refused_even_with_good_check_digits(century: int, month: str) -> None:
    number = ssin(f"85{month}15033", century)
    result = check_ssin(number)
    assert not result.valid
    assert "month" in result.reason
    assert number in result.reason


IMPOSSIBLE_DAYS = [
    pytest.param("850230033", 1900, id="30-february"),
    pytest.param("850431033", 1900, id="31-april"),
    pytest.param("850631033", 2000, id="31-june"),
    pytest.param("850931033", 1900, id="31-september"),
    pytest.param("851131033", 2000, id="31-november"),
    pytest.param("850132033", 1900, id="32-january"),
    pytest.param("010229001", 1900, id="29-february-1901"),
    pytest.param("010229001", 2000, id="29-february-2001"),
    # 00 is a leap year only in the 2000 century: the check digits decide which.
    pytest.param("000229001", 1900, id="29-february-1900"),
    pytest.param("852230033", 1900, id="bis-30-february"),
    pytest.param("854431033", 2000, id="bis-31-april"),
    pytest.param("850032033", 1900, id="month-unknown-day-32"),
]


@pytest.mark.parametrize(("body", "century"), IMPOSSIBLE_DAYS)
def test_an_impossible_birth_day_is_refused(body: str, century: int) -> None:
    number = ssin(body, century)
    result = check_ssin(number)
    assert not result.valid
    assert "day" in result.reason
    assert number in result.reason


def test_29_february_00_is_valid_only_when_the_check_digits_say_2000() -> None:
    assert is_valid_ssin(ssin("000229001", 2000))
    assert not is_valid_ssin(ssin("000229001", 1900))


def test_29_february_04_is_valid_in_both_centuries() -> None:
    assert check_ssin(ssin("040229001", 1900)).birth_date == date(1904, 2, 29)
    assert check_ssin(ssin("040229001", 2000)).birth_date == date(2004, 2, 29)


@pytest.mark.parametrize(
    "number",
    [
        pytest.param("8507300332a", id="letter"),
        pytest.param("85.07.30-033.28", id="formatted"),
        pytest.param("85073003328 ", id="trailing-space"),
        pytest.param(" 8507300332", id="leading-space"),
        pytest.param("-8507300332", id="sign"),
        pytest.param("８５０７３００３３２８", id="full-width-digits"),
        pytest.param("85O73003328", id="letter-o"),
    ],
)
def test_anything_but_ascii_digits_is_refused(number: str) -> None:
    result = check_ssin(number)
    assert not result.valid
    assert "11 digits" in result.reason
    assert repr(number) in result.reason


@pytest.mark.parametrize(
    "number",
    [
        pytest.param("", id="empty"),
        pytest.param("8507300332", id="ten-digits"),
        pytest.param("850730033280", id="twelve-digits"),
        pytest.param("085073003328", id="leading-zero-added"),
    ],
)
def test_a_number_of_the_wrong_length_is_refused(number: str) -> None:
    result = check_ssin(number)
    assert not result.valid
    assert "11 digits" in result.reason
    assert repr(number) in result.reason


def test_a_refusal_keeps_the_number_and_no_details() -> None:
    result = check_ssin("85073003329")
    assert result.ssin == "85073003329"
    assert result.birth_date is None
    assert result.century is None
    assert result.kind == ""
