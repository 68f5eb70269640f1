"""The operator's CSV import and export (``ksz-gateway import`` / ``export`` / ``audit`` / ``db upgrade``), through the
commands and through the use case of ``gateway.app.transfer``."""

from __future__ import annotations

import argparse
import json
import re
from datetime import date
from pathlib import Path

import pytest
from terminal import terminal

from gateway.adapters.storage import open_store
from gateway.adapters.storage.migrations import latest_version
from gateway.app import transfer
from gateway.app.demo import DEMO_INSTITUTIONS, ensure_demo
from gateway.app.directory_service import DirectoryService
from gateway.app.ports import Store
from gateway.app.transfer import parse_line
from gateway.domain.periods import Period
from gateway.entrypoints.commands import audit, db

P1, P2 = "85073003328", "90010100123"
A, B, FAMILY, _ = (r.id for r in DEMO_INSTITUTIONS)


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="ksz-gateway")
    commands = parser.add_subparsers(dest="command", required=True)
    db.register(commands)
    audit.register(commands)
    args = parser.parse_args(argv)
    return int(args.handler(args))


@pytest.fixture
def demo(store: Store) -> Store:
    ensure_demo(store)
    return store


def rows(store: Store) -> list[tuple[str, str, int, Period]]:
    return [(r.institution_id, r.ssin, r.code, r.period) for r in store.export_integrations()]


def p(start: str, end: str | None = None) -> Period:
    return Period(date.fromisoformat(start), date.fromisoformat(end) if end else None)


def test_db_upgrade_creates_the_directory_and_says_its_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "fresh.db"
    assert run("db", "upgrade", "--db", str(path)) == 0
    assert run("db", "upgrade", "--db", str(path)) == 0
    assert capsys.readouterr().out.splitlines() == [f"directory schema at version {latest_version()}"] * 2


def test_good_lines_are_imported_and_bad_ones_reported_with_line_number_and_reason(
    demo: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_file = tmp_path / "in.csv"
    csv_file.write_text(
        "\n".join(
            [
                "institution,ssin,code,start,end",
                f"{A},{P1},01,2015-01-01,2015-01-31",
                f"0999999999,{P1},01,2015-01-01,2015-01-31",
                f"{A},85073003329,01,2015-01-01,2015-01-31",
                f"{A},{P1},99,2015-01-01,2015-01-31",
                f"{FAMILY},{P1},02,2015-01-01,2015-01-31",
                f"{A},{P1},01,2015-13-01,2015-01-31",
                f"{A},{P1},01,2015-02-01,2015-01-31",
                f"{A},{P1},01,2015-01-01",
                "",
                f"{A},{P2},11,2015-01-01,",
                f"{B},{P2},04,2015-03-01,2015-03-31",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    assert run("import", str(csv_file), "--db", demo.url) == 1
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if line.startswith("line ")] == [
        "line 3: unknown institution '0999999999'",
        "line 4: SSIN 85073003329 has wrong check digits 29",
        "line 5: quality code 99 is not in the catalogue of sector 17",
        "line 6: quality code 02 is not in the catalogue of sector 7",
        "line 7: start date '2015-13-01' is not an ISO date (YYYY-MM-DD)",
        "line 8: end date 2015-01-31 lies before start date 2015-02-01",
    ]
    assert "imported 4 rows, rejected 6 lines" in err
    assert rows(demo) == [
        (A, P1, 1, p("2015-01-01")),  # the open line merged with the closed one
        (A, P2, 11, p("2015-01-01")),
        (B, P2, 4, p("2015-03-01", "2015-03-31")),
    ]


def test_rejects_can_go_to_a_file_and_a_clean_file_exits_zero(demo: Store, tmp_path: Path) -> None:
    good, bad, rejects = tmp_path / "good.csv", tmp_path / "bad.csv", tmp_path / "rejects.txt"
    good.write_text(f"{A},{P1},1,2015-01-01,2015-01-31\n", encoding="utf-8")
    bad.write_text(f"{A},{P1},1\n", encoding="utf-8")
    assert run("import", str(good), "--db", demo.url) == 0
    assert run("import", str(bad), "--db", demo.url, "--rejects", str(rejects)) == 1
    assert (
        rejects.read_text(encoding="utf-8") == "line 1: expected 5 columns (institution,ssin,code,start,end), found 3\n"
    )


def test_overlapping_and_adjacent_rows_merge_with_each_other_and_with_the_directory(
    demo: Store, tmp_path: Path
) -> None:
    service = DirectoryService(demo, demo.catalogue())
    institution = next(r for r in demo.institutions() if r.id == A)
    from gateway.domain.directory import DirectoryRequest

    service.integrate(institution, DirectoryRequest(1, date(2015, 1, 1), date(2015, 1, 10), (P1,)))
    csv_file = tmp_path / "merge.csv"
    csv_file.write_text(
        f"{A},{P1},01,2015-01-11,2015-01-20\n"  # adjacent to the directory's period
        f"{A},{P1},01,2015-01-15,2015-02-05\n"  # overlaps the row above
        f"{A},{P1},01,2015-03-01,2015-03-31\n"  # apart
        f"{A},{P1},01,2015-03-10,2015-03-20\n",  # inside the one above
        encoding="utf-8",
    )
    assert run("import", str(csv_file), "--db", demo.url) == 0
    assert rows(demo) == [(A, P1, 1, p("2015-01-01", "2015-02-05")), (A, P1, 1, p("2015-03-01", "2015-03-31"))]


def test_an_export_imported_into_an_empty_directory_gives_the_same_directory(
    demo: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo.import_integrations(
        parse_line(line.split(","), {r.id: r for r in demo.institutions()}, demo.catalogue())  # type: ignore[misc]
        for line in (
            f"{A},{P1},01,2015-01-01,2015-01-31",
            f"{A},{P1},02,2015-06-01,",
            f"{B},{P2},11,2014-01-01,",
            f"{FAMILY},{P1},01,2015-01-01,2015-12-31",
        )
    )
    out = tmp_path / "out.csv"
    assert run("export", "--db", demo.url, "--out", str(out)) == 0
    text = out.read_text(encoding="utf-8")
    assert text.splitlines()[0] == "institution,ssin,code,start,end"
    assert f"{A},{P1},02,2015-06-01,\n" in text

    copy = tmp_path / "copy.db"
    assert run("db", "upgrade", "--db", str(copy)) == 0
    other = open_store(str(copy))
    ensure_demo(other)
    assert run("import", str(out), "--db", str(copy)) == 0
    assert rows(other) == rows(demo)
    other.close()
    capsys.readouterr()
    assert run("export", "--db", str(copy)) == 0
    assert capsys.readouterr().out == text


def test_the_audit_command_prints_one_json_line_a_record_filtered_by_institution(
    demo: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    service = DirectoryService(demo, demo.catalogue())
    a, b = (next(r for r in demo.institutions() if r.id == i) for i in (A, B))
    first = service.consult(a, P1, p("2015-01-01"), reference="r-1")
    second = service.consult(b, P1, p("2015-01-01"))
    capsys.readouterr()
    assert run("audit", "--db", demo.url) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(x["ticket"], x["institution"], x["operation"], x["reference"]) for x in lines] == [
        (first.ticket, A, "Consult", "r-1"),
        (second.ticket, B, "Consult", None),
    ]
    assert lines[0]["request"]["ssin"] == P1
    assert run("audit", "--db", demo.url, "--institution", B) == 0
    assert [json.loads(x)["ticket"] for x in capsys.readouterr().out.splitlines()] == [second.ticket]


def test_a_missing_file_is_an_error_that_names_it(
    demo: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("import", str(tmp_path / "nope.csv"), "--db", demo.url) == 2
    assert "nope.csv" in capsys.readouterr().err


def test_the_import_use_case_reports_each_rejected_line_and_its_progress_as_it_goes(
    demo: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfer, "PROGRESS_LINES", 2)
    lines = [
        "\ufeffinstitution,ssin,code,start,end\n".encode(),
        f"{A},{P1},01,2015-01-01,2015-01-31\n".encode(),
        f"{A},{P1},01,2015-02-01,\n".encode(),
        f"{A},{P2},01,2015-02-01,2015-01-01\n".encode(),
        f"{B},{P2},04,2015-03-01,2015-03-31\n".encode(),
    ]
    rejected: list[str] = []
    progress: list[transfer.ImportReport] = []
    ticks = iter(range(100))
    report = transfer.import_csv(
        demo, lines, lambda line: rejected.append(str(line)), progress.append, clock=lambda: float(next(ticks))
    )
    assert rejected == ["line 4: end date 2015-01-01 lies before start date 2015-02-01"]
    assert [(p.rows, p.rejected, p.seconds) for p in progress] == [(2, 0, 1.0), (2, 1, 2.0), (3, 1, 3.0)]
    assert progress[-1].bytes_read == report.bytes_read == sum(len(line) for line in lines)
    assert (report.rows, report.rejected, report.seconds, report.rows_per_second) == (3, 1, 4.0, 0.75)
    assert rows(demo) == [(A, P1, 1, p("2015-01-01")), (B, P2, 4, p("2015-03-01", "2015-03-31"))]


def test_on_a_terminal_the_import_draws_a_bar_of_rows_and_rejects_and_writes_each_reject_above_it(
    demo: Store, tmp_path: Path
) -> None:
    csv_file = tmp_path / "in.csv"
    csv_file.write_text(f"{A},{P1},01,2015-01-01,2015-01-31\n{A},{P1},77,2015-01-01,\n", encoding="utf-8")
    with terminal() as drawn:
        assert run("import", str(csv_file), "--db", demo.url) == 1
        shown = drawn()
    bar, _, rest = shown.partition("\rline 2: quality code 77 is not in the catalogue of sector 17\r\n")
    assert bar.startswith("\rimporting:   0%|"), shown
    final = r"\rimporting: 100%\|.*\| \S+/\S+ \[.*, 1 rows \(.* rows/s\), 1 rejected\]\r\n"
    assert re.match(r"\rimporting:   0%.*" + final, rest), rest
    assert re.search(r"\r\nimported 1 rows, rejected 1 lines \(\d+\.\d s, [\d,]+ rows/s\)\r\n$", rest), rest


def test_elsewhere_the_import_draws_no_bar(demo: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_file = tmp_path / "in.csv"
    csv_file.write_text(f"{A},{P1},01,2015-01-01,2015-01-31\n{A},{P1},77,2015-01-01,\n", encoding="utf-8")
    assert run("import", str(csv_file), "--db", demo.url) == 1
    assert capsys.readouterr().err.splitlines()[:1] == ["line 2: quality code 77 is not in the catalogue of sector 17"]
