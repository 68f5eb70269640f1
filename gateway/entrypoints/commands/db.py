"""The operator's directory commands: ``db upgrade``, ``import``, ``export`` and ``audit``.

Invariant: ``import`` applies only lines that pass every check (institution known, SSIN valid, code in the
catalogue of the institution's sector, ISO dates, end not before start) and names every other line with its
number and reason; what ``export`` writes, ``import`` reads back to the same directory.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from typing import IO, TYPE_CHECKING, Any

from gateway.app.ports import ImportRow
from gateway.domain.identifiers import check_ssin

# Domain values only (standard library underneath); the storage engines are imported by the handlers.
from gateway.domain.periods import Period

if TYPE_CHECKING:
    from gateway.app.ports import InstitutionRecord, Store
    from gateway.domain.catalogue import Catalogue

__all__ = [
    "CSV_HEADER",
    "CsvImport",
    "export_csv",
    "handle_audit",
    "handle_export",
    "handle_import",
    "handle_upgrade",
    "parse_line",
    "register",
]

CSV_HEADER = ("institution", "ssin", "code", "start", "end")


def register(subparsers: Any) -> None:
    from gateway.entrypoints.settings import DEFAULT_DB

    def db_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--db", default=DEFAULT_DB, metavar="PATH-OR-URL", help=f"SQLite file or postgresql:// URL ({DEFAULT_DB})"
        )

    db = subparsers.add_parser("db", help="manage the directory database")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_sub.add_parser("upgrade", help="create or migrate the schema to the newest version")
    db_option(upgrade)
    upgrade.set_defaults(handler=handle_upgrade)

    imp = subparsers.add_parser(
        "import",
        help="merge integrations from a CSV file (institution,ssin,code,start,end)",
        description="Merge integrations from CSV lines 'institution,ssin,code,start,end' (header optional, end "
        "empty for an open end). Overlapping or adjacent periods merge (R2.5). Exit code 1 when a line is "
        "rejected; each rejected line is reported with its number and reason.",
    )
    imp.add_argument("file", metavar="FILE.csv", help="the CSV file ('-' for standard input)")
    imp.add_argument("--rejects", metavar="FILE", help="write rejected lines here instead of standard error")
    db_option(imp)
    imp.set_defaults(handler=handle_import)

    exp = subparsers.add_parser("export", help="write every integration as CSV (re-importable)")
    exp.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    db_option(exp)
    exp.set_defaults(handler=handle_export)

    audit = subparsers.add_parser("audit", help="print the audit trail as JSON lines, oldest first")
    audit.add_argument("--institution", metavar="ID", help="only this institution's records")
    db_option(audit)
    audit.set_defaults(handler=handle_audit)


def _fail(message: str) -> int:
    print(f"ksz-gateway: error: {message}", file=sys.stderr)
    return 2


# -- db upgrade ------------------------------------------------------------------------------------------


def handle_upgrade(args: argparse.Namespace) -> int:
    from gateway.adapters.storage import open_store
    from gateway.errors import GatewayError

    store = open_store(args.db)
    try:
        version = store.upgrade()
    except GatewayError as exc:
        return _fail(exc.message)
    finally:
        store.close()
    print(f"directory schema at version {version}")
    return 0


# -- import ----------------------------------------------------------------------------------------------


def parse_line(
    fields: list[str], institutions: Mapping[str, InstitutionRecord], catalogue: Catalogue
) -> ImportRow | str:
    """One CSV line as an ``ImportRow``, or the reason it is rejected."""
    if len(fields) not in (4, 5):
        return f"expected 5 columns ({','.join(CSV_HEADER)}), found {len(fields)}"
    institution_id, ssin, code_text, start_text = (f.strip() for f in fields[:4])
    end_text = fields[4].strip() if len(fields) == 5 else ""
    institution = institutions.get(institution_id)
    if institution is None:
        return f"unknown institution {institution_id!r}"
    check = check_ssin(ssin)
    if not check.valid:
        return check.reason
    try:
        code = int(code_text)
    except ValueError:
        return f"quality code {code_text!r} is not a number"
    if catalogue.code(institution.sector, code) is None:
        return f"quality code {code:02d} is not in the catalogue of sector {institution.sector}"
    try:
        start = date.fromisoformat(start_text)
    except ValueError:
        return f"start date {start_text!r} is not an ISO date (YYYY-MM-DD)"
    end: date | None = None
    if end_text:
        try:
            end = date.fromisoformat(end_text)
        except ValueError:
            return f"end date {end_text!r} is not an ISO date (YYYY-MM-DD)"
        if end < start:
            return f"end date {end.isoformat()} lies before start date {start.isoformat()}"
    return ImportRow(institution_id, ssin, code, Period(start, end))


class _Progress:
    """A one-line progress bar on a terminal; silent when the stream is not a TTY."""

    def __init__(self, stream: IO[str], total: int | None) -> None:
        self._stream = stream
        self._total = total if total else None
        self._enabled = stream.isatty()
        self._next = 0.0

    def update(self, done: int, rows: int, *, force: bool = False) -> None:
        if not self._enabled:
            return
        now = time.monotonic()
        if now < self._next and not force:
            return
        self._next = now + 0.2
        if self._total:
            share = min(done / self._total, 1.0)
            bar = "#" * int(share * 30)
            self._stream.write(f"\rimporting {share:6.1%} [{bar:<30}] {rows:,} rows")
        else:
            self._stream.write(f"\rimporting {rows:,} rows")
        self._stream.flush()

    def clear(self) -> None:
        """Wipe the bar so that a message can take the line; the next update draws it again."""
        if self._enabled:
            self._stream.write("\r\x1b[K")
            self._next = 0.0

    def finish(self) -> None:
        if self._enabled:
            self._stream.write("\n")
            self._stream.flush()


class CsvImport:
    """Reads and checks a CSV file lazily, yielding good rows and reporting rejected lines as it goes."""

    def __init__(
        self,
        lines: Iterable[bytes],
        institutions: Mapping[str, InstitutionRecord],
        catalogue: Catalogue,
        rejects: IO[str],
        progress: _Progress | None = None,
    ) -> None:
        self._lines = lines
        self._institutions = institutions
        self._catalogue = catalogue
        self._rejects = rejects
        self._progress = progress
        self.read = 0
        self.accepted = 0
        self.rejected = 0
        self._bytes = 0

    def _decoded(self) -> Iterator[str]:
        first = True
        for raw in self._lines:
            self._bytes += len(raw)
            text = raw.decode("utf-8", errors="replace")
            if first:
                text, first = text.removeprefix("\ufeff"), False
            yield text

    def rows(self) -> Iterator[ImportRow]:
        reader = csv.reader(self._decoded())
        first = True
        for fields in reader:
            if not fields or all(not f.strip() for f in fields):
                continue
            if first:
                first = False
                if fields[0].strip().lower() == CSV_HEADER[0]:
                    continue  # the optional header line
            self.read += 1
            parsed = parse_line(fields, self._institutions, self._catalogue)
            if isinstance(parsed, str):
                self.rejected += 1
                if self._progress is not None:
                    self._progress.clear()
                self._rejects.write(f"line {reader.line_num}: {parsed}\n")
            else:
                self.accepted += 1
                yield parsed
            if self._progress is not None:
                self._progress.update(self._bytes, self.accepted)
        if self._progress is not None:
            self._progress.update(self._bytes, self.accepted, force=True)
            self._progress.finish()


def handle_import(args: argparse.Namespace) -> int:
    from gateway.adapters.storage import open_store
    from gateway.errors import GatewayError

    store = open_store(args.db)
    try:
        store.upgrade()
        institutions = {r.id: r for r in store.institutions()}
        catalogue = store.catalogue()
        rejects: IO[str] = open(args.rejects, "w", encoding="utf-8") if args.rejects else sys.stderr  # noqa: SIM115
        source: IO[bytes] = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
        try:
            total = None if args.file == "-" else os.fstat(source.fileno()).st_size
            job = CsvImport(source, institutions, catalogue, rejects, _Progress(sys.stderr, total))
            started = time.monotonic()
            imported = store.import_integrations(job.rows())
            elapsed = time.monotonic() - started
        finally:
            if source is not sys.stdin.buffer:
                source.close()
            if rejects is not sys.stderr:
                rejects.close()
    except OSError as exc:
        return _fail(str(exc))
    except GatewayError as exc:
        return _fail(exc.message)
    finally:
        store.close()
    rate = f", {imported / elapsed:,.0f} rows/s" if elapsed > 0 and imported else ""
    print(f"imported {imported:,} rows, rejected {job.rejected:,} lines ({elapsed:.1f} s{rate})", file=sys.stderr)
    return 0 if job.rejected == 0 else 1


# -- export ----------------------------------------------------------------------------------------------


def export_csv(store: Store, out: IO[str]) -> int:
    """Write every integration as CSV with a header; returns the number of rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    count = 0
    for row in store.export_integrations():
        p = row.period
        writer.writerow(
            (row.institution_id, row.ssin, f"{row.code:02d}", p.start.isoformat(), p.end.isoformat() if p.end else "")
        )
        count += 1
    return count


def handle_export(args: argparse.Namespace) -> int:
    from gateway.adapters.storage import open_store
    from gateway.errors import GatewayError

    store = open_store(args.db)
    try:
        if args.out:
            with open(args.out, "w", encoding="utf-8", newline="") as out:
                count = export_csv(store, out)
            print(f"exported {count:,} rows to {args.out}", file=sys.stderr)
        else:
            export_csv(store, sys.stdout)
    except OSError as exc:
        return _fail(str(exc))
    except GatewayError as exc:
        return _fail(exc.message)
    finally:
        store.close()
    return 0


# -- audit -----------------------------------------------------------------------------------------------


def handle_audit(args: argparse.Namespace) -> int:
    from gateway.adapters.storage import open_store
    from gateway.errors import GatewayError

    store = open_store(args.db)
    try:
        for record in store.audit_log(args.institution):
            line = {
                "ticket": record.ticket,
                "institution": record.institution_id,
                "operation": record.operation,
                "at": record.at.isoformat(),
                "reference": record.reference,
                "request": record.request,
                "outcome": record.outcome,
            }
            sys.stdout.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
    except GatewayError as exc:
        return _fail(exc.message)
    finally:
        store.close()
    return 0
