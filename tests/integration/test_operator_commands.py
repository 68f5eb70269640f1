"""``ksz-gateway consult`` and ``ksz-gateway check`` on each store: what Consult and CheckAccess would answer, read
from the database directly, as a table or one JSON document, with nothing written (no audit record)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from gateway.app.demo import ensure_demo
from gateway.app.directory_service import DirectoryService
from gateway.app.ports import InstitutionRecord, Store
from gateway.domain.directory import DirectoryRequest
from gateway.entrypoints.cli import main

PERSON = "85073003328"
OTHER = "85073003526"
OCMW_A, OCMW_B, FAMILY = "0212345668", "0212345767", "0212345866"
TODAY = date(2015, 1, 10)


@pytest.fixture
def directory(store: Store) -> Store:
    """The demo institutions; PERSON integrated by OCMW A in 01 (Jan 1-20) and by OCMW B from Jan 5 (code's
    maximum), OTHER by nobody."""
    ensure_demo(store)
    known = {r.id: r for r in store.institutions()}
    service = DirectoryService(store, store.catalogue(), today=lambda: TODAY)

    def integrate(who: InstitutionRecord, start: date, end: date | None) -> None:
        result = service.integrate(who, DirectoryRequest(1, start, end, (PERSON,)))
        assert result.summary.ok.value == "YES"

    integrate(known[OCMW_A], date(2015, 1, 1), date(2015, 1, 20))
    integrate(known[OCMW_B], date(2015, 1, 5), None)
    return store


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def audited(store: Store) -> int:
    return len(list(store.audit_log()))


def test_consult_lists_every_institutions_integrations_as_a_table(
    directory: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    before = audited(directory)
    code, out, err = run(capsys, "consult", PERSON, "--db", directory.url)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "INSTITUTION  NAME               SECTOR  CODE  START       END",
        "0212345668   OCMW Demostad      17      01    2015-01-01  2015-01-20",
        "0212345767   OCMW Voorbeeldgem  17      01    2015-01-05  2015-03-04",
        f"2 integration(s) of {PERSON} over all days.",
    ]
    assert audited(directory) == before  # the operator's reading is no exchange


def test_consult_filters_by_window_code_and_sector_and_speaks_json(
    directory: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "consult", PERSON, "--from", "2015-01-21", "--to", "2015-02-01", "--json", "--db", directory.url
    )
    assert code == 0
    assert json.loads(out) == {
        "ssin": PERSON,
        "window": ["2015-01-21", "2015-02-01"],
        "code": None,
        "sector": None,
        "integrations": [
            {
                "institution": {"id": OCMW_B, "name": "OCMW Voorbeeldgem", "sector": 17},
                "code": 1,
                "period": ["2015-01-05", "2015-03-04"],
            }
        ],
    }
    _, out, _ = run(capsys, "consult", PERSON, "--code", "2", "--json", "--db", directory.url)
    assert json.loads(out)["integrations"] == []
    _, out, _ = run(capsys, "consult", PERSON, "--sector", "17", "--to", "2015-01-03", "--db", directory.url)
    assert out.splitlines()[-1] == f"1 integration(s) of {PERSON} over 0001-01-01/2015-01-03."
    _, out, _ = run(capsys, "consult", OTHER, "--db", directory.url)
    assert out == f"0 integration(s) of {OTHER} over all days.\n"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["consult", "85073003329"], "'85073003329' is not a valid SSIN: SSIN 85073003329 has wrong check digits 29"),
        (["consult", PERSON, "--from", "2015-02-01", "--to", "2015-01-01"], "--to 2015-01-01 lies before --from"),
        (["check", "consult.nothing", f"{PERSON}:SUBJECT", "--institution", OCMW_A], "no flow 'consult.nothing'"),
        (["check", "consult.generic", "8507300332:SUBJECT", "--institution", OCMW_A], "'8507300332' is not a valid"),
        (["check", "consult.generic", f"{PERSON}:SUBJECT", "--institution", "0312345938"], "no institution 0312345938"),
    ],
)
def test_a_bad_argument_is_one_line_and_exit_code_2(
    argv: list[str], says: str, directory: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, *argv, "--db", directory.url)
    assert (code, out) == (2, "")
    assert err.startswith(f"ksz-gateway: error: {says}") and len(err.splitlines()) == 1, err


def test_check_allows_a_flow_as_checkaccess_would_and_writes_nothing(
    directory: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    before = audited(directory)
    code, out, err = run(
        capsys, "check", "consult.generic", f"{PERSON}:subject", "--institution", OCMW_A, "--today", "2015-01-10",
        "--db", directory.url,
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"Flow consult.generic for institution {OCMW_A} (OCMW Demostad, sector 17) on 2015-01-10: ALLOWED",
        "SSIN         ROLE     RULE  ALLOWED  MISSING DAYS  REASONS",
        f"{PERSON}  SUBJECT  R5.1  yes      -             -",
    ]
    assert audited(directory) == before


def test_check_shows_each_persons_rule_and_missing_days_and_exits_1_when_refused(
    directory: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "check", "consult.pension-cadastre", f"{PERSON}:SUBJECT", "--institution", OCMW_A,
        "--consultation-period", "2015-01-15/2015-01-31", "--today", "2015-01-10", "--json", "--db", directory.url,
    )  # fmt: skip
    assert code == 0
    assert json.loads(out)["persons"][0]["satisfied_by"] == [["2015-01-01", "2015-01-20"]]

    code, out, _ = run(
        capsys, "check", "consult.generic", f"{PERSON}:SUBJECT", f"{OTHER}:SUBJECT", "--institution", OCMW_A,
        "--today", "2015-01-25", "--json", "--db", directory.url,
    )  # fmt: skip
    assert code == 1
    decision = json.loads(out)
    assert (decision["flow"], decision["institution"], decision["today"], decision["allowed"]) == (
        "consult.generic",
        OCMW_A,
        "2015-01-25",
        False,
    )
    assert [(p["ssin"], p["role"], p["rule"], p["allowed"], p["missing_days"]) for p in decision["persons"]] == [
        (PERSON, "SUBJECT", "R5.1", False, [["2015-01-25", "2015-01-25"]]),
        (OTHER, "SUBJECT", "R5.1", False, [["2015-01-25", "2015-01-25"]]),
    ]
    assert decision["persons"][0]["details"][0]["reason"] == "NOT_INTEGRATED_ON_DAY"

    code, out, _ = run(
        capsys, "check", "consult.generic", f"{PERSON}:SUBJECT", "--institution", FAMILY, "--today", "2015-01-10",
        "--db", directory.url,
    )  # fmt: skip
    assert code == 1
    assert out.splitlines()[0].endswith(": REFUSED")


def test_check_says_which_date_a_flow_lacks(directory: Store, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "check", "consult.pension-cadastre", f"{PERSON}:SUBJECT", "--institution", OCMW_A, "--db", directory.url
    )
    assert code == 1
    assert out.splitlines()[-1] == (
        "MISSING_FLOW_DATE: Flow consult.pension-cadastre needs ConsultationPeriod, which the request lacks."
    )


def test_a_role_outside_the_contract_stops_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["check", "consult.generic", f"{PERSON}:BOSS", "--institution", OCMW_A])
    assert stopped.value.code == 2
    assert "is not SSIN:ROLE with a role among SUBJECT, MAIN, PARTNER, ADDITIONAL" in capsys.readouterr().err


def test_both_read_the_database_from_the_configuration_file(
    directory: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(f'db = "{directory.url}"\ntoday = 2015-01-10\nport = 9999\n')
    code, out, _ = run(capsys, "consult", PERSON, "--json", "--config", str(config))
    assert code == 0 and len(json.loads(out)["integrations"]) == 2
    code, out, _ = run(
        capsys,
        "check",
        "consult.generic",
        f"{PERSON}:SUBJECT",
        "--institution",
        OCMW_A,
        "--json",
        "--config",
        str(config),
    )
    decision = json.loads(out)
    assert (code, decision["today"], decision["allowed"], decision["enabled"]) == (0, "2015-01-10", True, True)
