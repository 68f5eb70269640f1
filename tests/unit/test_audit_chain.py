"""The audit chain's arithmetic: hashes, checkpoints and ``verify``, which names the first record edited, deleted,
moved or cleared, and the first checkpoint forged, left off the chain or cut away."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta, timezone
from enum import IntEnum, StrEnum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.app.audit_chain import (
    GENESIS,
    ChainedRecord,
    Checkpoint,
    Signer,
    Wrong,
    canonical,
    content_digest,
    link_hash,
    record_hash,
    stamp,
    verify,
)
from gateway.app.audit_trail import mentions
from gateway.app.ports import AuditRecord

KEY = bytes(range(32))
T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def record(i: int, **changes: object) -> AuditRecord:
    made = AuditRecord(
        ticket=f"KSZGW-{i:030d}",
        institution_id="0212345668",
        operation="Integrate",
        at=T0 + timedelta(seconds=i),
        reference=f"ref-{i}",
        request={"ssins": ["85073003328"], "code": 1, "n": i},
        outcome={"ticket": f"KSZGW-{i:030d}", "ok": "YES"},
    )
    return dataclasses.replace(made, **changes)  # type: ignore[arg-type]


def chain(records: list[AuditRecord]) -> list[ChainedRecord]:
    chained, prev = [], GENESIS
    for seq, r in enumerate(records, start=1):
        h = record_hash(seq, prev, r)
        chained.append(ChainedRecord(seq, r, prev, h))
        prev = h
    return chained


def checkpoint(c: ChainedRecord, key: bytes = KEY) -> Checkpoint:
    assert c.hash is not None
    return Signer(key).checkpoint(c.seq, c.hash, T0)


# -- the hashes ------------------------------------------------------------------------------------------


def test_a_link_hashes_the_number_the_previous_hash_and_the_content_digest_as_one_short_text() -> None:
    digest = content_digest(record(1))
    expected = hashlib.sha256(f"1:{GENESIS}:{digest}".encode()).hexdigest()
    assert link_hash(1, GENESIS, digest) == expected == record_hash(1, GENESIS, record(1))


def test_the_canonical_form_is_the_same_for_a_record_and_its_read_back() -> None:
    written = record(
        1, request={"b": (1, 2), "a": "é"}, at=datetime(2026, 3, 1, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    )
    read_back = record(1, request={"a": "é", "b": [1, 2]}, at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC))
    assert canonical(written) == canonical(read_back)
    assert canonical(written).isascii()
    naive = dataclasses.replace(read_back, at=datetime(2026, 3, 1, 9, 30))
    assert canonical(naive) == canonical(read_back)  # a naive time is UTC


@pytest.mark.parametrize(
    "change",
    [
        {"ticket": "KSZGW-other"},
        {"institution_id": "0212345767"},
        {"operation": "Desintegrate"},
        {"at": T0 + timedelta(microseconds=1)},
        {"reference": None},
        {"request": {"ssins": ["85073003328"], "code": 2, "n": 1}},
        {"outcome": {"ticket": "KSZGW-000000000000000000000000000001", "ok": "NO"}},
    ],
)
def test_every_stored_field_is_in_the_digest(change: dict[str, object]) -> None:
    assert content_digest(record(1, **change)) != content_digest(record(1))


# -- the canonical form is the one every chain was hashed with, byte for byte ------------------------------


def frozen_canonical(record: AuditRecord) -> bytes:
    """The canonical form as first released, kept here unchanged: every hash in every existing chain is of it."""

    def plain(value: Any) -> Any:
        return json.loads(json.dumps(value, separators=(",", ":"), ensure_ascii=False))

    fields = {
        "at": stamp(record.at),
        "institution_id": record.institution_id,
        "operation": record.operation,
        "outcome": plain(record.outcome),
        "reference": record.reference,
        "request": plain(record.request),
        "ticket": record.ticket,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


class Level(IntEnum):
    LOW = 1


class Word(StrEnum):
    YES = "YES"


# Any text: every plane (non-BMP too), controls, quotes, backslashes, DEL and lone surrogates.
any_text = st.text(st.characters(blacklist_categories=()), max_size=12)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | any_text
    | st.sampled_from([Level.LOW, Word.YES, -0.0, 2**70])
)
# Keys as the use cases write them (text), and the others a JSON encoder takes and turns into text.
any_key = any_text | st.integers() | st.floats(allow_nan=True) | st.booleans() | st.none()
json_like = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(any_text, inner, max_size=4)
        | st.dictionaries(any_key, inner, max_size=4)
    ),
    max_leaves=25,
)
mappings = st.dictionaries(any_text, json_like, max_size=5) | st.dictionaries(any_key, json_like, max_size=3)
moments = st.datetimes(timezones=st.none() | st.timezones()) | st.datetimes().map(lambda d: d.replace(tzinfo=UTC))


@given(
    ticket=any_text,
    institution_id=any_text,
    operation=any_text,
    at=moments,
    reference=st.none() | any_text,
    request=mappings,
    outcome=mappings,
)
def test_the_canonical_form_and_digest_are_byte_for_byte_those_of_the_first_release(
    ticket: str,
    institution_id: str,
    operation: str,
    at: datetime,
    reference: str | None,
    request: dict[Any, Any],
    outcome: dict[Any, Any],
) -> None:
    made = AuditRecord(ticket, institution_id, operation, at, reference, request, outcome)
    assert canonical(made) == frozen_canonical(made)
    assert content_digest(made) == hashlib.sha256(frozen_canonical(made)).hexdigest()


@pytest.mark.parametrize(
    "value",
    [
        {1: "one", "1": "text one"},  # two keys that read back as one
        {"b": 1, 10: 2, 9: 3},  # numbers sort otherwise than their text
        {"x": {True: 1, None: 2, 1.5: 3}},
        {"deep": functools.reduce(lambda inner, _: [inner], range(200), {"end": "é"})},  # deeper than the shortcut
        {"e": Word.YES, "n": Level.LOW, "t": (1, ("2", 3.5e-300)), "u": '\U0001f600\ud800\x7f\\"\n'},
    ],
)
def test_values_that_read_back_otherwise_than_they_encode_keep_their_first_canonical_form(
    value: dict[Any, Any],
) -> None:
    made = record(1, request=value, outcome=value)
    assert canonical(made) == frozen_canonical(made)


def test_a_circular_value_is_refused_as_before() -> None:
    circular: dict[str, Any] = {"a": []}
    circular["a"].append(circular)
    with pytest.raises(ValueError, match="Circular reference"):
        frozen_canonical(record(1, request=circular))
    with pytest.raises(ValueError, match="Circular reference"):
        canonical(record(1, request=circular))


def test_the_same_record_at_another_place_has_another_hash() -> None:
    assert record_hash(1, GENESIS, record(1)) != record_hash(2, GENESIS, record(1))


# -- verify: the chain -----------------------------------------------------------------------------------


def test_an_intact_chain_verifies_and_reports_its_head() -> None:
    records = chain([record(i) for i in range(1, 6)])
    verdict = verify(records, [], None)
    assert verdict.ok and verdict.records == 5 and verdict.head == records[-1].hash
    assert not verdict.checked_checkpoints


def test_an_empty_trail_verifies() -> None:
    verdict = verify([], [], KEY)
    assert verdict.ok and verdict.records == 0 and verdict.head == GENESIS


def test_an_edited_record_is_named_with_its_ticket() -> None:
    records = chain([record(i) for i in range(1, 6)])
    records[2] = dataclasses.replace(records[2], record=record(3, request={"edited": True}))
    problem = verify(records, [], None).problem
    assert problem is not None
    assert (problem.seq, problem.ticket, problem.wrong) == (3, record(3).ticket, Wrong.EDITED)
    assert "record 3" in str(problem) and record(3).ticket in str(problem) and "edited" in str(problem)


def test_an_edited_record_whose_hash_was_recomputed_breaks_the_next_link() -> None:
    records = chain([record(i) for i in range(1, 6)])
    forged = record(3, request={"edited": True})
    records[2] = ChainedRecord(3, forged, records[2].prev, record_hash(3, records[2].prev or "", forged))
    problem = verify(records, [], None).problem
    assert problem is not None and (problem.seq, problem.wrong) == (4, Wrong.OUT_OF_PLACE)


def test_a_deleted_record_is_named_by_its_number() -> None:
    records = chain([record(i) for i in range(1, 6)])
    del records[1]
    problem = verify(records, [], None).problem
    assert problem is not None and (problem.seq, problem.wrong) == (2, Wrong.MISSING)
    assert "record 2 is missing" in str(problem) and record(3).ticket in str(problem)


def test_two_records_swapped_are_named_at_the_first_place() -> None:
    records = chain([record(i) for i in range(1, 6)])
    a, b = records[1], records[3]
    records[1] = dataclasses.replace(b, seq=2)
    records[3] = dataclasses.replace(a, seq=4)
    problem = verify(records, [], None).problem
    assert problem is not None and (problem.seq, problem.ticket, problem.wrong) == (2, b.ticket, Wrong.OUT_OF_PLACE)


def test_a_record_whose_hash_was_cleared_is_broken_not_unchained() -> None:
    records = chain([record(i) for i in range(1, 4)])
    records[1] = dataclasses.replace(records[1], hash=None, prev=None)
    problem = verify(records, [], None).problem
    assert problem is not None and (problem.seq, problem.wrong) == (2, Wrong.UNHASHED)


def test_a_record_that_no_longer_reads_back_is_edited() -> None:
    records = chain([record(i) for i in range(1, 4)])
    records[1] = ChainedRecord(2, None, records[1].prev, records[1].hash, ticket="KSZGW-x")
    problem = verify(records, [], None).problem
    assert problem is not None and (problem.seq, problem.ticket, problem.wrong) == (2, "KSZGW-x", Wrong.EDITED)


# -- verify: the checkpoints -----------------------------------------------------------------------------


def test_signed_checkpoints_on_the_chain_are_counted() -> None:
    records = chain([record(i) for i in range(1, 7)])
    verdict = verify(records, [checkpoint(records[2]), checkpoint(records[5])], KEY)
    assert verdict.ok and verdict.checkpoints == 2 and verdict.checked_checkpoints


def test_a_chain_rewritten_whole_without_the_key_leaves_the_checkpoint_behind() -> None:
    original = chain([record(i) for i in range(1, 7)])
    marks = [checkpoint(original[3])]
    rewritten = chain([record(1), record(2, request={"edited": True}), *(record(i) for i in range(3, 7))])
    assert verify(rewritten, [], None).ok  # the chain alone cannot tell
    problem = verify(rewritten, marks, KEY).problem
    assert problem is not None and (problem.seq, problem.wrong) == (4, Wrong.CHECKPOINT_OFF_CHAIN)


def test_records_cut_from_the_end_behind_a_checkpoint_are_missing() -> None:
    records = chain([record(i) for i in range(1, 7)])
    marks = [checkpoint(records[5])]
    problem = verify(records[:4], marks, KEY).problem
    assert problem is not None and (problem.seq, problem.wrong) == (6, Wrong.TRUNCATED)
    assert "chain ends at record 4" in str(problem)


@pytest.mark.parametrize("forge", ["mac", "key", "seq", "time"])
def test_a_forged_checkpoint_is_named(forge: str) -> None:
    records = chain([record(i) for i in range(1, 5)])
    good = checkpoint(records[1])
    bad = {
        "mac": dataclasses.replace(good, mac="0" * 64),
        "key": checkpoint(records[1], key=b"k" * 32),
        "seq": dataclasses.replace(good, seq=3, hash=records[2].hash or ""),
        "time": dataclasses.replace(good, at=T0 + timedelta(seconds=1)),
    }[forge]
    problem = verify(records, [bad], KEY).problem
    assert problem is not None and problem.wrong == Wrong.CHECKPOINT_FORGED


def test_without_the_key_checkpoints_are_not_checked() -> None:
    records = chain([record(i) for i in range(1, 4)])
    verdict = verify(records, [dataclasses.replace(checkpoint(records[0]), mac="0" * 64)], None)
    assert verdict.ok and not verdict.checked_checkpoints and verdict.checkpoints == 0


def test_with_an_interval_a_checkpoint_deleted_where_one_is_due_is_named() -> None:
    records = chain([record(i) for i in range(1, 8)])
    marks = [checkpoint(records[2]), checkpoint(records[5])]
    verdict = verify(records, marks, KEY, every=3)
    assert verdict.ok and verdict.checkpoints == 2 and verdict.last_checkpoint == 6
    assert verify(records, marks[1:], KEY).ok  # without the interval, fewer checkpoints are no problem
    problem = verify(records, marks[1:], KEY, every=3).problem
    assert problem is not None and (problem.seq, problem.wrong) == (3, Wrong.CHECKPOINT_MISSING)
    assert verify(records, [], None, every=3).ok  # without the key there is nothing to require


def test_a_checkpoint_mac_is_hmac_sha256_of_its_number_hash_and_time() -> None:
    mark = Signer(KEY).checkpoint(7, "ab" * 32, T0)
    text = f"ksz-gateway audit checkpoint v1:7:{'ab' * 32}:2026-03-01T09:30:00.000000+00:00"
    assert mark.mac == hmac.new(KEY, text.encode(), hashlib.sha256).hexdigest()


def test_a_signer_wants_a_long_key_and_a_positive_interval_and_says_when_a_checkpoint_is_due() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Signer(b"short")
    with pytest.raises(ValueError):
        Signer(KEY, every=0)
    assert [s for s in range(1, 10) if Signer(KEY, every=3).due(s)] == [3, 6, 9]


# -- any single change is found where it was made --------------------------------------------------------


@given(
    length=st.integers(2, 25),
    change=st.sampled_from(["edit", "delete", "swap", "clear"]),
    data=st.data(),
)
def test_any_single_edit_delete_swap_or_clear_of_a_chain_is_found_where_it_was_made(
    length: int, change: str, data: st.DataObject
) -> None:
    records = chain([record(i) for i in range(1, length + 1)])
    marks = [checkpoint(records[-1])]  # signs the end, so that even the last record cannot go unseen
    i = data.draw(st.integers(0, length - 1), label="place")
    if change == "edit":
        field = data.draw(st.sampled_from(["ticket", "operation", "reference", "request", "outcome", "at"]))
        value = {"at": T0 - timedelta(days=1), "request": {"n": -1}, "outcome": {"x": 1}}.get(field, "changed")
        records[i] = dataclasses.replace(records[i], record=record(i + 1, **{field: value}))
        expected = (i + 1, Wrong.EDITED)
    elif change == "delete":
        del records[i]
        expected = (i + 1, Wrong.MISSING if i + 1 < length else Wrong.TRUNCATED)
    elif change == "swap":
        j = data.draw(st.integers(0, length - 1).filter(lambda j: j != i), label="other")
        i, j = min(i, j), max(i, j)
        records[i], records[j] = (
            dataclasses.replace(records[j], seq=i + 1),
            dataclasses.replace(records[i], seq=j + 1),
        )
        expected = (i + 1, Wrong.OUT_OF_PLACE)
    else:
        records[i] = dataclasses.replace(records[i], hash=None)
        expected = (i + 1, Wrong.UNHASHED)
    problem = verify(records, marks, KEY).problem
    assert problem is not None and (problem.seq, problem.wrong) == expected


# -- the trail's reader ----------------------------------------------------------------------------------


def test_a_person_is_mentioned_by_any_value_that_is_exactly_their_ssin() -> None:
    assert mentions({"persons": [["85073003328", "child"]]}, "85073003328")
    assert mentions({"a": {"b": ("x", "85073003328")}}, "85073003328")
    assert not mentions({"payload": "<x>85073003328</x>", "n": 85073003328}, "85073003328")
