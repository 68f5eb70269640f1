"""The directory's schema as an ordered list of versioned migrations, one SQL text per engine.

Invariant: versions only grow, a released migration is never edited (a change is a new version), and each
store applies the pending ones in order, in one transaction under its engine's lock, recording each version
in ``schema_version``; so ``upgrade()`` is idempotent and two processes running it at once apply each once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["MIGRATIONS", "Migration", "latest_version"]


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: its version, what it does, and its statements by engine (a dialect's ``engine``)."""

    version: int
    description: str
    statements: Mapping[str, tuple[str, ...]]
    then: str | None = None  # a data step the store runs after the statements, in the same transaction


_SQLITE_V1 = (
    """CREATE TABLE sectors (
        sector INTEGER PRIMARY KEY,
        name TEXT NOT NULL
    )""",
    """CREATE TABLE quality_codes (
        sector INTEGER NOT NULL REFERENCES sectors (sector) ON DELETE CASCADE,
        code INTEGER NOT NULL,
        label TEXT NOT NULL,
        max_months INTEGER CHECK (max_months IS NULL OR max_months > 0),
        calendar_year INTEGER NOT NULL DEFAULT 0 CHECK (calendar_year IN (0, 1)),
        manual INTEGER NOT NULL DEFAULT 1 CHECK (manual IN (0, 1)),
        PRIMARY KEY (sector, code)
    )""",
    """CREATE TABLE institutions (
        id TEXT PRIMARY KEY CHECK (length(id) = 10 AND id NOT GLOB '*[^0-9]*'),
        name TEXT NOT NULL,
        sector INTEGER NOT NULL,
        secret TEXT NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1))
    )""",
    """CREATE TABLE periods (
        institution_id TEXT NOT NULL REFERENCES institutions (id),
        ssin TEXT NOT NULL CHECK (length(ssin) = 11 AND ssin NOT GLOB '*[^0-9]*'),
        code INTEGER NOT NULL,
        start_date TEXT NOT NULL CHECK (start_date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
        end_date TEXT CHECK (end_date IS NULL OR end_date >= start_date),
        PRIMARY KEY (institution_id, ssin, code, start_date)
    ) WITHOUT ROWID""",
    "CREATE INDEX periods_by_ssin ON periods (ssin)",
    # The engine keeps R2.5's disjointness even for writes that bypass the domain (PostgreSQL: EXCLUDE).
    """CREATE TRIGGER periods_disjoint BEFORE INSERT ON periods
    WHEN EXISTS (
        SELECT 1 FROM periods p
        WHERE p.institution_id = NEW.institution_id AND p.ssin = NEW.ssin AND p.code = NEW.code
          AND p.start_date <= COALESCE(NEW.end_date, '9999-12-31')
          AND COALESCE(p.end_date, '9999-12-31') >= NEW.start_date
    )
    BEGIN
        SELECT RAISE(ABORT, 'periods_disjoint: overlapping periods for one institution, person and code');
    END""",
    """CREATE TRIGGER periods_never_updated BEFORE UPDATE ON periods
    BEGIN
        SELECT RAISE(ABORT, 'periods are replaced (deleted and inserted), never updated');
    END""",
    """CREATE TABLE attestations (
        ticket TEXT NOT NULL,
        institution_id TEXT NOT NULL REFERENCES institutions (id),
        ssin TEXT NOT NULL,
        code INTEGER NOT NULL,
        valid_from TEXT NOT NULL,
        valid_to TEXT CHECK (valid_to IS NULL OR valid_to >= valid_from),
        PRIMARY KEY (ticket, ssin)
    )""",
    "CREATE INDEX attestations_by_person ON attestations (institution_id, ssin)",
    """CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        ticket TEXT NOT NULL UNIQUE,
        institution_id TEXT NOT NULL,
        operation TEXT NOT NULL,
        at TEXT NOT NULL,
        reference TEXT,
        request_json TEXT NOT NULL,
        outcome_json TEXT NOT NULL
    )""",
    "CREATE INDEX audit_by_institution ON audit (institution_id, seq)",
    """CREATE TABLE answers (
        institution_id TEXT NOT NULL,
        reference TEXT NOT NULL,
        operation TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        answer_json TEXT NOT NULL,
        PRIMARY KEY (institution_id, reference)
    )""",
    """CREATE TABLE nonces (
        institution_id TEXT NOT NULL,
        nonce TEXT NOT NULL,
        created TEXT NOT NULL,
        PRIMARY KEY (institution_id, nonce)
    )""",
    "CREATE INDEX nonces_by_created ON nonces (created)",
)

_POSTGRES_V1 = (
    """CREATE TABLE sectors (
        sector integer PRIMARY KEY,
        name text NOT NULL
    )""",
    """CREATE TABLE quality_codes (
        sector integer NOT NULL REFERENCES sectors (sector) ON DELETE CASCADE,
        code integer NOT NULL,
        label text NOT NULL,
        max_months integer CHECK (max_months > 0),
        calendar_year boolean NOT NULL DEFAULT false,
        manual boolean NOT NULL DEFAULT true,
        PRIMARY KEY (sector, code)
    )""",
    """CREATE TABLE institutions (
        id text PRIMARY KEY CHECK (id ~ '^[0-9]{10}$'),
        name text NOT NULL,
        sector integer NOT NULL,
        secret text NOT NULL,
        enabled boolean NOT NULL DEFAULT true
    )""",
    """CREATE TABLE periods (
        institution_id text NOT NULL REFERENCES institutions (id),
        ssin text NOT NULL CHECK (ssin ~ '^[0-9]{11}$'),
        code integer NOT NULL,
        start_date date NOT NULL,
        end_date date CHECK (end_date >= start_date),
        PRIMARY KEY (institution_id, ssin, code, start_date),
        -- The identifiers are fixed-width digit strings (checked above), so comparing them as bigint is the
        -- same test; btree_gist indexes bigint about 3.5 times faster than text (measured on bulk import).
        CONSTRAINT periods_disjoint EXCLUDE USING gist (
            (ssin::bigint) WITH =,
            (institution_id::bigint) WITH =,
            code WITH =,
            daterange(start_date, end_date, '[]') WITH &&
        )
    )""",
    "CREATE INDEX periods_by_ssin ON periods (ssin)",
    """CREATE TABLE attestations (
        ticket text NOT NULL,
        institution_id text NOT NULL REFERENCES institutions (id),
        ssin text NOT NULL,
        code integer NOT NULL,
        valid_from date NOT NULL,
        valid_to date CHECK (valid_to >= valid_from),
        PRIMARY KEY (ticket, ssin)
    )""",
    "CREATE INDEX attestations_by_person ON attestations (institution_id, ssin)",
    """CREATE TABLE audit (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        ticket text NOT NULL UNIQUE,
        institution_id text NOT NULL,
        operation text NOT NULL,
        at timestamptz NOT NULL,
        reference text,
        request_json jsonb NOT NULL,
        outcome_json jsonb NOT NULL
    )""",
    "CREATE INDEX audit_by_institution ON audit (institution_id, seq)",
    """CREATE TABLE answers (
        institution_id text NOT NULL,
        reference text NOT NULL,
        operation text NOT NULL,
        fingerprint text NOT NULL,
        answer_json jsonb NOT NULL,
        PRIMARY KEY (institution_id, reference)
    )""",
    """CREATE TABLE nonces (
        institution_id text NOT NULL,
        nonce text NOT NULL,
        created timestamptz NOT NULL,
        PRIMARY KEY (institution_id, nonce)
    )""",
    "CREATE INDEX nonces_by_created ON nonces (created)",
)

# Version 2: TLS client certificates registered per institution, known by the SHA-256 of their DER form.
_SQLITE_V2 = (
    """CREATE TABLE certificates (
        fingerprint TEXT PRIMARY KEY CHECK (length(fingerprint) = 64 AND fingerprint NOT GLOB '*[^0-9a-f]*'),
        institution_id TEXT NOT NULL REFERENCES institutions (id),
        subject TEXT NOT NULL,
        not_before TEXT NOT NULL,
        not_after TEXT NOT NULL CHECK (not_after >= not_before)
    )""",
    "CREATE INDEX certificates_by_institution ON certificates (institution_id)",
)

_POSTGRES_V2 = (
    """CREATE TABLE certificates (
        fingerprint text PRIMARY KEY CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
        institution_id text NOT NULL REFERENCES institutions (id),
        subject text NOT NULL,
        not_before timestamptz NOT NULL,
        not_after timestamptz NOT NULL CHECK (not_after >= not_before)
    )""",
    "CREATE INDEX certificates_by_institution ON certificates (institution_id)",
)

# Version 3: the audit trail as a hash chain (gateway.app.audit_chain). ``seq`` becomes the record's number in
# the chain, assigned by the writer that holds the chain (no longer by the engine, whose identity leaves gaps
# on rollback); the data step ``chain_audit`` numbers the records already there 1, 2, ... in their order and
# chains them, once, so no record is left outside the chain. Signed checkpoints get their own table.
_SQLITE_V3 = (
    "ALTER TABLE audit ADD COLUMN prev_hash TEXT",
    "ALTER TABLE audit ADD COLUMN hash TEXT",
    """CREATE TABLE audit_checkpoints (
        seq INTEGER PRIMARY KEY,
        hash TEXT NOT NULL,
        at TEXT NOT NULL,
        mac TEXT NOT NULL
    )""",
)

_POSTGRES_V3 = (
    "ALTER TABLE audit ALTER COLUMN seq DROP IDENTITY",
    "ALTER TABLE audit ADD COLUMN prev_hash text",
    "ALTER TABLE audit ADD COLUMN hash text",
    """CREATE TABLE audit_checkpoints (
        seq bigint PRIMARY KEY,
        hash text NOT NULL,
        at timestamptz NOT NULL,
        mac text NOT NULL
    )""",
    # Appending in one statement: the chain's advisory lock (held until commit, so chain order is commit order),
    # then the tail read and the insert. A VOLATILE function's statements each take a new snapshot, so the tail
    # read after the lock sees the record the previous holder committed (a single plain statement would read
    # with the snapshot it took before waiting for the lock, and fork the chain). The hash is
    # gateway.app.audit_chain.link_hash, computed here.
    """CREATE FUNCTION audit_append(
        chain_lock bigint, p_ticket text, p_institution text, p_operation text, p_at timestamptz,
        p_reference text, p_request jsonb, p_outcome jsonb, p_digest text
    ) RETURNS TABLE (chained_seq bigint, chained_hash text) LANGUAGE plpgsql VOLATILE AS $$
    DECLARE
        last_seq bigint;
        last_hash text;
        new_hash text;
    BEGIN
        PERFORM pg_advisory_xact_lock(chain_lock);
        SELECT a.seq, a.hash INTO last_seq, last_hash FROM audit a ORDER BY a.seq DESC LIMIT 1;
        IF NOT FOUND THEN
            last_seq := 0;
            last_hash := repeat('0', 64);
        END IF;
        new_hash := encode(sha256(convert_to(
            (last_seq + 1)::text || ':' || coalesce(last_hash, '') || ':' || p_digest, 'UTF8')), 'hex');
        INSERT INTO audit (seq, ticket, institution_id, operation, at, reference, request_json, outcome_json,
                           prev_hash, hash)
        VALUES (last_seq + 1, p_ticket, p_institution, p_operation, p_at, p_reference, p_request, p_outcome,
                coalesce(last_hash, ''), new_hash);
        RETURN QUERY SELECT last_seq + 1, new_hash;
    END
    $$""",
)

# Version 4: every refused authentication, on every front, for the operator and for the throttle that reads it
# (gateway.app.auth_guard). Pruned past a retention, as nonces are.
_SQLITE_V4 = (
    """CREATE TABLE auth_failures (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        front TEXT NOT NULL,
        institution TEXT NOT NULL,
        address TEXT NOT NULL,
        kind TEXT NOT NULL,
        cleared INTEGER NOT NULL DEFAULT 0 CHECK (cleared IN (0, 1))
    )""",
    "CREATE INDEX auth_failures_by_address ON auth_failures (address, at)",
    "CREATE INDEX auth_failures_by_time ON auth_failures (at)",
)

_POSTGRES_V4 = (
    """CREATE TABLE auth_failures (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at timestamptz NOT NULL,
        front text NOT NULL,
        institution text NOT NULL,
        address text NOT NULL,
        kind text NOT NULL,
        cleared boolean NOT NULL DEFAULT false
    )""",
    "CREATE INDEX auth_failures_by_address ON auth_failures (address, at)",
    "CREATE INDEX auth_failures_by_time ON auth_failures (at)",
)

# Version 5: fewer pages written a request on SQLite. Every request claims a nonce and appends an audit record.
# ``nonces`` becomes its primary key alone (WITHOUT ROWID): a claim writes that b-tree and ``nonces_by_created``
# instead of a rowid table, its key index and ``nonces_by_created``; the table holds only the nonces of the last
# minutes, so rebuilding it is quick. ``audit`` keeps its AUTOINCREMENT: dropping it would rebuild the whole trail
# (measured: 26 s for a million records, under the write lock, and the file's size doubled), so its counter in
# ``sqlite_sequence`` is set far beyond any number the chain reaches instead. The chain numbers every record
# itself (tail + 1), so the counter never chose a number; SQLite rewrote it on every append only because the
# number grew past it, and with the counter out of reach that row (a page a commit) is no longer written.
# PostgreSQL stores both otherwise (heap and indexes, no counter): nothing to do there.
_SQLITE_V5 = (
    """CREATE TABLE nonces_by_key (
        institution_id TEXT NOT NULL,
        nonce TEXT NOT NULL,
        created TEXT NOT NULL,
        PRIMARY KEY (institution_id, nonce)
    ) WITHOUT ROWID""",
    "INSERT INTO nonces_by_key (institution_id, nonce, created) SELECT institution_id, nonce, created FROM nonces",
    "DROP TABLE nonces",
    "ALTER TABLE nonces_by_key RENAME TO nonces",
    "CREATE INDEX nonces_by_created ON nonces (created)",
    "DELETE FROM sqlite_sequence WHERE name = 'audit'",
    "INSERT INTO sqlite_sequence (name, seq) VALUES ('audit', 4611686018427387904)",  # 2**62
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "catalogue, institutions, periods, attestations, audit, answers, nonces",
        {"SQLite": _SQLITE_V1, "PostgreSQL": _POSTGRES_V1},
    ),
    Migration(2, "TLS client certificates of institutions", {"SQLite": _SQLITE_V2, "PostgreSQL": _POSTGRES_V2}),
    Migration(
        3,
        "the audit trail as a hash chain, with signed checkpoints",
        {"SQLite": _SQLITE_V3, "PostgreSQL": _POSTGRES_V3},
        then="chain_audit",
    ),
    Migration(4, "failed authentications", {"SQLite": _SQLITE_V4, "PostgreSQL": _POSTGRES_V4}),
    Migration(
        5,
        "nonces stored by their key alone; the audit's counter out of the chain's way (SQLite)",
        {"SQLite": _SQLITE_V5, "PostgreSQL": ()},
    ),
)


def latest_version() -> int:
    return MIGRATIONS[-1].version
