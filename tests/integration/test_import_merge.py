"""The bulk import's set-based merge and its fast line check agree with the domain: every engine leaves what
R2.5's ``normalize`` makes of the old and new periods, and the fast check takes exactly the lines
``parse_line`` takes, to the same rows."""

from __future__ import annotations

import random
from datetime import date, timedelta

from gateway.app import transfer
from gateway.app.demo import DEMO_INSTITUTIONS, ensure_demo
from gateway.app.ports import ImportRow, Store
from gateway.app.transfer import _KnownGood, parse_line
from gateway.domain.periods import Period, normalize

PERSONS = ("85073003328", "90010100123")
A = DEMO_INSTITUTIONS[0]


def random_period(rng: random.Random) -> Period:
    start = date(2020, 1, 1) + timedelta(days=rng.randrange(60))
    roll = rng.random()
    if roll < 0.1:
        return Period(start)
    if roll < 0.15:
        return Period(start, date.max)  # the last day: the same days as an open end
    return Period(start, start + timedelta(days=rng.randrange(0, 6)))  # short: many adjacent and overlapping


def test_imports_leave_what_normalize_makes_of_old_and_new_periods_on_every_engine(store: Store) -> None:
    ensure_demo(store)
    rng = random.Random(7)
    expected: dict[tuple[str, str, int], list[Period]] = {}
    for _ in range(4):  # each import meets the periods the earlier ones left
        batch = [ImportRow(A.id, rng.choice(PERSONS), rng.choice((1, 2)), random_period(rng)) for _ in range(300)]
        assert store.import_integrations(batch) == len(batch)
        for row in batch:
            expected.setdefault((row.institution_id, row.ssin, row.code), []).append(row.period)
    found: dict[tuple[str, str, int], list[Period]] = {}
    for row in store.export_integrations():
        found.setdefault((row.institution_id, row.ssin, row.code), []).append(row.period)
    assert found == {key: list(normalize(periods)) for key, periods in expected.items()}


def test_the_fast_check_takes_exactly_what_parse_line_takes(store: Store) -> None:
    ensure_demo(store)
    institutions = {r.id: r for r in store.institutions()}
    catalogue = store.catalogue()
    fast = _KnownGood(institutions, catalogue)
    lines = [
        [A.id, PERSONS[0], "01", "2024-01-01", "2024-02-01"],
        [A.id, PERSONS[0], "1", "2024-01-01", ""],
        [f" {A.id}", PERSONS[0], "01", "2024-01-01", ""],
        [A.id, f"{PERSONS[0]} ", " 01", "2024-01-01 ", ""],
        [A.id, PERSONS[0], "01", "2024-01-01"],
        [A.id, PERSONS[0], "+1", "2024-01-01", ""],
        [A.id, PERSONS[0], "99", "2024-01-01", ""],
        [A.id, "85073003329", "01", "2024-01-01", ""],
        [A.id, PERSONS[0], "01", "2024-02-30", ""],
        [A.id, PERSONS[0], "01", "2024-03-01", "2024-02-01"],
        [A.id, PERSONS[0], "01", "20240101", ""],
        ["0000000000", PERSONS[0], "01", "2024-01-01", ""],
        [A.id, PERSONS[0], "01", "2024-01-01", "", ""],
    ]
    for fields in lines * 2:  # the second time from what the first remembered
        slow = parse_line(fields, institutions, catalogue)
        quick = fast(fields)
        assert quick is None or quick == slow, fields
    assert fast(lines[0]) is not None and fast(lines[1]) is not None  # the plain lines go the fast way


def test_adjacent_lines_of_one_import_merge_into_one_period(store: Store) -> None:
    ensure_demo(store)
    day = date(2000, 1, 1)
    lines = [b"institution,ssin,code,start,end\n"]
    lines += [
        f"{A.id},{PERSONS[0]},01,{day + timedelta(days=n)},{day + timedelta(days=n)}\n".encode() for n in range(3)
    ]
    rejects: list[transfer.Rejected] = []
    report = transfer.import_csv(store, lines, rejects.append)
    assert (report.rows, rejects) == (3, [])
    assert [r.period for r in store.export_integrations()] == [Period(day, day + timedelta(days=2))]
