"""The audit trail's hash chain and signed checkpoints: the arithmetic every store and ``audit verify`` share.

Invariant: record ``n`` of a store's trail (``n`` = 1, 2, ... without gaps, in commit order) carries
``hash(n) = SHA-256("n:hash(n-1):digest")`` in hex, where ``hash(0)`` is ``GENESIS`` and ``digest`` is the SHA-256
of the record's every stored field as canonical JSON (sorted keys, compact, ASCII); so a record edited, deleted,
moved or inserted breaks the chain at that place, unless every hash after it is recomputed. A checkpoint is
``(n, hash(n), time)`` with an HMAC-SHA256 under a key kept outside the database: a chain rewritten without the
key, or cut behind a checkpoint, no longer passes through it. ``verify`` reads both in order, once, in constant
memory, and names the first thing wrong. Nothing here knows a storage engine.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from gateway.app.ports import AuditRecord

__all__ = [
    "DEFAULT_CHECKPOINT_EVERY",
    "GENESIS",
    "KEY_BYTES",
    "ChainedRecord",
    "Checkpoint",
    "Problem",
    "Signer",
    "Verdict",
    "Wrong",
    "canonical",
    "checkpoint_mac",
    "content_digest",
    "link_hash",
    "record_hash",
    "stamp",
    "verify",
]

GENESIS = "0" * 64  # the hash before the first record
KEY_BYTES = 32  # a checkpoint key's length at least (HMAC-SHA256's block is 64; its output 32)
DEFAULT_CHECKPOINT_EVERY = 1000  # records between two signed checkpoints


def stamp(moment: datetime) -> str:
    """A moment as the chain writes it: UTC, ISO 8601 with microseconds (every engine keeps microseconds)."""
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return utc.isoformat(timespec="microseconds")


def _plain(value: Mapping[str, Any]) -> Any:
    """``value`` as it reads back from any store: through JSON text once (tuples become lists, keys strings)."""
    return json.loads(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


# The canonical text's encoder, made once: ``json.dumps`` with these arguments builds the same encoder per call.
_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode
_SCALARS = frozenset({str, int, float, bool, type(None)})
_DEEPEST = 64  # nesting beyond which a value takes the round trip (which names a circular reference as before)


def _reads_back_as_is(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` encodes as its read-back does: dicts with ``str`` keys only, lists and tuples, and
    scalars (a tuple encodes as the list it reads back as; a float's text reads back as the same float). A
    non-string key, which reads back as a string and may then sort elsewhere or collide, or any other type
    (a subclass too), takes the round trip instead."""
    kind = type(value)
    if kind is dict:
        for key in value:
            if type(key) is not str:
                return False
        items: Iterable[Any] = value.values()
    elif kind is list or kind is tuple:
        items = value
    else:
        return kind in _SCALARS
    if depth >= _DEEPEST:
        return False
    for item in items:  # noqa: SIM110 (a loop: all() over a generator costs twice as much here)
        if type(item) not in _SCALARS and not _reads_back_as_is(item, depth + 1):
            return False
    return True


def _canonical_value(value: Mapping[str, Any]) -> str:
    """``value`` as the canonical text holds it: its read-back encoded with sorted keys, ASCII; encoded directly
    when that is the same text (the usual request and outcome), else through the read-back itself."""
    return _encode(value if _reads_back_as_is(value) else _plain(value))


def canonical(record: AuditRecord) -> bytes:
    """Every stored field of ``record`` as sorted-key, compact, ASCII JSON: equal for a record and its read-back.

    The object is written out field by field in sorted key order, each value as the one encoder would write
    it inside the object: byte for byte the text of encoding the fields' dict with ``sort_keys``."""
    at = _encode(stamp(record.at))
    outcome, request = _canonical_value(record.outcome), _canonical_value(record.request)
    return (
        f'{{"at":{at},"institution_id":{_encode(record.institution_id)},'
        f'"operation":{_encode(record.operation)},"outcome":{outcome},"reference":{_encode(record.reference)},'
        f'"request":{request},"ticket":{_encode(record.ticket)}}}'
    ).encode("ascii")


def content_digest(record: AuditRecord) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


def link_hash(seq: int, prev: str, digest: str) -> str:
    """The hash of record ``seq`` whose predecessor's hash is ``prev`` and whose content digest is ``digest``.
    PostgreSQL computes the same text in SQL (``audit_append``), so keep the two in step."""
    return hashlib.sha256(f"{seq}:{prev}:{digest}".encode("ascii")).hexdigest()


def record_hash(seq: int, prev: str, record: AuditRecord) -> str:
    return link_hash(seq, prev, content_digest(record))


@dataclass(frozen=True, slots=True)
class ChainedRecord:
    """A record read back with its place in the chain: ``prev`` and ``hash`` as stored (None: cleared); ``record``
    None when its stored fields no longer read back as a record (``ticket`` then says which it was)."""

    seq: int
    record: AuditRecord | None
    prev: str | None
    hash: str | None
    ticket: str | None = None

    def __post_init__(self) -> None:
        if self.ticket is None and self.record is not None:
            object.__setattr__(self, "ticket", self.record.ticket)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement that the chain's record ``seq`` had hash ``hash`` at ``at``."""

    seq: int
    hash: str
    at: datetime
    mac: str = field(repr=False)


def checkpoint_mac(key: bytes, seq: int, chain_hash: str, at: datetime) -> str:
    message = f"ksz-gateway audit checkpoint v1:{seq}:{chain_hash}:{stamp(at)}".encode("ascii")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Signer:
    """The checkpoint key (never stored in the database) and how many records lie between two checkpoints."""

    key: bytes = field(repr=False)
    every: int = DEFAULT_CHECKPOINT_EVERY

    def __post_init__(self) -> None:
        if len(self.key) < KEY_BYTES:
            raise ValueError(f"an audit key has {KEY_BYTES} bytes at least, not {len(self.key)}")
        if self.every < 1:
            raise ValueError("checkpoints are made every 1 record at least")

    def due(self, seq: int) -> bool:
        """Whether appending record ``seq`` makes a checkpoint."""
        return seq % self.every == 0

    def checkpoint(self, seq: int, chain_hash: str, at: datetime) -> Checkpoint:
        return Checkpoint(seq, chain_hash, at, checkpoint_mac(self.key, seq, chain_hash, at))


class Wrong(StrEnum):
    """What verify found wrong, by kind."""

    EDITED = "edited"  # a record's content no longer matches its own hash
    UNHASHED = "unhashed"  # a record's chain columns were cleared
    MISSING = "missing"  # a gap in the numbering: records deleted
    OUT_OF_PLACE = "out of place"  # a record does not follow its predecessor: reordered, or one before it replaced
    CHECKPOINT_FORGED = "checkpoint forged"  # a checkpoint's MAC is wrong under the key
    CHECKPOINT_OFF_CHAIN = "checkpoint off chain"  # the chain no longer passes through a signed checkpoint
    TRUNCATED = "truncated"  # a signed checkpoint names a record beyond the chain's end
    CHECKPOINT_MISSING = "checkpoint missing"  # no checkpoint where one is due: checkpoints deleted


@dataclass(frozen=True, slots=True)
class Problem:
    """The first thing wrong: at which record (and its ticket, when there is a record there), and what."""

    seq: int
    ticket: str | None
    wrong: Wrong
    says: str

    def __str__(self) -> str:
        return self.says


@dataclass(frozen=True, slots=True)
class Verdict:
    """What ``verify`` concluded: the records and checkpoints it read, the chain's head, and the first problem."""

    records: int
    checkpoints: int
    head: str
    checked_checkpoints: bool
    problem: Problem | None
    last_checkpoint: int | None = None  # the number of the last record a checked checkpoint signs

    @property
    def ok(self) -> bool:
        return self.problem is None


def _named(seq: int, ticket: str | None) -> str:
    return f"record {seq}" + (f" (ticket {ticket})" if ticket else "")


def verify(
    records: Iterable[ChainedRecord],
    checkpoints: Iterable[Checkpoint],
    key: bytes | None = None,
    *,
    every: int | None = None,
) -> Verdict:
    """Walk ``records`` (by ``seq``) and ``checkpoints`` (by ``seq``) once; stop at the first problem.

    Without ``key`` the checkpoints are neither read nor trusted: only the chain itself is checked. With
    ``every``, a checkpoint must sign every record whose number is a multiple of it (a trail that was always
    written with the key at that interval): deleting checkpoints, the one thing the key cannot prevent, is then
    found too, except behind the last one due.
    """
    marks: Iterator[Checkpoint] = iter(checkpoints if key is not None else ())
    mark = next(marks, None)
    expected, prev, read, passed = 1, GENESIS, 0, 0
    last: int | None = None

    def verdict(problem: Problem | None) -> Verdict:
        return Verdict(read, passed, prev, key is not None, problem, last)

    def forged(c: Checkpoint) -> Problem | None:
        assert key is not None
        if hmac.compare_digest(c.mac, checkpoint_mac(key, c.seq, c.hash, c.at)):
            return None
        return Problem(
            c.seq,
            None,
            Wrong.CHECKPOINT_FORGED,
            f"the checkpoint at record {c.seq} has a wrong MAC: it was forged or altered, or made with another key",
        )

    for chained in records:
        seq, ticket = chained.seq, chained.ticket
        while mark is not None and mark.seq < seq:  # a checkpoint at a record that is not there
            if (problem := forged(mark)) is not None:
                return verdict(problem)
            if mark.seq >= expected:
                break  # at a record that was deleted: the gap is named below
            mark = next(marks, None)  # below record 1: it names no record, and its MAC is right
        if seq < expected:
            return verdict(
                Problem(
                    seq,
                    ticket,
                    Wrong.OUT_OF_PLACE,
                    f"{_named(seq, ticket)} is out of place: the chain's records are numbered from 1",
                )
            )
        if seq > expected:
            return verdict(
                Problem(
                    expected,
                    None,
                    Wrong.MISSING,
                    f"record {expected} is missing (deleted): the chain goes from record {expected - 1} "
                    f"to {_named(seq, ticket)}",
                )
            )
        if chained.hash is None or chained.prev is None:
            return verdict(
                Problem(seq, ticket, Wrong.UNHASHED, f"{_named(seq, ticket)} has no chain hash: it was cleared")
            )
        if chained.prev != prev:
            return verdict(
                Problem(
                    seq,
                    ticket,
                    Wrong.OUT_OF_PLACE,
                    f"{_named(seq, ticket)} is out of place: it does not follow record {seq - 1} "
                    "(reordered, or a record before it was deleted or rewritten)",
                )
            )
        if chained.record is None or not hmac.compare_digest(
            record_hash(seq, chained.prev, chained.record), chained.hash
        ):
            return verdict(
                Problem(
                    seq,
                    ticket,
                    Wrong.EDITED,
                    f"{_named(seq, ticket)} was edited: its content or place no longer matches its hash",
                )
            )
        while mark is not None and mark.seq == seq:
            if (problem := forged(mark)) is not None:
                return verdict(problem)
            if not hmac.compare_digest(mark.hash, chained.hash):
                return verdict(
                    Problem(
                        seq,
                        ticket,
                        Wrong.CHECKPOINT_OFF_CHAIN,
                        f"the chain no longer passes through the signed checkpoint at {_named(seq, ticket)}: "
                        f"the records up to {seq} were rewritten",
                    )
                )
            passed, last = passed + 1, seq
            mark = next(marks, None)
        if key is not None and every is not None and seq % every == 0 and last != seq:
            return verdict(
                Problem(
                    seq,
                    ticket,
                    Wrong.CHECKPOINT_MISSING,
                    f"{_named(seq, ticket)} has no signed checkpoint, though one is due every {every} records: "
                    "checkpoints were deleted",
                )
            )
        prev, expected, read = chained.hash, seq + 1, read + 1
    if mark is not None:
        if (problem := forged(mark)) is not None:
            return verdict(problem)
        return verdict(
            Problem(
                mark.seq,
                None,
                Wrong.TRUNCATED,
                f"record {mark.seq}, signed in a checkpoint, is missing: the chain ends at record {expected - 1} "
                "(records at its end were deleted)",
            )
        )
    return verdict(None)
