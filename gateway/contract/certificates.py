"""TLS client certificates as the gateway names them: read from PEM or DER with ``cryptography``, known by the
SHA-256 fingerprint of their DER form.

Invariant: a certificate is named everywhere (the store, ``institutions add-certificate``, the log) by the same
fingerprint: 64 lowercase hex digits of SHA-256 over its DER bytes; ``openssl_fingerprint`` writes it the way
``openssl x509 -fingerprint -sha256`` does, and ``normalize_fingerprint`` reads either form back. Nothing here
parses ASN.1 by hand.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding

__all__ = [
    "Certificate",
    "fingerprint",
    "forwarded_certificate",
    "load_certificates",
    "normalize_fingerprint",
    "openssl_fingerprint",
]

_HEX = re.compile(r"[0-9a-f]{64}")


def fingerprint(der: bytes) -> str:
    """The SHA-256 fingerprint of a certificate's DER bytes: 64 lowercase hex digits."""
    return hashlib.sha256(der).hexdigest()


def openssl_fingerprint(value: str) -> str:
    """A fingerprint as ``openssl x509 -fingerprint -sha256`` prints it: ``AB:CD:...``."""
    upper = value.upper()
    return ":".join(upper[i : i + 2] for i in range(0, len(upper), 2))


def normalize_fingerprint(text: str) -> str | None:
    """A fingerprint typed by an operator (``AB:CD:..``, ``sha256 Fingerprint=AB:..``, or plain hex), or None."""
    value = text.strip()
    if "=" in value:
        value = value.rsplit("=", 1)[1]
    value = value.replace(":", "").replace(" ", "").lower()
    return value if _HEX.fullmatch(value) else None


@dataclass(frozen=True, slots=True)
class Certificate:
    """One X.509 certificate: its DER bytes and what the gateway reads of it."""

    der: bytes
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    _parsed: x509.Certificate

    @classmethod
    def of(cls, parsed: x509.Certificate) -> Certificate:
        return cls(
            parsed.public_bytes(Encoding.DER),
            parsed.subject.rfc4514_string(),
            parsed.issuer.rfc4514_string(),
            parsed.not_valid_before_utc,
            parsed.not_valid_after_utc,
            parsed,
        )

    @classmethod
    def from_der(cls, der: bytes) -> Certificate:
        return cls.of(x509.load_der_x509_certificate(der))

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.der)

    def valid_at(self, moment: datetime) -> bool:
        return self.not_before <= moment.astimezone(UTC) <= self.not_after

    def issued_by_one_of(self, authorities: tuple[Certificate, ...]) -> bool:
        """Whether one of ``authorities`` signed this certificate directly (its issuer and its signature)."""
        for authority in authorities:
            try:
                self._parsed.verify_directly_issued_by(authority._parsed)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return True
        return False


def load_certificates(data: bytes) -> tuple[Certificate, ...]:
    """Every certificate of a PEM file (a bundle may hold several), or the one of a DER file; ``ValueError`` when
    there is none."""
    if b"-----BEGIN" in data:
        found = tuple(Certificate.of(c) for c in x509.load_pem_x509_certificates(data))
    else:
        found = (Certificate.of(x509.load_der_x509_certificate(data)),)
    if not found:
        raise ValueError("no certificate")
    return found


def forwarded_certificate(header: str) -> Certificate | None:
    """The certificate a TLS-terminating proxy forwards as URL-escaped PEM (nginx's ``$ssl_client_escaped_cert``);
    None when the header is empty or holds no certificate."""
    text = unquote(header.strip())
    if "-----BEGIN CERTIFICATE-----" not in text:
        return None
    try:
        certificates = load_certificates(text.encode("ascii", "replace"))
    except ValueError:
        return None
    return certificates[0]
