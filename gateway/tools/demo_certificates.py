"""Demo certificates for trying client-certificate authentication: a CA, a server certificate for the loopback
names and one client certificate per demo institution, made with ``cryptography``.

Invariant: everything written is a public test value, like the demo secrets (the keys are written unencrypted
beside their certificates); the CA signs every certificate it writes and nothing else, the server certificate
names ``127.0.0.1`` and ``localhost``, and a client certificate's subject names its institution (CN the
institution's name, serialNumber its enterprise number). Nothing is registered: ``institutions add-certificate``
does that.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["DemoHolder", "write_demo_certificates"]

_VALID = timedelta(days=3650)


@dataclass(frozen=True, slots=True)
class DemoHolder:
    """An institution that gets a client certificate: its enterprise number and name."""

    id: str
    name: str


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write(folder: Path, stem: str, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    (folder / f"{stem}.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file = folder / f"{stem}.key"
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_file.chmod(0o600)


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey, now: datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + _VALID)
    )


def write_demo_certificates(
    folder: Path, holders: Sequence[DemoHolder], *, now: datetime | None = None
) -> dict[str, Path]:
    """Write ``ca.pem``/``ca.key``, ``server.pem``/``server.key`` and ``<id>.pem``/``<id>.key`` per holder into
    ``folder`` (made if missing); the certificate files written, by name."""
    moment = now or datetime.now(UTC)
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = _key()
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ksz-gateway demo"),
            x509.NameAttribute(NameOID.COMMON_NAME, "ksz-gateway demo CA (public test values)"),
        ]
    )
    ca = (
        _builder(ca_name, ca_name, ca_key, moment)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write(folder, "ca", ca, ca_key)
    written = {"ca": folder / "ca.pem"}
    authority = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())

    server_key = _key()
    server = (
        _builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]), ca_name, server_key, moment)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(authority, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write(folder, "server", server, server_key)
    written["server"] = folder / "server.pem"

    for holder in holders:
        key = _key()
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, holder.name),
                x509.NameAttribute(NameOID.SERIAL_NUMBER, holder.id),
                x509.NameAttribute(NameOID.COMMON_NAME, holder.name),
            ]
        )
        client = (
            _builder(subject, ca_name, key, moment)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(authority, critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        _write(folder, holder.id, client, key)
        written[holder.id] = folder / f"{holder.id}.pem"
    return written
