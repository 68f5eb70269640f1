"""Operating the gateway over real HTTP: /health, /ready, the Prometheus metrics (summed over worker processes,
optionally behind a bearer token) and the request log (text, or JSON lines), against ``ksz-gateway serve``.

The log tests read the server's whole output (standard output and error, as an operator's collector would): in
JSON mode every line of it must be one JSON object, and no SSIN or secret the requests carried may be in it.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.entrypoints.cli import main
from gateway.tools.samples import load_manifest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
DEMO_SECRETS = ("demo-ocmw-a", "demo-ocmw-b", "demo-family-c", "demo-employment-d")
REQUEST_FIELDS = {
    "time",
    "level",
    "logger",
    "message",
    "front",
    "operation",
    "outcome",
    "status",
    "duration_ms",
    "institution",
    "ticket",
    "reasons",
}


def get(server: Any, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(f"http://{server.host}:{server.port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def samples_of(text: str) -> dict[tuple[str, ...], float]:
    """Every sample of a Prometheus text exposition: (name, label=value...) -> value."""
    found: dict[tuple[str, ...], float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, value = line.rsplit(" ", 1)
        name, _, labels = head.partition("{")
        pairs = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', labels)))
        found[(name, *(f"{k}={v}" for k, v in pairs))] = float(value)
    return found


def metric(server: Any, name: str, path: str = "/metrics", **labels: str) -> float:
    status, _, body = get(server, path)
    assert status == 200, body
    key = (name, *(f"{k}={v}" for k, v in sorted(labels.items())))
    return samples_of(body.decode()).get(key, 0.0)


# -- probes -------------------------------------------------------------------------------------------------


def test_health_and_ready_answer_small_json_never_cached(gateway: Any) -> None:
    for path in ("/health", "/ready"):
        status, headers, body = get(gateway, path)
        assert (status, json.loads(body)) == (200, {"status": "ok"})
        assert headers["Content-Type"] == "application/json"
        assert headers["Cache-Control"] == "no-store"


def test_ready_is_503_with_a_reason_once_the_database_is_broken(
    launch: Callable[..., Any], engine: str, tmp_path: Path
) -> None:
    """SQLite: the file overwritten with garbage after start; PostgreSQL: the schema's version table dropped."""
    if engine == "sqlite":
        db = tmp_path / "directory.db"
        server = launch(db=str(db))
        assert get(server, "/ready")[0] == 200
        size = db.stat().st_size
        with db.open("r+b") as damaged:
            damaged.write(b"not a database! " * (size // 16))
        kind = "DatabaseError"
    else:
        import psycopg

        server = launch()
        assert get(server, "/ready")[0] == 200
        with psycopg.connect(server.db, autocommit=True) as conn:
            conn.execute("DROP TABLE schema_version")
        kind = "UndefinedTable"
    status, headers, body = get(server, "/ready")
    assert status == 503
    assert json.loads(body) == {"status": "unavailable", "reason": f"the database does not answer ({kind})"}
    assert headers["Cache-Control"] == "no-store"
    assert metric(server, "ksz_gateway_database_errors_total", kind=kind) >= 1
    assert get(server, "/health")[0] == 200, "the process is still alive"


# -- metrics ------------------------------------------------------------------------------------------------


def test_metrics_move_with_integrate_consult_a_refusal_and_an_auth_failure(gateway: Any, wire: Any, soap: Any) -> None:
    def requests(operation: str, outcome: str) -> float:
        return metric(gateway, "ksz_gateway_requests_total", front="repertorium", operation=operation, outcome=outcome)

    before = {
        "integrate": requests("Integrate", "ok"),
        "consult": requests("Consult", "ok"),
        "refused": requests("Integrate", "refused"),
        "auth": metric(gateway, "ksz_gateway_auth_failures_total", front="repertorium", kind="failed_authentication"),
        "reason": metric(
            gateway,
            "ksz_gateway_refusals_total",
            front="repertorium",
            operation="Integrate",
            reason="UNKNOWN_QUALITY_CODE",
        ),
        "latency": metric(
            gateway, "ksz_gateway_request_duration_seconds_count", front="repertorium", operation="Consult"
        ),
    }
    person = soap.new_ssin()
    assert wire.call(soap.change("Integrate", [person], 1, "2015-01-01", "2015-01-31")).ok == "YES"
    assert wire.call(soap.consult(person, "2015-01-01", "2015-01-31")).ok == "YES"
    assert wire.call(soap.change("Integrate", [person], 99, "2015-01-01", "2015-01-31")).ok == "NO"
    assert wire.call(soap.consult(person, "2015-01-01"), secret="wrong").is_fault
    assert requests("Integrate", "ok") == before["integrate"] + 1
    assert requests("Consult", "ok") == before["consult"] + 1
    assert requests("Integrate", "refused") == before["refused"] + 1
    assert (
        metric(gateway, "ksz_gateway_auth_failures_total", front="repertorium", kind="failed_authentication")
        == before["auth"] + 1
    )
    assert (
        metric(
            gateway,
            "ksz_gateway_refusals_total",
            front="repertorium",
            operation="Integrate",
            reason="UNKNOWN_QUALITY_CODE",
        )
        == before["reason"] + 1
    )
    assert (
        metric(gateway, "ksz_gateway_request_duration_seconds_count", front="repertorium", operation="Consult")
        == before["latency"] + 2  # the refused caller's Consult took its time too
    )


def test_the_directory_gauge_follows_the_directory_when_counted_at_every_scrape(
    launch: Callable[..., Any], soap: Any
) -> None:
    server = launch("--directory-gauge-seconds", "0")
    assert metric(server, "ksz_gateway_directory_integrations") == 0
    people = [soap.new_ssin(), soap.new_ssin()]
    status, _, _ = soap.http_post(
        server,
        soap.envelope(soap.change("Integrate", people, 1, "2015-01-01", "2015-01-31")),
        {"Content-Type": "text/xml; charset=utf-8"},
    )
    assert status == 200
    assert metric(server, "ksz_gateway_directory_integrations") == 2


def test_two_workers_are_summed_in_every_scrape(launch: Callable[..., Any], soap: Any) -> None:
    server = launch(workers=2)
    made = 0
    served_by: set[str] = set()
    for _ in range(40):  # new connections, until both workers have answered some (the kernel spreads them)
        for _ in range(10):
            status, _, _ = soap.http_post(
                server, soap.envelope(soap.consult(soap.new_ssin(), "2015-01-01")), {"Content-Type": "text/xml"}
            )
            assert status == 200
            made += 1
        served_by = set(re.findall(r"\[(\d+)\] gateway\.requests POST ", server.log()))
        if len(served_by) >= 2:
            break
    assert len(served_by) == 2, "both workers answered Consults"
    for _ in range(6):  # each scrape is answered by either worker, and each sees both workers' counts
        _, _, body = get(server, "/metrics")
        consults = [
            value
            for key, value in samples_of(body.decode()).items()
            if key[0] == "ksz_gateway_requests_total" and "operation=Consult" in key
        ]
        assert sum(consults) == made


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "metrics.token"
    path.write_text("s3cret-scrape-token\n")
    return path


def test_metrics_behind_a_token_refuse_without_it(launch: Callable[..., Any], token_file: Path) -> None:
    server = launch("--metrics-path", "/ops/metrics", "--metrics-token-file", str(token_file))
    assert get(server, "/ops/metrics")[0] == 401
    assert get(server, "/ops/metrics", {"Authorization": "Bearer wrong"})[0] == 401
    assert get(server, "/ops/metrics", {"Authorization": "Basic s3cret-scrape-token"})[0] == 401
    status, headers, body = get(server, "/ops/metrics", {"Authorization": "Bearer s3cret-scrape-token"})
    assert status == 200 and headers["Cache-Control"] == "no-store"
    assert b"ksz_gateway_requests_total" in body
    assert get(server, "/metrics")[0] == 404, "the default path is not served when another is configured"
    assert get(server, "/health")[0] == 200, "the probes need no token"


# -- the log ------------------------------------------------------------------------------------------------


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = [line for line in text.splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"a line of the JSON log is not JSON: {line[:300]!r}")
    return parsed


@pytest.fixture
def replayed(launch: Callable[..., Any], capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    manifest = load_manifest(SAMPLES)
    assert manifest.day is not None
    server = launch("--today", manifest.day.isoformat(), "--flows", str(SAMPLES / "flows.json"), "--log-format", "json")
    code = main(["replay", str(SAMPLES), "--url", server.endpoint])
    out = capsys.readouterr().out
    assert code == 0, out
    yield server


def test_the_json_log_of_a_sample_replay_has_one_line_per_request_and_no_ssin_or_secret(replayed: Any) -> None:
    text = replayed.log()
    records = _json_lines(text)
    sample_ssins = set()
    for request in SAMPLES.glob("*.request.xml"):
        sample_ssins |= set(re.findall(r"(?<!\d)\d{11}(?!\d)", request.read_text(encoding="utf-8")))
    assert len(sample_ssins) > 5
    leaked = sorted(s for s in sample_ssins if s in text)
    assert not leaked, f"SSINs in clear in the log: {leaked}"
    for secret in (*DEMO_SECRETS, "not-the-secret"):
        assert secret not in text
    posts = [r for r in records if r["logger"] == "gateway.requests" and r.get("method") == "POST"]
    assert len(posts) == len(load_manifest(SAMPLES).samples)
    for record in posts:
        assert set(record) >= REQUEST_FIELDS, record
        assert record["front"] == "repertorium"
    answered = [r for r in posts if r["outcome"] in ("ok", "warning", "refused")]
    assert answered and all(r["ticket"] and r["institution"] for r in answered)
    assert {r["operation"] for r in answered} >= {"Integrate", "Desintegrate", "Consult", "CheckAccess"}
    assert any(r["outcome"] == "auth_failed" and r["auth_failure"] for r in posts)
    assert any(r["reasons"] for r in posts if r["outcome"] == "refused")
    assert all(set(r) >= {"time", "level", "logger", "message"} for r in records)
    assert any(r["logger"] == "gateway.serve" and "Serving the repertorium" in r["message"] for r in records)


def test_a_huge_username_is_logged_bounded(launch: Callable[..., Any], soap: Any) -> None:
    server = launch("--log-format", "json")
    for size in (3_000_000, 1_000_000):  # over the XML text limit; under it, so that authentication reads it
        data = soap.envelope(soap.consult("85073003328", "2015-01-01"), username="A" * size)
        status, _, _ = soap.http_post(server, data, {"Content-Type": "text/xml; charset=utf-8"})
        assert status == 500
    lines = server.log().splitlines()
    assert max(len(line) for line in lines) < 3000
    posts = [r for r in _json_lines(server.log()) if r["logger"] == "gateway.requests" and r["method"] == "POST"]
    assert [r["outcome"] for r in posts] == ["fault", "auth_failed"]
    assert posts[1]["auth_failure"] == "failed_authentication"
    assert "AAAA…(" in posts[1]["message"], "the claimed name is shown, cut"


def test_the_text_log_masks_a_schema_invalid_ssin(launch: Callable[..., Any], soap: Any) -> None:
    server = launch()
    data = soap.envelope(soap.consult(" 90010190193", "2015-01-01"))
    status, _, _ = soap.http_post(server, data, {"Content-Type": "text/xml; charset=utf-8"})
    assert status == 500
    log = server.log()
    assert "90010190193" not in log
    assert "900101*****" in log


def test_the_legacy_connector_is_counted_as_its_own_front(gateway: Any) -> None:
    from connector_wire import envelope, post, token

    def requests(outcome: str) -> float:
        return metric(gateway, "ksz_gateway_requests_total", front="connector", operation="sendXML", outcome=outcome)

    refused, failed = requests("refused"), requests("auth_failed")
    answer = post(gateway.host, gateway.port, envelope("this is no SSDN document", header=token()))
    assert answer.status == 200
    assert post(gateway.host, gateway.port, envelope("<x/>", header=token(secret="wrong"))).status == 500
    assert (requests("refused"), requests("auth_failed")) == (refused + 1, failed + 1)
    auth = metric(gateway, "ksz_gateway_auth_failures_total", front="connector", kind="failed_authentication")
    assert auth >= 1


def test_a_refused_console_login_is_an_authentication_failure_of_the_console(gateway: Any) -> None:
    import http.cookiejar
    import urllib.parse

    def failures() -> float:
        return metric(gateway, "ksz_gateway_auth_failures_total", front="console", kind="failed_authentication")

    before = failures()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    base = f"http://{gateway.host}:{gateway.port}/console"
    with opener.open(f"{base}/login", timeout=30) as page:
        found = re.search(r'name="csrf" value="([^"]*)"', page.read().decode())
    assert found
    form = urllib.parse.urlencode({"csrf": found.group(1), "institution": "85073003328", "secret": "guess"}).encode()
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(f"{base}/login", data=form, timeout=30)
    refused.value.close()
    assert refused.value.code == 403
    assert failures() == before + 1
    assert "85073003328" not in gateway.log(), "a number typed into the login form is masked like an SSIN"
