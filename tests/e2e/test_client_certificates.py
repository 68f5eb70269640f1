"""Client certificates end to end: ``serve --certfile --keyfile --client-ca`` over real HTTPS with the demo
certificates (``certificates demo``, ``institutions add-certificate``), both fronts, and the certificate a trusted
reverse proxy forwards in ``X-SSL-Client-Cert``.

The messages are posted exactly as OCMW software posts them (an escaped ``xmlString``, no Header content, a
quoted SOAPAction, ``SOAP-ENV`` prefixes): the certificate is the only credential. Every SSDNReply is checked
against the network's schemas.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from connector_wire import Answer, envelope, post, token
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from legacy_front import Answer as Reply
from network_schemas import network_schemas
from ssdn_documents import Proof, Request, Sender, manage_access
from tls_gateway import Gateway, cli, client_context, start, stop

from gateway.client import AuthenticationFailed, InvalidRequest, LegacyClient, TransportError
from gateway.domain.manage_access import Register, Registration
from gateway.domain.periods import Period

OCMW_A, OCMW_B, FAMILY, EMPLOYMENT = "0212345668", "0212345767", "0212345866", "0212345965"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
REP = "urn:ksz-gateway:repertorium:v1"
SIS = Proof(sis_card="1234567890")
README = Path(__file__).resolve().parents[2] / "README.md"


@dataclass(frozen=True)
class Demo:
    folder: Path
    other: Path  # a second demo CA and its certificates: not the gateway's

    def cert(self, who: str) -> tuple[Path, Path]:
        return self.folder / f"{who}.pem", self.folder / f"{who}.key"

    @property
    def ca(self) -> Path:
        return self.folder / "ca.pem"


def _expired(folder: Path) -> None:
    """An expired client certificate of OCMW Demostad, signed by the demo CA itself."""
    ca = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "OCMW Demostad (expired)")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=400))
        .not_valid_after(now - timedelta(days=30))
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    (folder / "expired.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "expired.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    folder, other = tmp_path_factory.mktemp("demo-certs"), tmp_path_factory.mktemp("other-ca")
    for target in (folder, other):
        made = cli("certificates", "demo", "--out", str(target))
        assert made.returncode == 0, made.stderr
    _expired(folder)
    return Demo(folder, other)


def _register(db: str, demo: Demo) -> None:
    for who, path in (
        (OCMW_A, demo.cert(OCMW_A)[0]),
        (FAMILY, demo.cert(FAMILY)[0]),
        (EMPLOYMENT, demo.cert(EMPLOYMENT)[0]),
        (OCMW_A, demo.folder / "expired.pem"),
    ):
        done = cli("institutions", "add-certificate", who, str(path), "--db", db)
        assert done.returncode == 0, done.stderr
        assert "sha256 Fingerprint=" in done.stdout


@pytest.fixture(scope="module")
def https(new_database: Callable[[], str], demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """HTTPS with client certificates optional and verified against the demo CA, two workers."""
    db = new_database()
    assert cli("db", "upgrade", "--db", db).returncode == 0
    folder = tmp_path_factory.mktemp("https")
    server = start(
        db,
        folder,
        "--certfile",
        str(demo.folder / "server.pem"),
        "--keyfile",
        str(demo.folder / "server.key"),
        "--client-ca",
        str(demo.ca),
        "--workers",
        "2",
    )
    try:
        _register(db, demo)  # after the start: serve --demo enables the demo institutions, the store is shared
        disabled = cli("institutions", "disable", EMPLOYMENT, "--db", db)
        assert disabled.returncode == 0, disabled.stderr
        yield server
    finally:
        stop(server)


def send(server: Gateway, demo: Demo, document: str, who: str | None = OCMW_A, **options: object) -> Answer:
    context = client_context(demo.ca, *demo.cert(who)) if who else client_context(demo.ca)
    answer = post(server.host, server.port, envelope(document), context=context, **options)  # type: ignore[arg-type]
    if not answer.is_fault:
        assert answer.status == 200
        network_schemas().assert_valid(answer.document)
    return answer


def reply(answer: Answer) -> Reply:
    assert not answer.is_fault, answer.data
    return Reply(answer.document)


# -- what such software posts, over HTTPS, with the demo certificate as the only credential ---------------------


def test_register_with_and_without_end_date(https: Gateway, demo: Demo, ssin: Callable[[], str]) -> None:
    person, other = ssin(), ssin()
    bounded = reply(send(https, demo, manage_access(Request("REGISTER", ssin=person, end="2015-02-28", proof=SIS))))
    assert (bounded.ok, bounded.service_ok(), bounded.registrations()) == (
        "YES",
        "YES",
        [("1", "2015-01-10+01:00", "2015-02-28+01:00", OCMW_A, "SECONDARY")],
    )
    open_end = reply(send(https, demo, manage_access(Request("REGISTER", ssin=other, proof=SIS))))
    assert open_end.registrations() == [("1", "2015-01-10+01:00", "2015-03-09+01:00", OCMW_A, "SECONDARY")]
    assert len(open_end.ticket) <= 36


def test_unregister_that_splits_a_period_and_from_a_day_on(https: Gateway, demo: Demo, ssin: Callable[[], str]) -> None:
    person = ssin()
    send(https, demo, manage_access(Request("REGISTER", ssin=person, start="2014-12-01", end="2015-01-31", proof=SIS)))
    split = reply(
        send(
            https,
            demo,
            manage_access(Request("UNREGISTER", ssin=person, start="2015-01-01", end="2015-01-14", proof=SIS)),
        )
    )
    assert (split.service_ok(), split.registrations()) == ("YES", [])
    secondary = Request(
        "LIST", ssin=person, purpose=None, start="2014-12-01", query_register="SECONDARY", proof=Proof()
    )
    assert reply(send(https, demo, manage_access(secondary))).registrations() == [
        ("1", "2014-12-01+01:00", "2014-12-31+01:00", OCMW_A, "SECONDARY"),
        ("1", "2015-01-15+01:00", "2015-01-31+01:00", OCMW_A, "SECONDARY"),
    ]
    onwards = reply(send(https, demo, manage_access(Request("UNREGISTER", ssin=person, start="2014-12-20", proof=SIS))))
    assert onwards.service_ok() == "YES"
    assert reply(send(https, demo, manage_access(secondary))).registrations() == [
        ("1", "2014-12-01+01:00", "2014-12-19+01:00", OCMW_A, "SECONDARY"),
    ]


def test_list_with_each_register_and_with_a_purpose(https: Gateway, demo: Demo, ssin: Callable[[], str]) -> None:
    person = ssin()
    send(https, demo, manage_access(Request("REGISTER", ssin=person, end="2015-01-31", proof=SIS)))
    send(https, demo, manage_access(Request("REGISTER", ssin=person, purpose="2", end="2015-06-30", proof=SIS)))
    family = manage_access(
        Request("REGISTER", ssin=person, end="2015-12-31", sector="7", proof=SIS),
        sender=Sender(org_unit=FAMILY, matrix_id="7", matrix_sub_id=None),
    )
    assert reply(send(https, demo, family, who=FAMILY)).ok == "YES"

    def listed(**fields: str | None) -> list[tuple[str, str, str | None, str, str]]:
        request = Request("LIST", ssin=person, proof=Proof(), **{"purpose": None, **fields})  # type: ignore[arg-type]
        return reply(send(https, demo, manage_access(request))).registrations()

    assert listed(query_register="PRIMARY") == [
        ("1", "2015-01-10+01:00", "2015-12-31+01:00", "7", "PRIMARY"),
        ("1", "2015-01-10+01:00", "2015-01-31+01:00", "17", "PRIMARY"),
        ("2", "2015-01-10+01:00", "2015-06-30+02:00", "17", "PRIMARY"),
    ]
    assert listed(query_register="SECONDARY") == [
        ("1", "2015-01-10+01:00", "2015-01-31+01:00", OCMW_A, "SECONDARY"),
        ("2", "2015-01-10+01:00", "2015-06-30+02:00", OCMW_A, "SECONDARY"),
    ]
    assert len(listed(query_register="ALL")) == 5
    assert listed(query_register="ALL", purpose="2") == [
        ("2", "2015-01-10+01:00", "2015-06-30+02:00", "17", "PRIMARY"),
        ("2", "2015-01-10+01:00", "2015-06-30+02:00", OCMW_A, "SECONDARY"),
    ]
    assert listed(query_register="SECONDARY", sector="7") == [
        ("1", "2015-01-10+01:00", "2015-12-31+01:00", FAMILY, "SECONDARY"),
    ]


@pytest.mark.parametrize(
    ("request_", "sender", "code"),
    [
        (Request("REGISTER", proof=SIS), Sender(org_unit=OCMW_B), "39100001"),
        (Request("REGISTER", proof=SIS), Sender(matrix_id="7"), "39100002"),
        (Request("REGISTER", purpose=None, proof=SIS), Sender(), "31000007"),
        (Request("REGISTER", proof=Proof()), Sender(), "39100003"),
        (Request("REGISTER", proof=Proof(last_name="X", birth_date="1901-01-01")), Sender(), "39100005"),
        (Request("REGISTER", purpose="+1", proof=SIS), Sender(), "39200003"),
    ],
    ids=[
        "OrgUnit of another",
        "MatrixID of another",
        "no Purpose",
        "empty proof",
        "contradicting proof",
        "schema-invalid",
    ],
)
def test_what_the_contract_refuses_is_an_ssdn_reply_and_nothing_applied(
    https: Gateway, demo: Demo, ssin: Callable[[], str], request_: Request, sender: Sender, code: str
) -> None:
    person = ssin()
    refused = reply(send(https, demo, manage_access(replace(request_, ssin=person), sender=sender)))
    assert (refused.ok, refused.service_ok(), refused.codes()) == ("NO", "NO", [code])
    assert not refused.has_body()
    listed = Request("LIST", ssin=person, purpose=None, proof=Proof())
    assert reply(send(https, demo, manage_access(listed))).registrations() == []


# -- who may call --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", [OCMW_B, EMPLOYMENT], ids=["not registered", "of a disabled institution"])
def test_a_certificate_that_proves_no_enabled_institution_is_refused_like_a_wrong_secret(
    https: Gateway, demo: Demo, who: str
) -> None:
    answer = send(https, demo, manage_access(Request("LIST")), who=who)
    assert answer.is_fault and answer.status == 500
    assert answer.faultcode == "wsse:FailedAuthentication"
    assert answer.fault_reason == "FAILED_AUTHENTICATION"


@pytest.mark.parametrize("which", ["expired", "other CA"])
def test_an_expired_certificate_or_one_of_another_ca_is_refused_in_the_handshake(
    https: Gateway, demo: Demo, which: str
) -> None:
    folder = demo.folder if which == "expired" else demo.other
    name = "expired" if which == "expired" else OCMW_A
    context = client_context(demo.ca, folder / f"{name}.pem", folder / f"{name}.key")
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        post(https.host, https.port, envelope(manage_access(Request("LIST"))), context=context)


def test_without_certificate_or_token_the_caller_gets_an_authentication_fault(https: Gateway, demo: Demo) -> None:
    answer = send(https, demo, manage_access(Request("LIST")), who=None)
    assert answer.is_fault and answer.faultcode == "wsse:InvalidSecurity"


def test_the_username_token_keeps_working_over_https_on_both_fronts(https: Gateway, demo: Demo) -> None:
    answer = post(
        https.host,
        https.port,
        envelope(manage_access(Request("LIST")), header=token()),
        context=client_context(demo.ca),
    )
    assert Reply(answer.document).ok == "YES"
    v1 = _v1(https, demo, None, header=token().replace("SOAP-ENV:mustUnderstand", "soapenv:mustUnderstand"))
    assert v1.find(f".//{{{REP}}}ResultSummary").get("ok") == "YES"


def _v1(server: Gateway, demo: Demo, who: str | None, header: str = "") -> object:
    import http.client

    from lxml import etree

    body = (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:rep="{REP}"><soapenv:Header>{header}</soapenv:Header>'
        "<soapenv:Body><rep:ConsultRequest><rep:SSIN>68060105329</rep:SSIN><rep:Period>"
        "<rep:StartDate>2015-01-01</rep:StartDate></rep:Period></rep:ConsultRequest></soapenv:Body></soapenv:Envelope>"
    ).encode()
    context = client_context(demo.ca, *demo.cert(who)) if who else client_context(demo.ca)
    connection = http.client.HTTPSConnection(server.host, server.port, timeout=60, context=context)
    try:
        connection.request(
            "POST",
            "/soap/repertorium",
            body=body,
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{REP}/Consult"'},
        )
        return etree.fromstring(connection.getresponse().read())
    finally:
        connection.close()


def test_the_v1_front_takes_the_certificate_too(https: Gateway, demo: Demo) -> None:
    answer = _v1(https, demo, OCMW_A)
    assert answer.find(f".//{{{REP}}}ResultSummary").get("ok") == "YES"  # type: ignore[attr-defined]
    refused = _v1(https, demo, OCMW_B)
    assert refused.findtext(".//faultcode") == "wsse:FailedAuthentication"  # type: ignore[attr-defined]


# -- a reverse proxy that terminates TLS and forwards the certificate -------------------------------------------


@pytest.fixture(scope="module")
def behind_proxy(
    new_database: Callable[[], str], demo: Demo, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """Plain HTTP on loopback; 127.0.0.1 is the trusted proxy, whose forwarded certificates must be the demo CA's."""
    db = new_database()
    assert cli("db", "upgrade", "--db", db).returncode == 0
    server = start(
        db,
        tmp_path_factory.mktemp("proxied"),
        "--forwarded-allow-ips",
        "127.0.0.1",
        "--client-ca",
        str(demo.ca),
        https=False,
    )
    try:
        _register(db, demo)
        assert cli("institutions", "disable", EMPLOYMENT, "--db", db).returncode == 0
        yield server
    finally:
        stop(server)


@pytest.fixture(scope="module")
def untrusting(
    new_database: Callable[[], str], demo: Demo, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """Plain HTTP whose only trusted proxy is elsewhere: a header from 127.0.0.1 is forged."""
    db = new_database()
    assert cli("db", "upgrade", "--db", db).returncode == 0
    server = start(db, tmp_path_factory.mktemp("untrusting"), "--forwarded-allow-ips", "10.9.9.9", https=False)
    try:
        _register(db, demo)
        yield server
    finally:
        stop(server)


def forwarded(path: Path) -> dict[str, str]:
    """The header nginx sets from ``$ssl_client_escaped_cert``: the PEM, URL-escaped."""
    return {"X-SSL-Client-Cert": quote(path.read_text(), safe="")}


def test_a_trusted_proxys_forwarded_certificate_authenticates(behind_proxy: Gateway, demo: Demo) -> None:
    answer = post(
        behind_proxy.host,
        behind_proxy.port,
        envelope(manage_access(Request("LIST"))),
        headers=forwarded(demo.cert(OCMW_A)[0]),
    )
    assert Reply(answer.document).ok == "YES"
    network_schemas().assert_valid(answer.document)


@pytest.mark.parametrize("which", ["unregistered", "of a disabled institution", "expired", "other CA", "garbage"])
def test_a_forwarded_certificate_that_cannot_count_is_refused_like_a_wrong_secret(
    behind_proxy: Gateway, demo: Demo, which: str
) -> None:
    headers = {
        "unregistered": lambda: forwarded(demo.cert(OCMW_B)[0]),
        "of a disabled institution": lambda: forwarded(demo.cert(EMPLOYMENT)[0]),
        "expired": lambda: forwarded(demo.folder / "expired.pem"),
        "other CA": lambda: forwarded(demo.other / f"{OCMW_A}.pem"),
        "garbage": lambda: {
            "X-SSL-Client-Cert": quote("-----BEGIN CERTIFICATE-----\nbm9wZQ==\n-----END CERTIFICATE-----")
        },
    }[which]()
    answer = post(behind_proxy.host, behind_proxy.port, envelope(manage_access(Request("LIST"))), headers=headers)
    assert answer.is_fault and answer.faultcode == "wsse:FailedAuthentication"


def test_a_forged_header_from_an_untrusted_address_is_ignored(untrusting: Gateway, demo: Demo) -> None:
    forged = forwarded(demo.cert(OCMW_A)[0])
    alone = post(untrusting.host, untrusting.port, envelope(manage_access(Request("LIST"))), headers=forged)
    assert alone.is_fault and alone.faultcode == "wsse:InvalidSecurity"  # as if no certificate came
    as_b = token(OCMW_B, "demo-ocmw-b")
    answer = post(
        untrusting.host, untrusting.port, envelope(manage_access(Request("LIST")), header=as_b), headers=forged
    )
    assert (
        Reply(answer.document).ok == "NO"
    )  # the token's institution acts: OCMW B, whose OrgUnit is not the document's
    assert Reply(answer.document).codes() == ["39100001"]


# -- the client library's LegacyClient, for testing old integrations ----------------------------------------------


def _legacy(server: Gateway, demo: Demo, who: str | None = OCMW_A, **options: object) -> LegacyClient:
    url = f"https://{server.host}:{server.port}/connectors/webservice/KSZBCSSWebServiceConnectorPort"
    cert = None if who is None else tuple(str(p) for p in demo.cert(who))
    return LegacyClient(url, OCMW_A, cert=cert, ca=str(demo.ca), **options)  # type: ignore[arg-type]


def test_the_legacy_client_registers_lists_and_unregisters_with_its_certificate(
    https: Gateway, demo: Demo, ssin: Callable[[], str]
) -> None:
    person = ssin()
    with _legacy(https, demo) as client:
        registered = client.register(person, 1, date(2015, 1, 10), date(2015, 1, 31), sis_card="1234567890")
        assert (registered.ok, registered.return_code, len(registered.ticket) <= 36) == ("YES", "0", True)
        assert registered.services[0].registrations == (
            Registration(1, Period(date(2015, 1, 10), date(2015, 1, 31)), OCMW_A, Register.SECONDARY),
        )
        listed = client.list(person, date(2015, 1, 1), register="PRIMARY")
        assert [(r.org_unit, str(r.period)) for r in listed.services[0].registrations or ()] == [
            ("17", "2015-01-10/2015-01-31")
        ]
        refused = client.register(person, 1, date(2015, 2, 1))
        assert refused.ok == "NO" and refused.services[0].details[0].code == "39100003"
        assert refused.services[0].details[0].reason == "PROOF_MISSING"
        assert refused.services[0].registrations is None
        removed = client.unregister(person, 1, date(2015, 1, 20), person=("X", "", "19" + person[:2] + "-00-00"))
        assert removed.ok == "YES"
        assert network_schemas().errors(removed.text.encode()) == []


def test_the_legacy_client_sends_cdata_or_a_username_token(https: Gateway, demo: Demo) -> None:
    token_only = _legacy(https, demo, None, username_token=(OCMW_A, "demo-ocmw-a"), cdata=True)
    with token_only as client:
        assert client.list("68060105329", date(2015, 1, 1)).ok == "YES"


def test_the_legacy_client_says_which_refusal_it_met(https: Gateway, demo: Demo) -> None:
    with _legacy(https, demo, OCMW_B) as unregistered, pytest.raises(AuthenticationFailed):
        unregistered.list("68060105329", date(2015, 1, 1))
    url = f"https://{https.host}:{https.port}/connectors/webservice/KSZBCSSWebServiceConnectorPort"
    other = (str(demo.other / f"{OCMW_A}.pem"), str(demo.other / f"{OCMW_A}.key"))
    with LegacyClient(url, OCMW_A, cert=other, ca=str(demo.ca)) as foreign, pytest.raises(TransportError):
        foreign.list("68060105329", date(2015, 1, 1))
    with _legacy(https, demo) as client, pytest.raises(InvalidRequest):
        client.list("6806010532X", date(2015, 1, 1))


def test_the_readmes_legacy_client_example_prints_what_it_promises(
    new_database: Callable[[], str],
    demo: Demo,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    section = README.read_text(encoding="utf-8").split("## The legacy front", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    promised = section.split("this prints", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    db = new_database()
    assert cli("db", "upgrade", "--db", db).returncode == 0
    server = start(
        db,
        tmp_path_factory.mktemp("readme"),
        "--certfile",
        str(demo.folder / "server.pem"),
        "--keyfile",
        str(demo.folder / "server.key"),
        "--client-ca",
        str(demo.ca),
    )
    try:
        assert cli("institutions", "add-certificate", OCMW_A, str(demo.cert(OCMW_A)[0]), "--db", db).returncode == 0
        example = code.replace("https://127.0.0.1:8443", f"https://127.0.0.1:{server.port}").replace(
            '"demo-certs/', f'"{demo.folder}/'
        )
        exec(compile(example, "README.md", "exec"), {})
    finally:
        stop(server)
    assert capsys.readouterr().out == promised
