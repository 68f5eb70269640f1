"""The catalogue of quality codes and their maximum periods: RULES.md section 1 (R1.2-R1.5)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from gateway.domain.catalogue import (
    DEFAULT_CATALOGUE_FILE,
    DEMO_CATALOGUE_FILE,
    OCMW_SECTOR,
    Catalogue,
    CatalogueError,
    MaxPeriod,
    load_catalogue,
)


def d(text: str) -> date:
    return date.fromisoformat(text)


@pytest.fixture(scope="module")
def default() -> Catalogue:
    return load_catalogue()


# --- sector 17: every code with its maximum -------------------------------------------------------------

MAXIMA = [
    # code 01: 2 months
    pytest.param(1, "2014-12-01", "2015-01-31", id="01-manual-example"),
    pytest.param(1, "2015-01-01", "2015-02-28", id="01-from-first-of-month"),
    pytest.param(1, "2015-01-15", "2015-03-14", id="01-mid-month"),
    pytest.param(1, "2014-12-31", "2015-02-27", id="01-clamped-to-february"),
    pytest.param(1, "2015-11-15", "2016-01-14", id="01-over-new-year"),
    # codes 02-06, 12 and 30: 1 year
    pytest.param(2, "2015-01-01", "2015-12-31", id="02-calendar-year"),
    pytest.param(2, "2015-06-15", "2016-06-14", id="02-mid-year"),
    pytest.param(2, "2016-02-29", "2017-02-27", id="02-from-leap-day"),
    pytest.param(3, "2015-03-01", "2016-02-29", id="03-into-leap-february"),
    pytest.param(4, "2015-07-01", "2016-06-30", id="04"),
    pytest.param(5, "2015-08-20", "2016-08-19", id="05"),
    pytest.param(6, "2015-01-31", "2016-01-30", id="06"),
    pytest.param(12, "2015-01-01", "2015-12-31", id="12"),
    pytest.param(30, "2015-04-30", "2016-04-29", id="30"),
    # codes 07-09: 5 years
    pytest.param(7, "2015-01-01", "2019-12-31", id="07"),
    pytest.param(8, "2015-06-15", "2020-06-14", id="08"),
    pytest.param(9, "2016-02-29", "2021-02-27", id="09-from-leap-day"),
    pytest.param(9, "2015-03-01", "2020-02-29", id="09-into-leap-february"),
    # code 31: 1 month
    pytest.param(31, "2015-01-31", "2015-02-27", id="31-rules-example"),
    pytest.param(31, "2015-01-15", "2015-02-14", id="31-mid-month"),
    pytest.param(31, "2016-01-31", "2016-02-28", id="31-leap-year"),
    pytest.param(31, "2015-12-10", "2016-01-09", id="31-over-new-year"),
    pytest.param(31, "2015-02-01", "2015-02-28", id="31-whole-february"),
    # code 40: the calendar year of the start
    pytest.param(40, "2015-03-10", "2015-12-31", id="40-manual-example"),
    pytest.param(40, "2015-01-01", "2015-12-31", id="40-from-new-year"),
    pytest.param(40, "2015-12-31", "2015-12-31", id="40-on-new-years-eve"),
    pytest.param(40, "2016-02-29", "2016-12-31", id="40-leap-day"),
]


@pytest.mark.parametrize(("code", "start", "max_end"), MAXIMA)
def test_each_ocmw_code_allows_at_most_its_maximum_period(
    default: Catalogue, code: int, start: str, max_end: str
) -> None:
    quality = default.code(OCMW_SECTOR, code)
    assert quality is not None
    assert quality.max_period.max_end(d(start)) == d(max_end)


def test_code_11_has_no_maximum_end(default: Catalogue) -> None:
    quality = default.code(OCMW_SECTOR, 11)
    assert quality is not None
    assert quality.max_period.unlimited
    assert quality.max_period.max_end(d("2015-01-01")) is None


@pytest.mark.parametrize(
    ("code", "months"),
    [(1, 2), (2, 12), (3, 12), (4, 12), (5, 12), (6, 12), (7, 60), (8, 60), (9, 60), (12, 12), (30, 12), (31, 1)],
)
def test_each_ocmw_code_counts_its_maximum_in_months(default: Catalogue, code: int, months: int) -> None:
    quality = default.code(OCMW_SECTOR, code)
    assert quality is not None
    assert quality.max_period == MaxPeriod(months=months)


def test_code_40_is_limited_to_the_calendar_year(default: Catalogue) -> None:
    quality = default.code(OCMW_SECTOR, 40)
    assert quality is not None
    assert quality.max_period == MaxPeriod(calendar_year=True)
    assert not quality.max_period.unlimited


def test_sector_17_holds_exactly_the_codes_of_the_manual(default: Catalogue) -> None:
    codes = [q.code for q in default.codes_of(OCMW_SECTOR)]
    assert codes == [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 30, 31, 40]


@pytest.mark.parametrize("code", [11, 12])
def test_codes_11_and_12_cannot_be_integrated_by_request(default: Catalogue, code: int) -> None:
    quality = default.code(OCMW_SECTOR, code)
    assert quality is not None
    assert quality.manual is False


@pytest.mark.parametrize("code", [1, 2, 3, 4, 5, 6, 7, 8, 9, 30, 31, 40])
def test_every_other_ocmw_code_can_be_integrated_by_request(default: Catalogue, code: int) -> None:
    quality = default.code(OCMW_SECTOR, code)
    assert quality is not None
    assert quality.manual is True


@pytest.mark.parametrize("code", [0, 10, 13, 32, 41, 99])
def test_a_code_outside_the_table_is_unknown(default: Catalogue, code: int) -> None:
    assert default.code(OCMW_SECTOR, code) is None


@pytest.mark.parametrize(
    ("max_period", "text"),
    [
        (MaxPeriod(months=1), "1 month"),
        (MaxPeriod(months=2), "2 months"),
        (MaxPeriod(calendar_year=True), "the calendar year"),
        (MaxPeriod(), "unlimited"),
    ],
)
def test_a_maximum_describes_itself_in_words(max_period: MaxPeriod, text: str) -> None:
    assert max_period.describe() == text


# --- loading and merging --------------------------------------------------------------------------------


def test_the_default_catalogue_holds_only_sector_17(default: Catalogue) -> None:
    assert set(default.sectors) == {OCMW_SECTOR}
    assert default.code(7, 1) is None
    assert default.code(18, 1) is None


@pytest.mark.parametrize("sector", [7, 18])
def test_the_demo_catalogue_adds_sectors_7_and_18_with_code_1_for_a_year(sector: int) -> None:
    catalogue = load_catalogue([DEFAULT_CATALOGUE_FILE, DEMO_CATALOGUE_FILE])
    assert set(catalogue.sectors) == {7, OCMW_SECTOR, 18}
    quality = catalogue.code(sector, 1)
    assert quality is not None
    assert quality.manual is True
    assert quality.max_period == MaxPeriod(months=12)
    assert quality.max_period.max_end(d("2015-01-01")) == d("2015-12-31")
    assert [q.code for q in catalogue.codes_of(sector)] == [1]


def test_merging_the_demo_catalogue_keeps_every_code_of_sector_17(default: Catalogue) -> None:
    catalogue = load_catalogue([DEFAULT_CATALOGUE_FILE, DEMO_CATALOGUE_FILE])
    assert catalogue.codes_of(OCMW_SECTOR) == default.codes_of(OCMW_SECTOR)


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


ONE_SECTOR = {
    "sectors": [
        {
            "sector": 99,
            "name": "Test sector",
            "codes": [
                {"code": 5, "label": "five", "max": {"months": 3}},
                {"code": 6, "label": "six", "max": {"unlimited": True}, "manual": False},
            ],
        }
    ]
}


def test_a_catalogue_file_can_be_loaded_from_a_path(tmp_path: Path) -> None:
    path = write(tmp_path / "codes.json", ONE_SECTOR)
    catalogue = load_catalogue([path])
    assert catalogue.sectors == {99: "Test sector"}
    five = catalogue.code(99, 5)
    assert five is not None
    assert five.label == "five"
    assert five.manual is True
    assert five.max_period.max_end(d("2015-01-31")) == d("2015-04-29")
    six = catalogue.code(99, 6)
    assert six is not None
    assert six.manual is False
    assert six.max_period.unlimited


def test_a_catalogue_file_can_be_named_by_a_path_string(tmp_path: Path) -> None:
    path = write(tmp_path / "codes.json", ONE_SECTOR)
    assert load_catalogue([str(path)]).code(99, 5) is not None


def test_a_later_file_wins_over_an_earlier_one_on_the_same_code(tmp_path: Path) -> None:
    override = {"sectors": [{"sector": 17, "name": "OCMW", "codes": [{"code": 1, "max": {"months": 3}}]}]}
    catalogue = load_catalogue([DEFAULT_CATALOGUE_FILE, write(tmp_path / "o.json", override)])
    quality = catalogue.code(OCMW_SECTOR, 1)
    assert quality is not None
    assert quality.max_period == MaxPeriod(months=3)
    assert catalogue.code(OCMW_SECTOR, 2) is not None


def test_a_catalogue_survives_a_round_trip_through_its_dictionary() -> None:
    catalogue = load_catalogue([DEFAULT_CATALOGUE_FILE, DEMO_CATALOGUE_FILE])
    assert Catalogue.from_dict(catalogue.to_dict()) == catalogue


def test_no_files_give_an_empty_catalogue() -> None:
    catalogue = load_catalogue([])
    assert catalogue.sectors == {}
    assert catalogue.code(OCMW_SECTOR, 1) is None


MALFORMED = [
    pytest.param({}, id="no-sectors"),
    pytest.param([], id="list-at-top"),
    pytest.param({"sectors": None}, id="sectors-null"),
    pytest.param({"sectors": [{"name": "x", "codes": []}]}, id="sector-without-number"),
    pytest.param({"sectors": [{"sector": "seventeen", "codes": []}]}, id="sector-not-a-number"),
    pytest.param({"sectors": [{"sector": 17}]}, id="sector-without-codes"),
    pytest.param({"sectors": [{"sector": 17, "codes": [{"max": {"months": 1}}]}]}, id="code-without-number"),
    pytest.param({"sectors": [{"sector": 17, "codes": [{"code": 1}]}]}, id="code-without-max"),
    pytest.param({"sectors": [{"sector": 17, "codes": [{"code": 1, "max": {}}]}]}, id="max-empty"),
    pytest.param({"sectors": [{"sector": 17, "codes": [{"code": 1, "max": 12}]}]}, id="max-not-an-object"),
    pytest.param({"sectors": [{"sector": 17, "codes": [{"code": 1, "max": {"months": 0}}]}]}, id="zero-months"),
    pytest.param({"sectors": [{"sector": 17, "codes": [{"code": 1, "max": {"months": -2}}]}]}, id="negative-months"),
    pytest.param(
        {"sectors": [{"sector": 17, "codes": [{"code": 1, "max": {"months": "two"}}]}]}, id="months-not-a-number"
    ),
    pytest.param({"sectors": ["17"]}, id="sector-not-an-object"),
]


@pytest.mark.parametrize("data", MALFORMED)
def test_a_malformed_catalogue_file_raises_catalogue_error(tmp_path: Path, data: Any) -> None:
    path = write(tmp_path / "bad.json", data)
    with pytest.raises(CatalogueError, match="malformed"):
        load_catalogue([path])


def test_a_catalogue_file_that_is_not_json_raises_catalogue_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{sectors: [", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"bad\.json"):
        load_catalogue([path])
