"""The operator's audit commands: ``audit show`` (also a bare ``audit``), ``audit verify``, ``audit checkpoint`` and
``audit new-key``; and the checkpoint key file that ``serve --audit-key-file`` reads too.

Invariant: ``verify`` reads the whole chain once, in constant memory, names the first broken, missing or misplaced
record and exits 1, or prints one line and exits 0; it says when it did not check the checkpoints (no key). A key
file is 32 random bytes or more, in hex, that only its owner may read or write: any other key file is refused
with one line saying why, exit 2. ``show`` writes JSON lines and ends quietly when its reader stops reading.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import stat
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.entrypoints.commands.argtypes import whole_number
from gateway.entrypoints.settings import DEFAULT_DB

if TYPE_CHECKING:
    from gateway.app.audit_chain import Signer
    from gateway.app.ports import Store

__all__ = ["AuditKeyError", "read_audit_key", "register", "signer_from"]


class AuditKeyError(ValueError):
    """A checkpoint key file that cannot be used; the message says why and names the file."""


def read_audit_key(path: Path) -> bytes:
    """The checkpoint key in ``path``: hex text of ``KEY_BYTES`` bytes or more, readable by its owner only."""
    from gateway.app.audit_chain import KEY_BYTES

    try:
        with open(path, "rb") as opened:
            mode = os.fstat(opened.fileno()).st_mode
            text = opened.read(4096)
    except OSError as exc:
        raise AuditKeyError(f"the audit key file {path} cannot be read: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(mode):
        raise AuditKeyError(f"the audit key file {path} is not a regular file")
    if mode & 0o077:
        raise AuditKeyError(
            f"the audit key file {path} may be read or written by others (mode {stat.filemode(mode)}): "
            f"whoever reads it can sign a rewritten audit trail; run `chmod 600 {path}`"
        )
    try:
        key = bytes.fromhex(text.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError) as exc:
        raise AuditKeyError(
            f"the audit key file {path} does not hold a key in hex (make one with `ksz-gateway audit new-key`)"
        ) from exc
    if len(key) < KEY_BYTES:
        raise AuditKeyError(f"the audit key in {path} has {len(key)} bytes; it needs {KEY_BYTES} at least")
    return key


def signer_from(path: Path | None, every: int) -> Signer | None:
    """The checkpoint signer of ``--audit-key-file`` (None without one); ``AuditKeyError`` for an unusable file."""
    from gateway.app.audit_chain import Signer

    return None if path is None else Signer(read_audit_key(path), every)


def _moment(text: str) -> datetime:
    """An ISO 8601 date or time (UTC unless it says otherwise)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 date or time (2026-01-31T12:00:00Z)") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def register(subparsers: Any) -> None:
    from gateway.app.audit_chain import DEFAULT_CHECKPOINT_EVERY
    from gateway.entrypoints.commands.argtypes import enterprise_number
    from gateway.entrypoints.configuration import database_options

    def db_option(p: argparse.ArgumentParser, *, inherited: bool) -> None:
        # An action's --db may also come before the action (``audit --db X verify``): then the action keeps it.
        database_options(p, DEFAULT_DB, inherited=inherited)

    def show_options(p: argparse.ArgumentParser, *, inherited: bool) -> None:
        quiet = argparse.SUPPRESS if inherited else None
        p.add_argument("--ssin", metavar="SSIN", default=quiet, help="only records that name this person")
        p.add_argument(
            "--institution", type=enterprise_number, metavar="ID", default=quiet, help="only this institution's"
        )
        p.add_argument("--ticket", metavar="TICKET", default=quiet, help="only the record of this ticket")
        p.add_argument("--since", type=_moment, metavar="TIME", default=quiet, help="only records at or after TIME")
        p.add_argument("--until", type=_moment, metavar="TIME", default=quiet, help="only records before TIME")
        db_option(p, inherited=inherited)

    def key_option(p: argparse.ArgumentParser, *, required: bool) -> None:
        p.add_argument(
            "--audit-key-file",
            type=Path,
            required=required,
            metavar="FILE",
            help="the checkpoint key (from `ksz-gateway audit new-key`), kept outside the database",
        )

    audit = subparsers.add_parser(
        "audit",
        help="show, verify and sign the audit trail",
        description="The audit trail: a hash chain of every exchange's record, with signed checkpoints. Without "
        "an action, shows the trail (as `audit show`).",
    )
    show_options(audit, inherited=False)
    audit.set_defaults(handler=handle_show)
    actions = audit.add_subparsers(dest="audit_command", required=False, metavar="ACTION")

    show = actions.add_parser("show", help="print the audit trail as JSON lines, oldest first, filtered")
    show_options(show, inherited=True)
    show.set_defaults(handler=handle_show)

    verify = actions.add_parser(
        "verify",
        help="check the whole chain and its signed checkpoints; exit 1 naming the first broken record",
    )
    db_option(verify, inherited=True)
    key_option(verify, required=False)
    verify.add_argument(
        "--checkpoints-every",
        type=whole_number(1),
        metavar="N",
        help="with the key: require a signed checkpoint at every N-th record (the trail was always served with "
        "--audit-key-file and --audit-checkpoint-every N), so that deleted checkpoints are found too",
    )
    verify.set_defaults(handler=handle_verify)

    checkpoint = actions.add_parser("checkpoint", help="sign the chain's last record now")
    db_option(checkpoint, inherited=True)
    key_option(checkpoint, required=True)
    checkpoint.set_defaults(handler=handle_checkpoint, every=DEFAULT_CHECKPOINT_EVERY)

    new_key = actions.add_parser("new-key", help="write a new random checkpoint key to a new file (mode 600)")
    new_key.add_argument("--out", type=Path, required=True, metavar="FILE", help="the key file to create")
    new_key.set_defaults(handler=handle_new_key)


def _fail(message: str) -> int:
    print(f"ksz-gateway: error: {message}", file=sys.stderr)
    return 2


def _run(url: str, work: Any) -> int:
    from gateway.adapters.storage import open_store
    from gateway.errors import GatewayError

    store = open_store(url)
    try:
        return int(work(store))
    except GatewayError as exc:
        return _fail(exc.message)
    except AuditKeyError as exc:
        return _fail(str(exc))
    finally:
        store.close()


# -- show ------------------------------------------------------------------------------------------------


def handle_show(args: argparse.Namespace) -> int:
    from gateway.app.audit_trail import AuditQuery, select

    query = AuditQuery(args.ssin, args.institution, args.ticket, args.since, args.until)

    def run(store: Store) -> int:
        # A reader gone away (``| head``) ends the command quietly in ``gateway.entrypoints.cli.main``.
        for record in select(store, query):
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
        return 0

    return _run(args.db, run)


# -- verify ----------------------------------------------------------------------------------------------


def handle_verify(args: argparse.Namespace) -> int:
    from gateway.app.audit_chain import verify

    if args.checkpoints_every is not None and args.audit_key_file is None:
        return _fail("--checkpoints-every needs --audit-key-file: checkpoints are checked with the key only")
    try:
        key = None if args.audit_key_file is None else read_audit_key(args.audit_key_file)
    except AuditKeyError as exc:
        return _fail(str(exc))

    def run(store: Store) -> int:
        verdict = verify(store.audit_chain(), store.audit_checkpoints(), key, every=args.checkpoints_every)
        if verdict.problem is not None:
            print(f"audit trail BROKEN at record {verdict.problem.seq}: {verdict.problem}")
            print(f"(records 1 to {verdict.records} are intact; wrong: {verdict.problem.wrong})")
            return 1
        at = "" if verdict.last_checkpoint is None else f", the last at record {verdict.last_checkpoint}"
        signed = (
            f"{verdict.checkpoints} signed checkpoint(s) checked{at}"
            if verdict.checked_checkpoints
            else "checkpoints NOT checked (no --audit-key-file): a chain rewritten whole would pass"
        )
        print(f"audit trail intact: {verdict.records} records, head {verdict.head}; {signed}")
        return 0

    return _run(args.db, run)


# -- checkpoint and new-key ------------------------------------------------------------------------------


def handle_checkpoint(args: argparse.Namespace) -> int:
    try:
        signer = signer_from(args.audit_key_file, args.every)
    except AuditKeyError as exc:
        return _fail(str(exc))
    assert signer is not None

    def run(store: Store) -> int:
        mark = store.checkpoint_audit(signer, datetime.now(UTC))
        if mark is None:
            print("the audit trail is empty: nothing to sign")
        else:
            print(f"signed checkpoint at record {mark.seq} (hash {mark.hash}, {mark.at.isoformat()})")
        return 0

    return _run(args.db, run)


def handle_new_key(args: argparse.Namespace) -> int:
    from gateway.app.audit_chain import KEY_BYTES

    try:
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _fail(f"{args.out} exists already; a key is never overwritten (checkpoints signed with it would fail)")
    except OSError as exc:
        return _fail(f"cannot create {args.out}: {exc.strerror or exc}")
    with os.fdopen(fd, "w", encoding="ascii") as out:
        os.fchmod(out.fileno(), 0o600)  # whatever the umask
        out.write(secrets.token_bytes(KEY_BYTES).hex() + "\n")
    print(f"wrote a new audit checkpoint key to {args.out} (mode 600); keep it outside the database and back it up")
    return 0
