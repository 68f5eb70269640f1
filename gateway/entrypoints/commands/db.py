"""The operator's directory commands: ``db upgrade``, ``import`` and ``export`` (``audit`` has its own module).

Invariant: each command opens the store named by ``--db``, runs one use case of the application layer on it
(``gateway.app.transfer`` for import and export), closes the store whatever happens, and answers an unusable file
or database with one line naming it and exit code 2; ``import`` exits 1 when it rejected a line. ``db upgrade``
with a key file also seals the institution secrets stored in clear.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from gateway.adapters.storage import DirectoryStore
    from gateway.app.ports import Store
    from gateway.app.transfer import ImportReport, Rejected

__all__ = ["handle_export", "handle_import", "handle_upgrade", "register"]


def register(subparsers: Any) -> None:
    from gateway.entrypoints.configuration import database_options
    from gateway.entrypoints.settings import DEFAULT_DB

    def db_option(p: argparse.ArgumentParser) -> None:
        database_options(p, DEFAULT_DB)

    db = subparsers.add_parser("db", help="manage the directory database")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_sub.add_parser("upgrade", help="create or migrate the schema to the newest version")
    db_option(upgrade)
    from gateway.entrypoints.commands.keys import add_key_file_option

    add_key_file_option(upgrade)  # with a key file, also seals the secrets stored in clear
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


def _fail(message: str) -> int:
    print(f"ksz-gateway: error: {message}", file=sys.stderr)
    return 2


def _with_store(url: str, work: Callable[[DirectoryStore], int], key_file: Path | None = None) -> int:
    """``work`` on the store at ``url`` (secrets sealed with ``key_file``'s key), closed afterwards; a file or
    database that fails is a one-line error."""
    from gateway.adapters.storage import open_store
    from gateway.entrypoints.commands.keys import cipher_of
    from gateway.errors import GatewayError

    try:
        store = open_store(url, cipher=cipher_of(key_file))
    except GatewayError as exc:
        return _fail(exc.message)
    try:
        return work(store)
    except BrokenPipeError:
        raise  # the reader went away: the command line ends quietly (gateway.entrypoints.cli)
    except OSError as exc:
        return _fail(str(exc))
    except GatewayError as exc:
        return _fail(exc.message)
    finally:
        store.close()


# -- db upgrade ------------------------------------------------------------------------------------------


def handle_upgrade(args: argparse.Namespace) -> int:
    def upgrade(store: DirectoryStore) -> int:
        print(f"directory schema at version {store.upgrade()}")
        if args.secret_key_file is not None:
            sealed = store.seal_secrets()  # every secret must open with the key first
            print(f"institution secrets sealed with {args.secret_key_file} ({sealed} stored in clear until now)")
        return 0

    return _with_store(args.db, upgrade, args.secret_key_file)


# -- import ----------------------------------------------------------------------------------------------


@contextmanager
def _opened(path: str | None, mode: str, standard: IO[Any]) -> Iterator[IO[Any]]:
    """The file at ``path`` (``-`` or None: the ``standard`` stream, left open)."""
    if path is None or path == "-":
        yield standard
        return
    with open(path, mode) if "b" in mode else open(path, mode, encoding="utf-8") as opened:
        yield opened


def handle_import(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from gateway.app.transfer import import_csv

    def run(store: Store) -> int:
        store.upgrade()
        with (
            _opened(args.file, "rb", sys.stdin.buffer) as source,
            _opened(args.rejects, "w", sys.stderr) as rejects,
        ):
            total = None if source is sys.stdin.buffer else os.fstat(source.fileno()).st_size
            # On a terminal only; rejected lines on standard error are written above the bar.
            bar = tqdm(total=total, desc="importing", unit="B", unit_scale=True, file=sys.stderr, disable=None)
            with bar:

                def reject(line: Rejected) -> None:
                    if rejects is sys.stderr:
                        bar.write(str(line), file=sys.stderr)
                    else:
                        rejects.write(f"{line}\n")

                def progress(done: ImportReport) -> None:
                    rate = f" ({done.rows_per_second:,.0f} rows/s)" if done.rows_per_second else ""
                    bar.set_postfix_str(f"{done.rows:,} rows{rate}, {done.rejected:,} rejected", refresh=False)
                    bar.update(done.bytes_read - bar.n)

                report = import_csv(store, source, reject, None if bar.disable else progress)
        rate = f", {report.rows_per_second:,.0f} rows/s" if report.rows_per_second else ""
        print(
            f"imported {report.rows:,} rows, rejected {report.rejected:,} lines ({report.seconds:.1f} s{rate})",
            file=sys.stderr,
        )
        return 0 if report.rejected == 0 else 1

    return _with_store(args.db, run)


# -- export ----------------------------------------------------------------------------------------------


def handle_export(args: argparse.Namespace) -> int:
    from gateway.app.transfer import export_csv

    def run(store: Store) -> int:
        if args.out is None:
            export_csv(store, sys.stdout)
            return 0
        with open(args.out, "w", encoding="utf-8", newline="") as out:
            count = export_csv(store, out)
        print(f"exported {count:,} rows to {args.out}", file=sys.stderr)
        return 0

    return _with_store(args.db, run)
