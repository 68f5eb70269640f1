"""The operator's certificate commands: ``institutions add-certificate | remove-certificate`` and
``certificates demo``.

Invariant: a certificate is registered for exactly one institution, by the SHA-256 fingerprint of its DER form,
printed as ``openssl x509 -fingerprint -sha256`` prints it; a file that holds no certificate, an institution that
does not exist or a fingerprint registered already changes nothing and says so (exit code 1). ``certificates
demo`` writes public test values only and registers nothing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.app.ports import CertificateRecord, Store

__all__ = ["describe", "register", "register_institution_actions"]


def register(subparsers: Any) -> None:
    demo = subparsers.add_parser(
        "certificates",
        help="TLS certificates for trying client-certificate authentication",
        description="Certificates for trying the gateway over HTTPS with client certificates.",
    )
    actions = demo.add_subparsers(dest="certificates_command", required=True, metavar="ACTION")
    make = actions.add_parser(
        "demo",
        help="write a demo CA, a server certificate for 127.0.0.1 and localhost, and one client certificate per "
        "demo institution (public test values; nothing is registered)",
    )
    make.add_argument("--out", type=Path, required=True, metavar="DIR", help="the folder to write them in")
    make.set_defaults(handler=handle_demo)


def register_institution_actions(
    actions: Any, db_option: Callable[[argparse.ArgumentParser], None], id_type: Any
) -> None:
    """``add-certificate`` and ``remove-certificate`` under ``institutions``."""
    add = actions.add_parser(
        "add-certificate", help="register a TLS client certificate (PEM) for an institution; prints its fingerprint"
    )
    add.add_argument("id", type=id_type, metavar="ID", help="enterprise number, 10 digits")
    add.add_argument("certificate", type=Path, metavar="CERT.pem")
    db_option(add)
    add.set_defaults(handler=handle_add_certificate)
    remove = actions.add_parser("remove-certificate", help="unregister an institution's certificate")
    remove.add_argument("id", type=id_type, metavar="ID")
    remove.add_argument("fingerprint", metavar="FINGERPRINT", help="SHA-256, as openssl prints it (AB:CD:...) or hex")
    db_option(remove)
    remove.set_defaults(handler=handle_remove_certificate)


def _open(db: str) -> Store:
    from gateway.adapters.storage import open_store

    store = open_store(db)
    store.upgrade()
    return store


def describe(record: CertificateRecord) -> str:
    """One certificate as ``institutions list`` shows it."""
    from gateway.contract.certificates import openssl_fingerprint

    return (
        f"certificate {openssl_fingerprint(record.fingerprint)}  {record.subject}  "
        f"valid {record.not_before:%Y-%m-%d} to {record.not_after:%Y-%m-%d}"
    )


def handle_add_certificate(args: argparse.Namespace) -> int:
    from gateway.app.ports import CertificateRecord
    from gateway.contract.certificates import load_certificates, openssl_fingerprint
    from gateway.errors import StorageError, UnknownInstitution

    try:
        certificate = load_certificates(args.certificate.read_bytes())[0]
    except OSError as exc:
        print(f"Cannot read {args.certificate}: {exc.strerror or exc}.", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"{args.certificate} holds no X.509 certificate (PEM or DER): {exc}", file=sys.stderr)
        return 1
    record = CertificateRecord(
        certificate.fingerprint, args.id, certificate.subject, certificate.not_before, certificate.not_after
    )
    store = _open(args.db)
    try:
        added = store.add_certificate(record)
    except (UnknownInstitution, StorageError) as exc:
        print(f"Cannot register the certificate for {args.id}: {exc.message}", file=sys.stderr)
        return 1
    finally:
        store.close()
    shown = openssl_fingerprint(certificate.fingerprint)
    if not added:
        print(f"The certificate sha256 Fingerprint={shown} is registered already; nothing changed.", file=sys.stderr)
        return 1
    print(f"Registered for institution {args.id}: {certificate.subject}")
    print(f"sha256 Fingerprint={shown}")
    return 0


def handle_remove_certificate(args: argparse.Namespace) -> int:
    from gateway.contract.certificates import normalize_fingerprint, openssl_fingerprint

    fingerprint = normalize_fingerprint(args.fingerprint)
    if fingerprint is None:
        print(f"{args.fingerprint!r} is not a SHA-256 fingerprint (64 hex digits, colons allowed).", file=sys.stderr)
        return 2
    store = _open(args.db)
    try:
        removed = store.remove_certificate(args.id, fingerprint)
    finally:
        store.close()
    if not removed:
        print(f"Institution {args.id} has no certificate {openssl_fingerprint(fingerprint)}.", file=sys.stderr)
        return 1
    print(f"Removed certificate {openssl_fingerprint(fingerprint)} of institution {args.id}: it no longer works.")
    return 0


def handle_demo(args: argparse.Namespace) -> int:
    from gateway.domain.demo import DEMO_IDENTITIES
    from gateway.tools.demo_certificates import DemoHolder, write_demo_certificates

    try:
        written = write_demo_certificates(args.out, [DemoHolder(d.id, d.name) for d in DEMO_IDENTITIES])
    except OSError as exc:
        print(f"Cannot write into {args.out}: {exc.strerror or exc}.", file=sys.stderr)
        return 1
    print(f"Wrote the demo CA, the server certificate (127.0.0.1, localhost) and {len(written) - 2} client")
    print(f"certificates with their keys into {args.out}. They are PUBLIC TEST VALUES, like the demo secrets.")
    for path in written.values():
        print(f"  {path}")
    print("Register a client certificate with: ksz-gateway institutions add-certificate ID DIR/ID.pem")
    return 0
