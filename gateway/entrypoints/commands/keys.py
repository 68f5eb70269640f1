"""The operator's commands for secrets at rest and a directory that may be away: ``secrets new-key``,
``institutions rotate-key``, the ``--secret-key-file`` option, and ``serve``'s wait for its database.

Invariant: a key file is written 0600 and never over another file; ``rotate-key`` seals every secret again under
the new key in one transaction, or changes nothing; a key file that cannot be used, a secret no key opens and a
database that does not answer are each one line naming the file or the database, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.adapters.storage import DirectoryStore
    from gateway.adapters.storage.at_rest import SecretCipher

__all__ = [
    "add_key_file_option",
    "cipher_of",
    "register",
    "register_institution_actions",
    "secrets_at_rest",
    "wait_for_directory",
]

KEY_FILE_HELP = (
    "the key file that seals institution secrets in the database (ksz-gateway secrets new-key makes one); "
    "without it, secrets are stored in clear"
)


def add_key_file_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--secret-key-file", type=Path, metavar="FILE", help=KEY_FILE_HELP)


def register(subparsers: Any) -> None:
    secrets = subparsers.add_parser("secrets", help="keys that seal institution secrets at rest")
    actions = secrets.add_subparsers(dest="secrets_command", required=True, metavar="ACTION")
    new_key = actions.add_parser(
        "new-key",
        help="write a new key file (mode 0600)",
        description="Write a new Fernet key to FILE, created with mode 0600; an existing file is never replaced.",
    )
    new_key.add_argument("--out", type=Path, required=True, metavar="FILE", help="the new key file")
    new_key.set_defaults(handler=handle_new_key)


def register_institution_actions(actions: Any, db_option: Callable[[argparse.ArgumentParser], None]) -> None:
    rotate = actions.add_parser(
        "rotate-key",
        help="seal every institution secret again under a new key file",
        description="Open every institution secret with --secret-key-file (or read it in clear) and seal it "
        "again with the first key of --new-key-file, in one transaction. Then start the gateway with the new "
        "key file.",
    )
    add_key_file_option(rotate)
    rotate.add_argument(
        "--new-key-file", type=Path, required=True, metavar="FILE", help="the key file to seal with from now on"
    )
    db_option(rotate)
    rotate.set_defaults(handler=handle_rotate_key)


def cipher_of(key_file: Path | None) -> SecretCipher | None:
    """The cipher of ``key_file`` (None without one); ``ConfigurationError`` naming it when it cannot be used."""
    if key_file is None:
        return None
    from gateway.adapters.storage.at_rest import load_key_file

    return load_key_file(key_file)


def handle_new_key(args: argparse.Namespace) -> int:
    from gateway.adapters.storage.at_rest import write_new_key_file

    try:
        write_new_key_file(args.out)
    except FileExistsError:
        print(f"ksz-gateway: error: {args.out} exists; a key file is never replaced", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"ksz-gateway: error: cannot write the key file {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"Wrote a new key to {args.out} (mode 0600). Keep a copy: without it the sealed secrets are lost.")
    return 0


def handle_rotate_key(args: argparse.Namespace) -> int:
    from gateway.adapters.storage import open_store

    old = cipher_of(args.secret_key_file)
    new = cipher_of(args.new_key_file)
    assert new is not None
    store = open_store(args.db, cipher=old)
    try:
        store.upgrade()
        count = store.reseal_secrets(new)
    finally:
        store.close()
    print(f"Sealed {count} institution secret(s) under the key file {args.new_key_file}.")
    print(f"Start the gateway with --secret-key-file {args.new_key_file} from now on.")
    return 0


def wait_for_directory(store: DirectoryStore, seconds: float, say: Callable[[str], None]) -> None:
    """Return once ``store``'s database answers; try again for ``seconds`` (0: once), then raise its
    ``StorageError``."""
    from gateway.errors import StorageError

    deadline = time.monotonic() + seconds
    waiting = False
    while True:
        try:
            store.probe()
        except StorageError as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                if waiting:
                    raise StorageError(f"{exc.message} (waited {seconds:g} s)") from exc
                raise
            if not waiting:
                say(f"Waiting up to {seconds:g} s for the directory: {exc.message}")
                waiting = True
            time.sleep(min(0.5, left))
        else:
            if waiting:
                say("The directory answers.")
            return


def secrets_at_rest(store: DirectoryStore, key_file: Path | None) -> tuple[list[str], list[str]]:
    """Seal the secrets ``store`` holds in clear (every secret must open first; ``StorageError`` when one does
    not) and say what ``serve`` should tell the operator: notes, and warnings (for standard error)."""
    from gateway.adapters.storage import exposed_files

    sealed = store.seal_secrets()
    if key_file is None:
        note = (
            "Institution secrets are stored in clear: no --secret-key-file "
            "(ksz-gateway secrets new-key --out FILE makes one)."
        )
    else:
        done = f" ({sealed} stored in clear until now were sealed at this start)" if sealed else ""
        note = f"Institution secrets are sealed with the key file {key_file}{done}."
    warnings: list[str] = []
    exposed = exposed_files(store)
    if exposed:
        listed = ", ".join(f"{name} ({mode:04o})" for name, mode in exposed)
        warnings.append(
            f"ksz-gateway serve: warning: others may read {listed}, which hold the directory and its secrets; "
            "chmod 600 them."
        )
    return [note], warnings
