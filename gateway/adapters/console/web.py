"""The operator console as a WSGI application: the manual's screens as server-rendered pages under ``/console/``.

Invariant: every page but the login page, the stylesheet and the language switch belongs to one logged-in
institution, named only by its signed session (no form or address carries an institution), re-read from the store
on every request, so a disabled institution or a rotated secret ends its sessions at once; every ``POST`` is
refused unless it carries its session's CSRF token, before anything else is read from it; every action on the
directory is a call of a use case (``DirectoryService`` or ``AccessService``) with that institution, audited there
exactly as a SOAP call is, so the console decides nothing of its own; the household typed by the worker and the
days a refused CheckAccess found missing are kept in the session only. Every answer carries a Content-Security-
Policy without scripts, and pages with personal data are never cached.

A login proves an institution by its enterprise number and secret, or by the client certificate that came with
the request (the TLS handshake of the gateway or a trusted proxy's ``X-SSL-Client-Cert``), judged by the SOAP
fronts' own rules (``CertificateLogin``); every refused login is recorded and throttled by the brake every front
shares (``gateway.app.auth_guard``), which refuses a throttled login before its secret or certificate is looked at.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from importlib import resources
from typing import Any, Protocol
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from gateway.adapters.console.forms import MAX_BODY_BYTES, Form, FormError, parse_form
from gateway.adapters.console.i18n import DEFAULT_LANGUAGE, LANGUAGES, Words, code_label
from gateway.adapters.console.sessions import (
    COOKIE_NAME,
    MAX_COOKIE_BYTES,
    Member,
    Missing,
    Revocations,
    Session,
    SessionCodec,
)
from gateway.adapters.console.timeline import Chart, Row, render_png, render_svg, rows_in_order
from gateway.adapters.console.timeline import Words as ChartWords
from gateway.app.access_service import AccessService
from gateway.app.auth_guard import AuthGuard
from gateway.app.directory_service import DirectoryService
from gateway.app.observation import note_of
from gateway.app.ports import InstitutionRecord, Store
from gateway.app.redaction import shown
from gateway.domain.access import AIDS, FlowPerson, FlowRequest, Role
from gateway.domain.directory import DirectoryRequest, Ok
from gateway.domain.identifiers import check_ssin
from gateway.domain.periods import Period, normalize
from gateway.domain.results import ConsultResult
from gateway.errors import AuthenticationError, AuthenticationThrottled, GatewayError

__all__ = ["FRONT", "MAX_MEMBERS", "MAX_NAME_CHARS", "CertificateLogin", "Console"]

HISTORY_START = date(1900, 1, 1)  # a timeline asked for without a period shows every period (no SSIN is older)
MAX_MEMBERS = 12
MAX_NAME_CHARS = 60
DATE_FIELDS = ("ConsultationPeriod", "ValidityPeriod", "DecisionPeriod")
_HTML = "text/html; charset=utf-8"
_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_DUMMY_SECRET = "x" * 43  # compared against when no institution matches, so a refusal takes as long either way

FRONT = "console"  # the front's name in the records of failed authentications

log = logging.getLogger("gateway.adapters.console")
# The operation a console path is, for the request log and the metrics (a bounded set: any other path is "unknown").
_OPERATIONS = {
    "/": "household",
    "/login": "login",
    "/logout": "logout",
    "/integrations": "integrations",
    "/consult": "consult",
    "/timeline": "timeline",
    "/timeline.svg": "timeline",
    "/timeline.png": "timeline",
    "/access": "access",
    "/static/console.css": "static",
}
StartResponse = Callable[..., Any]


class CertificateLogin(Protocol):
    """The client certificate that came with a request, as the SOAP fronts judge it."""

    def fingerprint(self, environ: dict[str, Any]) -> str | None:
        """The SHA-256 fingerprint of the certificate that came, not yet judged; None when none came."""
        ...

    def holder(self, environ: dict[str, Any]) -> InstitutionRecord:
        """The enabled institution the certificate is registered for; ``AuthenticationError`` otherwise."""
        ...


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str  # below the console's mount point: "/", "/login", ...
    base: str  # the mount point as the client reached it, e.g. "/console"
    query: Form
    https: bool
    address: str
    environ: dict[str, Any]


@dataclass
class Response:
    status: str
    body: bytes = b""
    content_type: str = _HTML
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Context:
    """One request being answered: its session as it will be written back, and the logged-in institution."""

    request: Request
    session: Session | None
    words: Words
    record: InstitutionRecord | None = None

    @property
    def lang(self) -> str:
        return self.words.lang


Handler = Callable[[Context], Response]


class Console:
    """``/console/``: login, household, integrations, consultation with its timeline, CheckAccess."""

    def __init__(
        self,
        *,
        store: Store,
        directory: DirectoryService,
        access: AccessService,
        key: bytes,
        guard: AuthGuard | None = None,
        certificates: CertificateLogin | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._directory = directory
        self._access = access
        self._codec = SessionCodec(key)
        self._guard = guard or AuthGuard(store)
        self._certificates = certificates
        self._revoked = Revocations()
        self._clock = clock
        self._templates = Environment(
            loader=PackageLoader("gateway.adapters.console", "templates"),
            autoescape=select_autoescape(("html",)),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._stylesheet = resources.files("gateway.adapters.console").joinpath("static/console.css").read_bytes()
        public: dict[tuple[str, str], Handler] = {
            ("GET", "/login"): self._login_page,
            ("POST", "/login"): self._login,
        }
        private: dict[tuple[str, str], Handler] = {
            ("POST", "/logout"): self._logout,
            ("GET", "/"): self._household_page,
            ("POST", "/"): self._household_change,
            ("GET", "/integrations"): self._integrations_page,
            ("POST", "/integrations"): self._integrations_change,
            ("GET", "/consult"): self._consult_page,
            ("POST", "/consult"): self._consult,
            ("GET", "/timeline"): self._timeline_page,
            ("GET", "/timeline.svg"): self._timeline_svg,
            ("GET", "/timeline.png"): self._timeline_png,
            ("GET", "/access"): self._access_page,
            ("POST", "/access"): self._check_access,
        }
        self._public = public
        self._private = private

    # -- WSGI ----------------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request(
            method=environ.get("REQUEST_METHOD", "GET").upper(),
            path=environ.get("PATH_INFO", "") or "/",
            base=environ.get("SCRIPT_NAME", "").rstrip("/"),
            query=parse_form(environ.get("QUERY_STRING", "")) or Form(),
            https=environ.get("wsgi.url_scheme") == "https",
            address=str(environ.get("REMOTE_ADDR", "")),
            environ=environ,
        )
        now = int(self._clock())
        cookie = _cookie(environ.get("HTTP_COOKIE", ""), COOKIE_NAME)
        session = None if cookie is None else self._codec.decode(cookie, now)
        if session is not None and self._revoked.revoked(session, now):
            session = None
        lang = request.query.one("lang")
        if lang in LANGUAGES:
            session = replace(session, lang=lang) if session is not None else Session.new(now, lang)
        context = Context(request, session, Words(session.lang if session else DEFAULT_LANGUAGE))
        note = note_of(environ)
        note.operation = _OPERATIONS.get(request.path, "unknown")
        try:
            response = self._route(context)
        except Exception:
            incident = uuid.uuid4().hex
            note.incident = incident
            log.exception(
                "console incident %s: unexpected error on %s %s", incident, shown(request.method), shown(request.path)
            )
            response = self._page(
                context,
                "message.html",
                "500 Internal Server Error",
                message=context.words("unavailable", incident=incident),
            )
        headers = [
            ("Content-Type", response.content_type),
            ("Content-Length", str(len(response.body))),
            ("Content-Security-Policy", _CSP),
            ("X-Content-Type-Options", "nosniff"),
            ("X-Frame-Options", "DENY"),
            ("Referrer-Policy", "same-origin"),
            *response.headers,
        ]
        if context.record is not None:
            note.institution = context.record.id
        if not any(name == "Cache-Control" for name, _ in response.headers):
            headers.append(("Cache-Control", "no-store"))
        if context.session is not None:
            headers.append(("Set-Cookie", self._set_cookie(request, self._codec.encode(context.session.touched(now)))))
        elif cookie is not None:
            headers.append(("Set-Cookie", self._set_cookie(request, "", clear=True)))
        start_response(response.status, headers)
        return [] if request.method == "HEAD" else [response.body]

    def _set_cookie(self, request: Request, value: str, *, clear: bool = False) -> str:
        parts = [f"{COOKIE_NAME}={value}", f"Path={request.base}/", "HttpOnly", "SameSite=Strict"]
        if request.https:
            parts.append("Secure")
        if clear:
            parts.append("Max-Age=0")
        return "; ".join(parts)

    def _route(self, context: Context) -> Response:
        request = context.request
        method = "GET" if request.method == "HEAD" else request.method
        if request.path == "/static/console.css" and method == "GET":
            return Response("200 OK", self._stylesheet, "text/css; charset=utf-8", [("Cache-Control", "max-age=3600")])
        key = (method, request.path)
        if key in self._public:
            return self._guarded(context, self._public[key])
        if key in self._private:
            if not self._logged_in(context):
                return _redirect(request, "/login", notice="session_ended" if request.path != "/" else None)
            return self._guarded(context, self._private[key])
        known = {path for _, path in (*self._public, *self._private)}
        if request.path in known:
            allowed = sorted({m for m, path in (*self._public, *self._private) if path == request.path})
            return self._page(
                context,
                "message.html",
                "405 Method Not Allowed",
                message=context.words("not_allowed"),
                extra=[("Allow", ", ".join(allowed))],
            )
        return self._page(context, "message.html", "404 Not Found", message=context.words("not_found"))

    def _guarded(self, context: Context, handler: Handler) -> Response:
        """A POST is read only when it carries its session's CSRF token; a failing directory changes nothing."""
        if context.request.method == "POST":
            form = self._read_body(context.request)
            if form is None:
                return self._page(context, "message.html", "400 Bad Request", message=context.words("bad_form"))
            if context.session is None:
                context.session = Session.new(int(self._clock()), context.lang)
                return self._page(context, "message.html", "400 Bad Request", message=context.words("cookies_needed"))
            if not self._codec.csrf_ok(context.session, form.one("csrf")):
                note_of(context.request.environ).detail = "a form without its session's CSRF token"
                return self._page(context, "message.html", "403 Forbidden", message=context.words("form_expired"))
            context.request.environ["ksz.console.form"] = form
        try:
            return handler(context)
        except GatewayError as error:
            incident = uuid.uuid4().hex
            note_of(context.request.environ).failed(error, incident)
            log.error("console incident %s: %s: %s", incident, error.code, shown(error.message, 1000), exc_info=error)
            return self._page(
                context,
                "message.html",
                "503 Service Unavailable",
                message=context.words("unavailable", incident=incident),
            )

    def _read_body(self, request: Request) -> Form | None:
        content_type = request.environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
        try:
            length = int(request.environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        if content_type != "application/x-www-form-urlencoded" or not 0 <= length <= MAX_BODY_BYTES:
            return None
        data = request.environ["wsgi.input"].read(length) if length else b""
        try:
            return parse_form(data.decode("utf-8"))
        except UnicodeDecodeError:
            return None

    def _logged_in(self, context: Context) -> bool:
        """The session's institution, re-read: a disabled institution or a rotated secret ends the session."""
        session = context.session
        if session is None or session.institution is None:
            return False
        with self._store.transaction() as tx:
            record = tx.institution(session.institution)
        mark = "" if record is None else self._codec.secret_mark(record.id, record.secret)
        if record is None or not record.enabled or not hmac.compare_digest(mark, session.secret_mark):
            context.session = Session.new(int(self._clock()), session.lang)
            return False
        context.record = record
        return True

    # -- rendering -----------------------------------------------------------------------------------------

    def _page(
        self,
        context: Context,
        template: str,
        status: str = "200 OK",
        *,
        extra: list[tuple[str, str]] | None = None,
        **values: Any,
    ) -> Response:
        request = context.request
        session = context.session
        values.setdefault("error", None)
        query = {k: v[0] for k, v in request.query.fields.items() if k != "lang" and v}
        languages = [
            (code, name, f"{request.base}{request.path}?{urlencode({**query, 'lang': code})}")
            for code, name in LANGUAGES.items()
        ]
        html = self._templates.get_template(template).render(
            t=context.words,
            lang=context.lang,
            languages=languages,
            base=request.base,
            path=request.path,
            csrf=self._codec.csrf_token(session) if session is not None else "",
            record=context.record,
            today=self._directory.today(),
            household=session.household if session is not None else (),
            show=lambda p: _show(p, context.words),
            **values,
        )
        return Response(status, html.encode("utf-8"), headers=list(extra or ()))

    def _form(self, context: Context) -> Form:
        form: Form = context.request.environ["ksz.console.form"]
        return form

    def _error(self, context: Context, error: FormError) -> str:
        values = dict(error.values)
        if "field" in values:
            values["field"] = context.words(str(values["field"]))
        return context.words(error.key, **values)

    # -- login ---------------------------------------------------------------------------------------------

    def _login_page(
        self,
        context: Context,
        *,
        status: str = "200 OK",
        error: str | None = None,
        extra: list[tuple[str, str]] | None = None,
    ) -> Response:
        if context.session is not None and self._logged_in(context):
            return _redirect(context.request, "/")
        if context.session is None or context.session.institution is not None:
            context.session = Session.new(int(self._clock()), context.lang)
        notice = context.request.query.one("notice")
        return self._page(
            context,
            "login.html",
            status,
            extra=extra,
            error=error,
            notice=context.words(notice) if notice == "session_ended" else None,
            certificate=self._presented(context) is not None,
            typed=self._form(context).one("institution") if context.request.method == "POST" else "",
        )

    def _login(self, context: Context) -> Response:
        form = self._form(context)
        address = context.request.address
        by_certificate = form.one("method") == "certificate"
        if by_certificate:
            presented = self._presented(context)
            claimed = f"sha256:{presented}" if presented else ""
        else:
            claimed = re.sub(r"[\s./-]", "", form.one("institution"))[:32]
        try:
            self._guard.check(claimed, address)
        except AuthenticationThrottled as throttled:
            note_of(context.request.environ).refused_login(
                "authentication_throttled", f"login of {claimed!r} refused: too many failures"
            )
            return self._login_page(
                context,
                status="429 Too Many Requests",
                error=context.words("login_throttled", seconds=throttled.retry_after),
                extra=[("Retry-After", str(throttled.retry_after))],
            )
        record = self._certificate_holder(context) if by_certificate else self._secret_holder(claimed, form)
        if record is None:
            self._guard.failed(FRONT, claimed, address, "FAILED_AUTHENTICATION")
            note_of(context.request.environ).refused_login("failed_authentication", f"login of {claimed!r} refused")
            return self._login_page(context, status="403 Forbidden", error=context.words("login_refused"))
        self._guard.succeeded(claimed, address)
        assert context.session is not None
        fresh = Session.new(int(self._clock()), context.lang)  # a new id: no session fixation
        context.session = replace(
            fresh, institution=record.id, secret_mark=self._codec.secret_mark(record.id, record.secret)
        )
        how = "its certificate" if by_certificate else "its secret"
        note_of(context.request.environ).detail = f"institution {record.id} logged in with {how}"
        return _redirect(context.request, "/")

    def _secret_holder(self, number: str, form: Form) -> InstitutionRecord | None:
        """The enabled institution ``number`` names when the form's secret is its own."""
        secret = form.every("secret")[0] if form.every("secret") else ""
        record = None
        if number.isascii() and number.isdigit() and len(number) == 10:
            with self._store.transaction() as tx:
                record = tx.institution(number)
        expected = record.secret if record is not None else _DUMMY_SECRET
        proved = hmac.compare_digest(secret.encode("utf-8"), expected.encode("utf-8"))
        return record if record is not None and record.enabled and proved else None

    def _presented(self, context: Context) -> str | None:
        if self._certificates is None:
            return None
        return self._certificates.fingerprint(context.request.environ)

    def _certificate_holder(self, context: Context) -> InstitutionRecord | None:
        """The institution whose registered certificate came with the request, judged as the SOAP fronts judge it."""
        if self._certificates is None:
            return None
        try:
            return self._certificates.holder(context.request.environ)
        except AuthenticationError as refused:
            log.info("console: certificate login refused: %s", refused.message)
            return None

    def _logout(self, context: Context) -> Response:
        assert context.session is not None
        self._revoked.revoke(context.session)
        context.session = Session.new(int(self._clock()), context.lang)
        return _redirect(context.request, "/login")

    # -- household -----------------------------------------------------------------------------------------

    def _household_page(
        self, context: Context, *, status: str = "200 OK", error: str | None = None, typed: tuple[str, str] = ("", "")
    ) -> Response:
        return self._page(
            context,
            "household.html",
            status,
            error=error,
            typed=typed,
            max_members=MAX_MEMBERS,
            max_name=MAX_NAME_CHARS,
        )

    def _household_change(self, context: Context) -> Response:
        form = self._form(context)
        session = context.session
        assert session is not None
        action = form.one("action")
        if action == "remove":
            ssin = form.one("ssin")
            context.session = replace(session, household=tuple(m for m in session.household if m.ssin != ssin))
            return _redirect(context.request, "/")
        if action != "add":
            return self._household_page(context, status="400 Bad Request", error=context.words("bad_form"))
        ssin, name = form.one("ssin"), " ".join(form.one("name").split())
        error = None
        check = check_ssin(ssin)
        if not check.valid:
            error = check.reason + "."
        elif any(m.ssin == ssin for m in session.household):
            error = context.words("member_twice", ssin=ssin)
        elif len(name) > MAX_NAME_CHARS:
            error = context.words("name_too_long", count=MAX_NAME_CHARS)
        elif len(session.household) >= MAX_MEMBERS:
            error = context.words("household_full", count=len(session.household))
        if error is None:
            grown = replace(session, household=(*session.household, Member(ssin, name)))
            if len(self._codec.encode(grown)) > MAX_COOKIE_BYTES:
                error = context.words("household_full", count=len(session.household))
            else:
                context.session = grown
                return _redirect(context.request, "/")
        return self._household_page(context, status="400 Bad Request", error=error, typed=(ssin, name))

    # -- integrate and desintegrate ------------------------------------------------------------------------

    def _codes(self, context: Context) -> list[tuple[int, str, bool]]:
        assert context.record is not None
        return [
            (q.code, code_label(q.label, context.lang), q.manual)
            for q in self._directory.catalogue.codes_of(context.record.sector)
        ]

    def _integrations_page(
        self,
        context: Context,
        *,
        status: str = "200 OK",
        error: str | None = None,
        result: Any = None,
        form: Form | None = None,
    ) -> Response:
        outcomes = {o.ssin: o for o in result.persons} if result is not None else {}
        return self._page(
            context,
            "integrations.html",
            status,
            error=error,
            result=result,
            outcomes=outcomes,
            codes=self._codes(context),
            form=form or Form(),
        )

    def _integrations_change(self, context: Context) -> Response:
        assert context.record is not None and context.session is not None
        form = self._form(context)
        action = form.one("action")
        try:
            start = form.day("start", "start_date", required=True)
            end = form.day("end", "end_date")
            code_text = form.one("code")
            if not (code_text.isascii() and code_text.isdigit() and len(code_text) <= 4):
                raise FormError("bad_code")
            ticked = _members(context, form.every("member"))
        except FormError as exc:
            return self._integrations_page(
                context, status="400 Bad Request", error=self._error(context, exc), form=form
            )
        if action not in ("integrate", "desintegrate"):
            return self._integrations_page(
                context, status="400 Bad Request", error=context.words("bad_form"), form=form
            )
        assert start is not None
        request = DirectoryRequest(int(code_text), start, end, ticked)
        if action == "integrate":
            result = self._directory.integrate(context.record, request)
        else:
            result = self._directory.desintegrate(context.record, request)
        return self._integrations_page(context, result=result, form=form)

    # -- consultation and the timeline ---------------------------------------------------------------------

    def _default_start(self) -> date:
        today = self._directory.today()
        return today - timedelta(days=365)

    def _consult_page(
        self, context: Context, *, status: str = "200 OK", error: str | None = None, form: Form | None = None
    ) -> Response:
        return self._page(
            context, "consult.html", status, error=error, form=form or Form(), default_start=self._default_start()
        )

    def _consult(self, context: Context) -> Response:
        form = self._form(context)
        ssin = form.one("other") or form.one("ssin")
        try:
            window = _window(form, "period_start", "period_end")
        except FormError as exc:
            return self._consult_page(context, status="400 Bad Request", error=self._error(context, exc), form=form)
        query = {"ssin": ssin, "start": window.start.isoformat()}
        if window.end is not None:
            query["end"] = window.end.isoformat()
        return _redirect(context.request, "/timeline?" + urlencode(query))

    def _consulted(self, context: Context) -> tuple[str, Period, ConsultResult] | FormError:
        """The consultation a timeline's query string asks for, run as the use case (audited), or what is wrong."""
        assert context.record is not None
        query = context.request.query
        try:
            start = query.day("start", "start_date") or HISTORY_START
            end = query.day("end", "end_date")
            if end is not None and end < start:
                raise FormError("end_before_start", field="consultation_period")
        except FormError as exc:
            return exc
        window = Period(start, end)
        ssin = query.one("ssin")
        return ssin, window, self._directory.consult(context.record, ssin, window)

    def _chart(self, context: Context, ssin: str, window: Period, result: ConsultResult, ident: str = "tl") -> Chart:
        assert context.record is not None and context.session is not None
        words = context.words
        grouped: dict[tuple[str, int], list[Period]] = {}
        names: dict[tuple[str, int], tuple[str, str]] = {}
        for i in result.integrations:
            key = (i.institution.id, i.code)
            grouped.setdefault(key, []).append(i.period)
            quality = self._directory.catalogue.code(i.institution.sector, i.code)
            label = code_label(quality.label, context.lang) if quality is not None else ""
            names[key] = (f"{i.institution.name} ({i.institution.id})", f"{i.code:02d} {label}".strip())
        rows = rows_in_order(
            [
                Row(names[key][0], names[key][1], normalize(periods), own=key[0] == context.record.id)
                for key, periods in sorted(grouped.items())
            ]
        )
        missing = context.session.missing
        days = missing.of(ssin) if missing is not None else ()
        person = _names(context).get(ssin)
        title = f"{words('timeline')} — {person} ({ssin})" if person else f"{words('timeline')} — {ssin}"
        return Chart(
            title=title,
            rows=rows,
            today=self._directory.today(),
            window=window,
            missing=days,
            missing_label=words("missing_for", flow=missing.flow, rule=missing.rule) if missing and days else "",
            words=ChartWords(words("today"), words("open_end"), words("missing_days"), words("no_integrations")),
            ident=ident,
        )

    def _timeline_page(self, context: Context) -> Response:
        consulted = self._consulted(context)
        if isinstance(consulted, FormError):
            return self._consult_page(
                context, status="400 Bad Request", error=self._error(context, consulted), form=context.request.query
            )
        ssin, window, result = consulted
        refused = result.summary.ok is Ok.NO
        svg = None if refused else Markup(render_svg(self._chart(context, ssin, window, result)))
        query = {"ssin": ssin, "start": window.start.isoformat()}
        if window.end is not None:
            query["end"] = window.end.isoformat()
        return self._page(
            context,
            "timeline.html",
            ssin=ssin,
            window=window,
            whole_history=window == Period(HISTORY_START),
            result=result,
            refused=refused,
            svg=svg,
            person=_names(context).get(ssin, ""),
            download=urlencode(query),
            labels=self._labels(context, result),
            form=Form(
                {
                    "ssin": (ssin,),
                    "period_start": (window.start.isoformat(),),
                    "period_end": (window.end.isoformat() if window.end else "",),
                }
            ),
            default_start=self._default_start(),
        )

    def _labels(self, context: Context, result: ConsultResult) -> dict[tuple[int, int], str]:
        labels: dict[tuple[int, int], str] = {}
        for i in result.integrations:
            quality = self._directory.catalogue.code(i.institution.sector, i.code)
            labels[(i.institution.sector, i.code)] = code_label(quality.label, context.lang) if quality else ""
        return labels

    def _timeline_svg(self, context: Context) -> Response:
        return self._download(context, "svg", "image/svg+xml; charset=utf-8", lambda svg: svg.encode("utf-8"))

    def _timeline_png(self, context: Context) -> Response:
        return self._download(context, "png", "image/png", render_png)

    def _download(self, context: Context, suffix: str, content_type: str, draw: Callable[[str], bytes]) -> Response:
        """The timeline as a file to save: the consultation run again (and audited), drawn by ``draw``."""
        consulted = self._consulted(context)
        if isinstance(consulted, FormError):
            return Response("400 Bad Request", self._error(context, consulted).encode(), "text/plain; charset=utf-8")
        ssin, window, result = consulted
        try:
            data = draw(render_svg(self._chart(context, ssin, window, result)))
        except OSError as exc:  # only a PNG can fail so: the cairo library is missing
            log.error("console: cannot render the timeline as %s: %s", suffix, shown(exc))
            text = context.words("png_unavailable").encode()
            return Response("503 Service Unavailable", text, "text/plain; charset=utf-8")
        disposition = f'attachment; filename="timeline-{_safe(ssin)}.{suffix}"'
        return Response("200 OK", data, content_type, [("Content-Disposition", disposition)])

    # -- CheckAccess ---------------------------------------------------------------------------------------

    def _access_page(
        self,
        context: Context,
        *,
        status: str = "200 OK",
        error: str | None = None,
        result: Any = None,
        form: Form | None = None,
    ) -> Response:
        flows = sorted(self._access.flows.flows.values(), key=lambda f: f.id)
        return self._page(
            context,
            "access.html",
            status,
            error=error,
            result=result,
            form=form or Form(),
            flows=flows,
            roles=[r.value for r in Role],
            aids=AIDS,
            date_fields=DATE_FIELDS,
            names=_names(context),
        )

    def _check_access(self, context: Context) -> Response:
        assert context.record is not None and context.session is not None
        form = self._form(context)
        try:
            ticked = _members(context, form.every("member"))
            persons = []
            for ssin in ticked:
                role = form.one(f"role_{ssin}") or Role.SUBJECT.value
                if role not in Role.__members__:
                    raise FormError("bad_form")
                persons.append(FlowPerson(ssin, Role(role)))
            request = FlowRequest(
                flow=form.one("flow"),
                persons=tuple(persons),
                consultation_period=form.period("ConsultationPeriod", "ConsultationPeriod"),
                effective_date=form.day("EffectiveDate", "EffectiveDate"),
                validity_period=form.period("ValidityPeriod", "ValidityPeriod"),
                decision_period=form.period("DecisionPeriod", "DecisionPeriod"),
                delivery_year=form.year("DeliveryYear", "DeliveryYear"),
                aid=form.one("Aid") or None,
            )
        except FormError as exc:
            return self._access_page(context, status="400 Bad Request", error=self._error(context, exc), form=form)
        result = self._access.check_access(context.record, request)
        flow = self._access.flows.get(request.flow)
        gaps = tuple((p.ssin, normalize(p.missing_days)) for p in result.persons if p.missing_days)
        missing = Missing(request.flow, flow.rule if flow else "", gaps) if not result.allowed and gaps else None
        session = replace(context.session, missing=missing)
        if len(self._codec.encode(session)) > MAX_COOKIE_BYTES:  # too many gaps to keep: the page still shows them
            session = replace(context.session, missing=None)
        context.session = session
        return self._access_page(context, result=result, form=form)


def _members(context: Context, ssins: tuple[str, ...]) -> tuple[str, ...]:
    """The ticked SSINs, in the household's order; each must be a member of the household."""
    assert context.session is not None
    household = [m.ssin for m in context.session.household]
    for ssin in ssins:
        if ssin not in household:
            raise FormError("not_a_member", ssin=ssin)
    if not ssins:
        raise FormError("no_member_ticked")
    return tuple(s for s in household if s in ssins)


def _names(context: Context) -> dict[str, str]:
    assert context.session is not None
    return {m.ssin: m.name for m in context.session.household}


def _window(form: Form, start_field: str, end_field: str) -> Period:
    start = form.day(start_field, "start_date", required=True)
    end = form.day(end_field, "end_date")
    assert start is not None
    if end is not None and end < start:
        raise FormError("end_before_start", field="consultation_period")
    return Period(start, end)


def _safe(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z_-]", "_", text)[:40] or "person"


def _cookie(header: str, name: str) -> str | None:
    """The value of cookie ``name`` in a Cookie header (the first one, as browsers send the most specific first)."""
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value.strip().strip('"')
    return None


def _redirect(request: Request, target: str, *, notice: str | None = None) -> Response:
    location = f"{request.base}{target}"
    if notice is not None:
        location += ("&" if "?" in location else "?") + urlencode({"notice": notice})
    return Response("303 See Other", b"", "text/plain; charset=utf-8", [("Location", location)])


def _show(period: Period, words: Words) -> str:
    """A period as a worker reads it: ``2014-12-01 – 2014-12-31``, or ``2015-01-15 onwards``."""
    if period.end is None:
        return f"{period.start.isoformat()} {words('onwards')}"
    if period.end == period.start:
        return period.start.isoformat()
    return f"{period.start.isoformat()} – {period.end.isoformat()}"
