"""The request events (gateway.app.observation), the metrics that count them and the readiness checks
(gateway.adapters.observe), on plain values: no server, no scrape over HTTP."""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

import pytest

from gateway.adapters.observe.http import ObservedRequests, Probes, Readiness, database_check
from gateway.adapters.observe.metrics import Metrics
from gateway.app.observation import ObservedProvider, Observers, Outcome, RequestEvent, RequestNote, note_of
from gateway.domain.access import Flow
from gateway.domain.directory import Detail, Ok, PersonOutcome, Severity, Status, Summary
from gateway.domain.results import OperationResult
from gateway.errors import FailedAuthentication, NonceReplayed, ProviderError, SchemaViolation, StorageError


def _refused(ssin: str, reason: str) -> PersonOutcome:
    return PersonOutcome(ssin, Status.REFUSED, (Detail(Severity.ERROR, reason, "no"),))


def test_an_answer_with_one_person_refused_is_a_warning_with_that_reason() -> None:
    note = RequestNote(front="repertorium")
    result = OperationResult(
        "KSZGW-1",
        Summary(Ok.WARNING, 1),
        (
            PersonOutcome("85073003328", Status.INTEGRATED, (Detail(Severity.WARNING, "ATTESTATION_AT_RISK", "w"),)),
            _refused("90010100123", "INVALID_SSIN"),
        ),
    )
    note.answered_with(result)
    event = note.event(200, 0.01)
    assert (event.outcome, event.ticket) == (Outcome.WARNING, "KSZGW-1")
    assert event.reasons == ("ATTESTATION_AT_RISK", "INVALID_SSIN")
    assert event.refusals == ("INVALID_SSIN",)


def test_a_failed_authentication_is_told_by_kind_not_as_a_refusal() -> None:
    note = RequestNote(front="connector")
    note.failed(NonceReplayed("nonce used before"))
    event = note.event(500, 0.0)
    assert (event.outcome, event.auth_failure, event.refusals) == (Outcome.AUTH_FAILED, "nonce_replayed", ())


def test_a_database_failure_is_told_by_the_drivers_error_class() -> None:
    note = RequestNote(front="repertorium")
    try:
        raise StorageError("the directory is unavailable") from sqlite3.OperationalError("disk I/O error")
    except StorageError as error:
        note.failed(error, "incident-1")
    event = note.event(500, 0.0)
    assert (event.outcome, event.database_error, event.incident) == (Outcome.FAULT, "OperationalError", "incident-1")


def test_an_http_error_nobody_explained_is_a_fault_named_by_its_status() -> None:
    event = RequestNote(front="repertorium").event(404, 0.0)
    assert (event.outcome, event.refusals) == (Outcome.FAULT, ("HTTP_404",))
    assert RequestNote(front="console").event(303, 0.0).outcome is Outcome.OK


def _sample(metrics: Metrics, name: str, labels: dict[str, str]) -> float:
    text = metrics.render().decode()
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(name + "{"):
            inside = line[len(name) + 1 : line.index("}")]
            if ",".join(sorted(inside.split(","))) == wanted:
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_refusals_latency_and_authentication_failures() -> None:
    metrics = Metrics()
    refused = RequestNote(front="repertorium", operation="Integrate")
    refused.failed(SchemaViolation("bad"))
    metrics.request(refused.event(500, 0.2))
    failed = RequestNote(front="repertorium", operation="Consult")
    failed.failed(FailedAuthentication("unknown institution"))
    metrics.request(failed.event(500, 0.01))
    assert (
        _sample(
            metrics,
            "ksz_gateway_requests_total",
            {"front": "repertorium", "operation": "Integrate", "outcome": "fault"},
        )
        == 1
    )
    assert (
        _sample(
            metrics,
            "ksz_gateway_refusals_total",
            {"front": "repertorium", "operation": "Integrate", "reason": "SCHEMA_VIOLATION"},
        )
        == 1
    )
    assert (
        _sample(metrics, "ksz_gateway_auth_failures_total", {"front": "repertorium", "kind": "failed_authentication"})
        == 1
    )
    assert (
        _sample(
            metrics, "ksz_gateway_request_duration_seconds_count", {"front": "repertorium", "operation": "Integrate"}
        )
        == 1
    )


def test_the_directory_is_counted_at_most_once_per_interval() -> None:
    counted: list[int] = []
    now = [100.0]

    def size() -> int:
        counted.append(1)
        return 1000 + len(counted)

    metrics = Metrics(directory_size=size, gauge_seconds=30, clock=lambda: now[0])
    metrics.render()
    now[0] += 29
    assert "ksz_gateway_directory_integrations 1001.0" in metrics.render().decode()
    now[0] += 2
    assert "ksz_gateway_directory_integrations 1002.0" in metrics.render().decode()
    assert len(counted) == 2


def test_a_directory_that_cannot_be_counted_is_a_database_error() -> None:
    def size() -> int:
        raise StorageError("gone") from sqlite3.DatabaseError("file is not a database")

    metrics = Metrics(directory_size=size)
    assert _sample(metrics, "ksz_gateway_database_errors_total", {"kind": "DatabaseError"}) == 1


def test_provider_calls_are_counted_by_flow_and_outcome() -> None:
    metrics = Metrics()
    flow = Flow("F1", "rule", (), (), provider_url="http://127.0.0.1:9/")
    ObservedProvider(lambda f, p, t: b"<ok/>", Observers(metrics))(flow, None, "T")

    def refusing(f: Flow, p: bytes | None, t: str) -> bytes | None:
        raise ProviderError("the provider could not be reached")

    with pytest.raises(ProviderError):
        ObservedProvider(refusing, metrics)(flow, None, "T")
    assert _sample(metrics, "ksz_gateway_provider_calls_total", {"flow": "F1", "outcome": "ok"}) == 1
    assert _sample(metrics, "ksz_gateway_provider_calls_total", {"flow": "F1", "outcome": "failed"}) == 1


class _Heard:
    def __init__(self) -> None:
        self.kinds: list[str] = []

    def request(self, event: RequestEvent) -> None: ...

    def provider_call(self, flow: str, outcome: str) -> None: ...

    def database_error(self, kind: str) -> None:
        self.kinds.append(kind)


def test_ready_says_why_not_when_the_database_fails_or_is_behind() -> None:
    def broken() -> int:
        raise StorageError("the SQLite directory /secret/path failed") from sqlite3.DatabaseError("not a db")

    heard = _Heard()
    reason = Readiness([database_check(broken, 3, heard)]).check()
    assert reason == "the database does not answer (DatabaseError)"
    assert heard.kinds == ["DatabaseError"]
    assert "schema is at version 2" in str(Readiness([database_check(lambda: 2, 3)]).check())
    assert Readiness([database_check(lambda: 3, 3)]).check() is None


def test_a_database_that_hangs_holds_one_check_never_a_thread_per_probe() -> None:
    release = threading.Event()

    def hanging() -> int:
        release.wait(30)
        return 3

    readiness = Readiness([database_check(hanging, 3)], timeout=0.1)
    assert "did not finish within 0.1 s" in str(readiness.check())
    assert readiness.check() == "the previous readiness check is still waiting for the database"
    release.set()
    answers = set()
    for _ in range(3000):  # the released check ends, and frees the way for the next one
        answer = readiness.check()
        answers.add(answer)
        if answer is None:
            break
        time.sleep(0.01)
    assert None in answers


def _environ(method: str, path: str) -> dict[str, object]:
    return {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "REMOTE_ADDR": "127.0.0.1"}


class _Recorder(_Heard):
    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.events: list[RequestEvent] = []
        self._fail = fail

    def request(self, event: RequestEvent) -> None:
        if self._fail:
            raise RuntimeError("the observer broke")
        self.events.append(event)


def _answer(environ: dict[str, object], start_response: Any) -> list[bytes]:
    note_of(environ).operation = "Consult"
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]


def test_every_request_is_told_once_with_its_status_and_what_the_front_noted() -> None:
    heard = _Recorder()
    app = ObservedRequests(_answer, heard, lambda path: "repertorium")
    statuses: list[str] = []
    assert list(app(_environ("POST", "/soap/repertorium"), lambda s, h: statuses.append(s))) == [b"ok"]
    [event] = heard.events
    assert (event.front, event.operation, event.status, event.outcome) == ("repertorium", "Consult", 200, Outcome.OK)


def test_an_observer_that_fails_never_fails_the_request(caplog: pytest.LogCaptureFixture) -> None:
    app = ObservedRequests(_answer, _Recorder(fail=True), lambda path: "repertorium")
    assert list(app(_environ("POST", "/soap/repertorium"), lambda s, h: None)) == [b"ok"]
    assert "the observer failed" in caplog.text


def test_the_probes_answer_without_being_told_and_refuse_other_methods() -> None:
    heard = _Recorder()
    probes = Probes(
        _answer,
        readiness=Readiness([]),
        metrics=lambda: b"# nothing\n",
        metrics_content_type="text/plain",
        metrics_token=b"t0ken",
    )
    app = ObservedRequests(probes, heard, lambda path: "repertorium")
    statuses: list[str] = []

    def call(method: str, path: str, **extra: str) -> bytes:
        return b"".join(app({**_environ(method, path), **extra}, lambda s, h: statuses.append(s)))

    assert call("GET", "/health") == b'{"status": "ok"}'
    assert call("GET", "/ready") == b'{"status": "ok"}'
    assert call("POST", "/health") and statuses[-1].startswith("405")
    assert call("GET", "/metrics") and statuses[-1].startswith("401")
    assert call("GET", "/metrics", HTTP_AUTHORIZATION="Bearer t0ken") == b"# nothing\n"
    assert heard.events == []
    call("GET", "/soap/repertorium")
    assert len(heard.events) == 1
