"""Certificates as the gateway names them (gateway.contract.certificates): fingerprints in both spellings, PEM
bundles and the URL-escaped PEM a proxy forwards, validity and the issuing CA."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from gateway.contract.certificates import (
    forwarded_certificate,
    load_certificates,
    normalize_fingerprint,
    openssl_fingerprint,
)
from gateway.tools.demo_certificates import DemoHolder, write_demo_certificates

HOLDER = DemoHolder("0212345668", "OCMW Demostad")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    write_demo_certificates(folder, [HOLDER])
    return folder


def test_the_fingerprint_is_the_sha256_of_the_der_form_written_as_openssl_writes_it(demo: Path) -> None:
    certificate = load_certificates((demo / f"{HOLDER.id}.pem").read_bytes())[0]
    assert certificate.fingerprint == hashlib.sha256(certificate.der).hexdigest()
    shown = openssl_fingerprint(certificate.fingerprint)
    assert len(shown) == 95 and shown.count(":") == 31 and shown == shown.upper()
    typings = (shown, f"sha256 Fingerprint={shown}", certificate.fingerprint.upper(), f" {certificate.fingerprint} ")
    for typed in typings:
        assert normalize_fingerprint(typed) == certificate.fingerprint
    assert normalize_fingerprint("AB:CD") is None
    assert normalize_fingerprint("z" * 64) is None


def test_the_demo_certificates_name_their_holders_and_are_the_demo_cas(demo: Path) -> None:
    (ca,) = load_certificates((demo / "ca.pem").read_bytes())
    client = load_certificates((demo / f"{HOLDER.id}.pem").read_bytes())[0]
    server = load_certificates((demo / "server.pem").read_bytes())[0]
    assert "0212345668" in client.subject and "OCMW Demostad" in client.subject
    assert client.issued_by_one_of((ca,)) and server.issued_by_one_of((ca,))
    assert not ca.issued_by_one_of((client,))
    assert client.valid_at(datetime.now(UTC))
    assert not client.valid_at(datetime.now(UTC) + timedelta(days=3700))
    assert ((demo / f"{HOLDER.id}.key").stat().st_mode & 0o777) == 0o600


def test_a_bundle_gives_every_certificate_and_a_file_without_one_is_refused(demo: Path) -> None:
    bundle = (demo / "ca.pem").read_bytes() + (demo / "server.pem").read_bytes()
    assert len(load_certificates(bundle)) == 2
    with pytest.raises(ValueError):
        load_certificates(b"not a certificate")


def test_a_forwarded_certificate_is_read_from_url_escaped_pem(demo: Path) -> None:
    pem = (demo / f"{HOLDER.id}.pem").read_text()
    read = forwarded_certificate(quote(pem, safe=""))
    assert read is not None and read.fingerprint == load_certificates(pem.encode())[0].fingerprint
    assert forwarded_certificate("") is None
    assert forwarded_certificate("-") is None
    assert forwarded_certificate(quote("-----BEGIN CERTIFICATE-----\nbm9wZQ==\n-----END CERTIFICATE-----\n")) is None
