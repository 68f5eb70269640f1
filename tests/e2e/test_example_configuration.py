"""The example configuration file of the repository (examples/gateway.toml) starts a working gateway: served as
it stands, with only the port and the database moved by KSZ_GATEWAY_* variables, an institution added with the
same file, and a signed Consult made with the client library."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from tls_gateway import cli, client_context, free_port, launch, stop

from gateway.app.exchange import brussels_today
from gateway.client import RepertoriumClient

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "gateway.toml"
INSTITUTION = "0312345938"
PERSON = "85073003328"


def test_the_example_configuration_is_valid() -> None:
    checked = cli("config", "check", str(EXAMPLE))
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr == ""
    assert checked.stdout.splitlines()[-1] == f"{EXAMPLE}: serve would start with these settings."


def test_the_example_configuration_starts_a_working_gateway(
    new_database: Callable[[], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    db = new_database()
    environment = {"KSZ_GATEWAY_PORT": str(port), "KSZ_GATEWAY_DB": db}
    for name, value in environment.items():
        monkeypatch.setenv(name, value)  # for the institutions command below, and the server
    gateway = launch(["serve", "--config", str(EXAMPLE)], tmp_path, port, db=db, env=environment)
    try:
        added = cli("institutions", "add", INSTITUTION, "OCMW Configured", "17", "--config", str(EXAMPLE))
        assert added.returncode == 0, added.stderr
        found = re.search(r"Its secret, shown only now: (\S+)", added.stdout)
        assert found is not None, added.stdout
        endpoint = f"http://127.0.0.1:{port}/soap/repertorium"
        with RepertoriumClient(endpoint, INSTITUTION, found.group(1), timeout=30) as client:
            today = brussels_today()
            assert client.integrate([PERSON], code=1, start=today).ok == "YES"
            answer = client.consult(PERSON, today)
        assert answer.ok == "YES"
        assert [(i.institution.id, i.code, i.period.start) for i in answer.integrations] == [(INSTITUTION, 1, today)]
        log = gateway.output()
        assert f"Configuration: {EXAMPLE}" in log
        assert "with 2 worker process(es) of 8 threads" in log  # the file's, not serve's defaults
    finally:
        stop(gateway)


def test_the_example_serves_https_itself_with_a_certificate_and_key_set_by_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    certs = tmp_path / "certs"
    assert cli("certificates", "demo", "--out", str(certs)).returncode == 0
    port = free_port()
    environment = {
        "KSZ_GATEWAY_PORT": str(port),
        "KSZ_GATEWAY_DB": str(tmp_path / "directory.db"),
        "KSZ_GATEWAY_CERTFILE": str(certs / "server.pem"),
        "KSZ_GATEWAY_KEYFILE": str(certs / "server.key"),
    }
    gateway = launch(["serve", "--config", str(EXAMPLE)], tmp_path, port, env=environment, https=True)
    try:
        url = f"https://127.0.0.1:{port}/soap/repertorium?wsdl"
        with urllib.request.urlopen(url, context=client_context(certs / "ca.pem"), timeout=30) as answer:
            assert f'location="https://127.0.0.1:{port}/soap/repertorium"' in answer.read().decode()
    finally:
        stop(gateway)
