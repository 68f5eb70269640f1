"""Sample exchanges and their replay: request/response pairs in a folder, listed in replay order by a manifest.

Invariant: a replayed sample passes only when the gateway's answer equals the expected response as canonical
XML (lxml's C14N 2.0 with prefixes rewritten, of both messages without comments, processing instructions and
whitespace-only text; fault codes compared as QNames) and, when the manifest gives one, has the expected HTTP
status. Only the values that must change between runs are set aside: tickets, matched one-to-one across the whole
run (an expected ticket stands for exactly one actual ticket, wherever either appears), and masked incident ids and
timestamps.

Folder layout: ``manifest.json`` and, per sample ``NAME``, ``NAME.request.xml`` (a whole SOAP envelope without
``wsse:Security``; the replayer signs it as the manifest says) and ``NAME.response.xml`` (the expected answer).
"""

from __future__ import annotations

import difflib
import http.client
import json
import os
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from gateway.contract import safexml
from gateway.contract.names import (
    FAULT_NS,
    SOAP_ENV,
    TNS,
    WSSE,
    WSU,
    action_of,
    qname,
)
from gateway.domain.demo import DEMO_IDENTITIES
from gateway.domain.periods import parse_day
from gateway.errors import ManifestError, SampleError, SampleTransportError

__all__ = [
    "DEMO_SECRETS",
    "MANIFEST_FILE",
    "Comparison",
    "HttpAnswer",
    "Manifest",
    "ManifestError",
    "Outcome",
    "Sample",
    "SampleError",
    "SampleTransportError",
    "Signing",
    "TicketMap",
    "canonical",
    "compare",
    "load_manifest",
    "normalised",
    "parse_manifest",
    "post",
    "pretty",
    "replay",
    "request_path",
    "response_path",
    "sign_request",
    "soap_action",
    "strip_security",
    "write_junit",
    "write_manifest",
]

MANIFEST_FILE = "manifest.json"
REQUEST_SUFFIX = ".request.xml"
RESPONSE_SUFFIX = ".response.xml"
XML_CONTENT_TYPE = "text/xml; charset=utf-8"

# Contract, "Demo identities": the public test secrets of ``serve --demo``. A manifest's ``identities`` adds others.
DEMO_SECRETS: Mapping[str, str] = {demo.id: demo.secret for demo in DEMO_IDENTITIES}

# What changes from run to run. Tickets are paired across the run; the masked values are simply set aside.
TICKET_ELEMENTS = frozenset({qname(TNS, "Ticket")})
TICKET_FIELDS = frozenset({"AttestationTicket"})  # rep:Information whose FieldValue is a Ticket
MASKED_ELEMENTS: Mapping[str, str] = {
    qname(FAULT_NS, "Incident"): "{incident}",
    qname(WSU, "Created"): "{timestamp}",
    qname(WSU, "Expires"): "{timestamp}",
}
QNAME_TEXT = ("faultcode",)  # elements whose text is a QName: compared by its namespace, not by its prefix

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_FIELD_NAME = qname(TNS, "FieldName")
_FIELD_VALUE = qname(TNS, "FieldValue")


# -- the manifest ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Signing:
    """How to sign a request: as ``identity`` with its known secret, or with ``secret`` (e.g. a wrong one); with a
    digest (nonce and Created), or with the secret as text (``digest`` false: no nonce, no Created)."""

    identity: str
    secret: str | None = None
    digest: bool = True

    def to_json(self) -> str | dict[str, Any]:
        if self.secret is None and self.digest:
            return self.identity
        out: dict[str, Any] = {"identity": self.identity}
        if self.secret is not None:
            out["secret"] = self.secret
        if not self.digest:
            out["digest"] = False
        return out


@dataclass(frozen=True, slots=True)
class Sample:
    """One exchange of the manifest. ``sign`` None: sent exactly as the file holds it (no wsse:Security added)."""

    name: str
    sign: Signing | None
    day: date | None
    shows: str
    depends_on: tuple[str, ...] = ()
    http_status: int | None = None
    action: str | None = None  # the SOAPAction to send; None: the action of the Body element's operation
    content_type: str | None = None  # None: text/xml; charset=utf-8

    def to_json(self, manifest_day: date | None) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "sign": None if self.sign is None else self.sign.to_json()}
        if self.day is None or self.day != manifest_day:
            out["day"] = None if self.day is None else self.day.isoformat()
        out["shows"] = self.shows
        out["depends_on"] = list(self.depends_on)
        if self.http_status is not None:
            out["http_status"] = self.http_status
        if self.action is not None:
            out["action"] = self.action
        if self.content_type is not None:
            out["content_type"] = self.content_type
        return out


@dataclass(frozen=True, slots=True)
class Manifest:
    """The samples of a folder in replay order, the gateway day they assume, and extra identities' secrets."""

    day: date | None
    samples: tuple[Sample, ...]
    identities: Mapping[str, str] = field(default_factory=dict)
    about: str = ""

    def secret_of(self, identity: str) -> str | None:
        return self.identities.get(identity, DEMO_SECRETS.get(identity))

    def names(self) -> list[str]:
        return [s.name for s in self.samples]

    def select(self, names: Iterable[str]) -> list[Sample]:
        """The named samples and, transitively, the samples they depend on, in manifest order."""
        by_name = {s.name: s for s in self.samples}
        wanted: set[str] = set()
        todo = list(names)
        while todo:
            name = todo.pop()
            if name in wanted:
                continue
            if name not in by_name:
                raise ManifestError(f"no sample named {name!r} in the manifest")
            wanted.add(name)
            todo.extend(by_name[name].depends_on)
        return [s for s in self.samples if s.name in wanted]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.about:
            out["about"] = self.about
        out["day"] = None if self.day is None else self.day.isoformat()
        if self.identities:
            out["identities"] = dict(self.identities)
        out["samples"] = [s.to_json(self.day) for s in self.samples]
        return out


def request_path(folder: Path, name: str) -> Path:
    return folder / f"{name}{REQUEST_SUFFIX}"


def response_path(folder: Path, name: str) -> Path:
    return folder / f"{name}{RESPONSE_SUFFIX}"


def _manifest_day(value: Any, where: str) -> date | None:
    if value is None:
        return None
    try:
        return parse_day(str(value), "day")
    except ValueError as exc:
        raise ManifestError(f"{where}: {exc}") from exc


def _signing(value: Any, where: str) -> Signing | None:
    if value is None:
        return None
    if isinstance(value, str):
        return Signing(value)
    if isinstance(value, dict) and isinstance(value.get("identity"), str):
        unknown = set(value) - {"identity", "secret", "digest"}
        secret = value.get("secret")
        digest = value.get("digest", True)
        if unknown or not isinstance(secret, (str, type(None))) or not isinstance(digest, bool):
            raise ManifestError(f"{where}: sign takes identity, secret (a string) and digest (true/false)")
        return Signing(value["identity"], secret, digest)
    raise ManifestError(f'{where}: sign is an enterprise number, {{"identity": ..., "secret": ...}} or null')


def _sample(entry: Any, index: int, manifest_day: date | None, earlier: set[str]) -> Sample:
    if not isinstance(entry, dict):
        raise ManifestError(f"samples[{index}] is not an object")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ManifestError(f"samples[{index}]: name {name!r} is not a file-name-safe word")
    where = f"sample {name!r}"
    if name in earlier:
        raise ManifestError(f"{where} is listed twice")
    if "sign" not in entry:
        raise ManifestError(f"{where} says nothing about signing (sign: an identity, an object or null)")
    depends_on = entry.get("depends_on", [])
    if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
        raise ManifestError(f"{where}: depends_on is a list of sample names")
    for needed in depends_on:
        if needed not in earlier:
            raise ManifestError(f"{where} depends on {needed!r}, which is not an earlier sample")
    status = entry.get("http_status")
    if status is not None and not (isinstance(status, int) and 100 <= status <= 599):
        raise ManifestError(f"{where}: http_status {status!r} is not an HTTP status")
    for key in ("shows", "action", "content_type"):
        if entry.get(key) is not None and not isinstance(entry[key], str):
            raise ManifestError(f"{where}: {key} is a string")
    return Sample(
        name=name,
        sign=_signing(entry["sign"], where),
        day=_manifest_day(entry["day"], where) if "day" in entry else manifest_day,
        shows=str(entry.get("shows") or ""),
        depends_on=tuple(depends_on),
        http_status=status,
        action=entry.get("action"),
        content_type=entry.get("content_type"),
    )


def parse_manifest(data: Mapping[str, Any]) -> Manifest:
    """A manifest from its JSON object; ``ManifestError`` says what is inconsistent."""
    day = _manifest_day(data.get("day"), "the manifest")
    identities = data.get("identities", {})
    if not isinstance(identities, dict) or not all(isinstance(v, str) for v in identities.values()):
        raise ManifestError("identities maps enterprise numbers to secrets")
    entries = data.get("samples")
    if not isinstance(entries, list):
        raise ManifestError("the manifest has no list 'samples'")
    samples: list[Sample] = []
    earlier: set[str] = set()
    for index, entry in enumerate(entries):
        sample = _sample(entry, index, day, earlier)
        samples.append(sample)
        earlier.add(sample.name)
    return Manifest(day, tuple(samples), dict(identities), str(data.get("about") or ""))


def load_manifest(folder: Path) -> Manifest:
    path = folder / MANIFEST_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ManifestError(f"no {MANIFEST_FILE} in {folder}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ManifestError(f"{path} does not hold a JSON object")
    return parse_manifest(data)


def write_manifest(folder: Path, manifest: Manifest) -> None:
    """Write ``manifest.json`` atomically (a reader sees the old or the new manifest, never half of one)."""
    path = folder / MANIFEST_FILE
    partial = path.with_name(f".{MANIFEST_FILE}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(manifest.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(partial, path)


# -- requests: signing and the SOAPAction ----------------------------------------------------------------


def _parse(data: bytes) -> etree._Element:
    root = safexml.fromstring(data)
    if root.getroottree().docinfo.doctype:
        raise ValueError("the document has a DOCTYPE")
    return root


def _body_element(root: etree._Element) -> etree._Element | None:
    body = root.find(qname(SOAP_ENV, "Body")) if root.tag == qname(SOAP_ENV, "Envelope") else None
    if body is None:
        return None
    return next((child for child in body if isinstance(child.tag, str)), None)


def soap_action(request: bytes) -> str:
    """The SOAPAction of the operation the request's Body names (``""`` when it names none or is not XML)."""
    try:
        element = _body_element(_parse(request))
    except (etree.XMLSyntaxError, ValueError):
        return ""
    if element is None:
        return ""
    name = etree.QName(element)
    if name.namespace == TNS and name.localname.endswith("Request"):
        return action_of(name.localname[: -len("Request")])
    return ""


def sign_request(
    request: bytes,
    signing: Signing,
    secret: str,
    *,
    now: datetime | None = None,
    nonce: str | None = None,
) -> bytes:
    """The request with a ``wsse:Security`` UsernameToken as its first header, written by zeep's ``UsernameToken``:
    a digest over a fresh nonce (``nonce`` fixes it) and Created ``now``, or the secret as text.

    Raises ``ValueError`` when the request is not a SOAP envelope that can carry a header.
    """
    from zeep.wsse.username import UsernameToken  # zeep is large: loaded only when a request is signed

    try:
        root = _parse(request)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"the request is not well-formed XML, so it cannot be signed: {exc}") from exc
    if root.tag != qname(SOAP_ENV, "Envelope"):
        raise ValueError("the request is not a SOAP 1.1 envelope, so it cannot be signed")
    token = UsernameToken(  # type: ignore[no-untyped-call]
        signing.identity,
        secret,
        use_digest=signing.digest,
        nonce=nonce,
        created=(now or datetime.now(UTC)).astimezone(UTC),
        zulu_timestamp=True,
    )
    # zeep puts a Header first in the envelope if there was none (no whitespace: the Body keeps its lines).
    token.apply(root, {})  # type: ignore[no-untyped-call]
    header = root.find(qname(SOAP_ENV, "Header"))
    security = None if header is None else header.find(qname(WSSE, "Security"))
    assert header is not None and security is not None
    security.set(qname(SOAP_ENV, "mustUnderstand"), "1")  # the gateway must understand it, or refuse the request
    header.insert(0, security)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def strip_security(request: bytes) -> tuple[bytes, str | None]:
    """The request without its ``wsse:Security`` headers (an emptied Header goes too) and the Username it named.

    A request that is not XML is returned unchanged, with no Username.
    """
    try:
        root = _parse(request)
    except (etree.XMLSyntaxError, ValueError):
        return request, None
    header = root.find(qname(SOAP_ENV, "Header")) if root.tag == qname(SOAP_ENV, "Envelope") else None
    if header is None:
        return request, None
    username: str | None = None
    for security in header.findall(qname(WSSE, "Security")):
        found = security.findtext(f"{qname(WSSE, 'UsernameToken')}/{qname(WSSE, 'Username')}")
        if found is not None and username is None:
            username = found.strip()
        _remove(security)
    if not any(isinstance(child.tag, str) for child in header):
        _remove(header)
    declaration = request.lstrip().startswith(b"<?xml")
    return bytes(etree.tostring(root, xml_declaration=declaration, encoding="UTF-8")), username


def _remove(element: etree._Element) -> None:
    """Remove ``element`` but keep its tail text (the layout of what follows)."""
    parent = element.getparent()
    assert parent is not None
    previous = element.getprevious()
    tail = element.tail or ""
    if previous is not None:
        previous.tail = (previous.tail or "") + tail
    else:
        parent.text = (parent.text or "") + tail
    parent.remove(element)


# -- canonical comparison ---------------------------------------------------------------------------------


def _blank(text: str | None) -> bool:
    return text is None or not text.strip()


def normalised(data: bytes, label: str = "the") -> etree._Element:
    """The message parsed, without what is only layout: comments, processing instructions, whitespace-only text
    (text beside a comment stays its parent's). ``ValueError`` when it is not well-formed XML."""
    try:
        root = _parse(data)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"{label} message is not well-formed XML: {exc}") from exc
    for node in root.iter():
        if _blank(node.text) and isinstance(node.tag, str):
            node.text = None
        if _blank(node.tail):
            node.tail = None
    etree.strip_tags(root, etree.Comment, etree.PI)
    return root


def canonical(root: etree._Element, *, rewrite_prefixes: bool = True) -> str:
    """The C14N 2.0 form of a message (lxml's ``canonicalize``), fault codes read as QNames; with its prefixes
    rewritten (``n0``, ``n1``... in document order) it is what two messages are compared by."""
    return str(etree.canonicalize(root, rewrite_prefixes=rewrite_prefixes, qname_aware_tags=QNAME_TEXT))


def pretty(root: etree._Element) -> str:
    """The canonical message in its own prefixes, indented one element per line: what a diff shows."""
    indented = safexml.fromstring(canonical(root, rewrite_prefixes=False).encode())
    etree.indent(indented, space="  ")
    return str(etree.tostring(indented, encoding="unicode"))


class TicketMap:
    """The run-wide one-to-one pairing of expected tickets with the tickets this run's answers carry.

    Ticket slots (``rep:Ticket``, Information values named in ``TICKET_FIELDS``) of an expected and an actual
    answer are paired by their position in the tree; a pair binds when neither ticket is bound yet. Every bound
    ticket is then written as its label (``{ticket N}``) wherever it appears in either tree, in any text; so an
    expected ticket bound to one actual ticket and met beside another shows up as a difference.
    """

    def __init__(self) -> None:
        self._expected: dict[str, str] = {}
        self._actual: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._expected)

    def _bind(self, expected: str, actual: str) -> None:
        if expected in self._expected or actual in self._actual:
            return
        label = f"{{ticket {len(self._expected) + 1}}}"
        self._expected[expected] = label
        self._actual[actual] = label

    def apply(self, expected: etree._Element, actual: etree._Element) -> None:
        """Pair the slots of the two messages and write every bound ticket in them as its label."""
        waiting: dict[str, deque[str]] = defaultdict(deque)
        for path, value in _ticket_slots(actual):
            waiting[path].append(value)
        for path, value in _ticket_slots(expected):
            if waiting[path]:
                self._bind(value, waiting[path].popleft())
        _relabel(expected, self._expected)
        _relabel(actual, self._actual)


def _ticket_slots(root: etree._Element) -> list[tuple[str, str]]:
    tree = root.getroottree()
    slots: list[tuple[str, str]] = []
    for element in root.iter(tag=etree.Element):
        if element.tag in TICKET_ELEMENTS:
            holder = element
        elif element.tag == _FIELD_VALUE:
            name = element.getprevious()
            if name is None or name.tag != _FIELD_NAME or (name.text or "").strip() not in TICKET_FIELDS:
                continue
            holder = element
        else:
            continue
        value = (holder.text or "").strip()
        if value:
            slots.append((tree.getelementpath(holder), value))  # by namespace, whatever the prefixes
    return slots


def _relabel(root: etree._Element, labels: Mapping[str, str]) -> None:
    if not labels:
        return
    pattern = re.compile("|".join(re.escape(t) for t in sorted(labels, key=len, reverse=True)))

    def swap(text: str | None) -> str | None:
        return None if text is None else pattern.sub(lambda m: labels[m.group(0)], text)

    for element in root.iter(tag=etree.Element):
        element.text = swap(element.text)
        element.tail = swap(element.tail)
        for key, value in element.attrib.items():
            element.set(key, str(swap(value)))


def _mask(root: etree._Element) -> None:
    for element in root.iter(tag=etree.Element):
        mask = MASKED_ELEMENTS.get(str(element.tag))
        if mask is not None and element.text:
            element.text = mask


@dataclass(frozen=True, slots=True)
class Comparison:
    """Whether two messages are equal as canonical XML, and if not, a unified diff (expected -> actual)."""

    equal: bool
    diff: str


def compare(
    expected: bytes,
    actual: bytes,
    tickets: TicketMap | None = None,
    *,
    labels: tuple[str, str] = ("expected", "actual"),
) -> Comparison:
    """Compare two SOAP messages as canonical XML, tickets paired through ``tickets`` (a fresh map if None).

    Raises ``ValueError`` when either is not well-formed XML.
    """
    want, got = normalised(expected, f"the {labels[0]}"), normalised(actual, f"the {labels[1]}")
    (tickets if tickets is not None else TicketMap()).apply(want, got)
    _mask(want)
    _mask(got)
    if canonical(want) == canonical(got):
        return Comparison(True, "")
    diff = difflib.unified_diff(
        pretty(want).splitlines(keepends=True),
        pretty(got).splitlines(keepends=True),
        fromfile=labels[0],
        tofile=labels[1],
    )
    return Comparison(False, "".join(line if line.endswith("\n") else line + "\n" for line in diff))


# -- transport ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """What a gateway answered over HTTP: status, Content-Type and body."""

    status: int
    content_type: str
    body: bytes


def post(
    url: str, data: bytes, *, action: str, content_type: str = XML_CONTENT_TYPE, timeout: float = 30.0
) -> HttpAnswer:
    """POST ``data`` to ``url`` with ``SOAPAction: "action"``; ``SampleTransportError`` when no HTTP answer comes."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SampleTransportError(f"{url!r} is not an http:// or https:// URL")
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection = kind(parts.hostname, parts.port, timeout=timeout)
    headers = {"Content-Type": content_type, "SOAPAction": f'"{action}"'}
    try:
        connection.request("POST", target, body=data, headers=headers)
        answer = connection.getresponse()
        return HttpAnswer(answer.status, answer.getheader("Content-Type", ""), answer.read())
    except (OSError, http.client.HTTPException) as exc:
        raise SampleTransportError(f"no answer from {url}: {type(exc).__name__}: {exc}") from exc
    finally:
        connection.close()


# -- replay ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """A replayed sample: passed, or failed with a ``diff`` (a mismatch) or an ``error`` (nothing to compare)."""

    sample: Sample
    passed: bool
    seconds: float
    diff: str = ""
    error: str | None = None

    @property
    def message(self) -> str:
        if self.passed:
            return "passed"
        if self.error is not None:
            return self.error
        return f"the answer differs from {self.sample.name}{RESPONSE_SUFFIX}"


def _replay_one(
    folder: Path, manifest: Manifest, sample: Sample, url: str, tickets: TicketMap, timeout: float
) -> Outcome:
    started = time.monotonic()

    def failed(error: str | None = None, diff: str = "") -> Outcome:
        return Outcome(sample, False, time.monotonic() - started, diff, error)

    try:
        request = request_path(folder, sample.name).read_bytes()
        expected = response_path(folder, sample.name).read_bytes()
    except OSError as exc:
        return failed(f"cannot read the sample: {exc}")
    if sample.sign is not None:
        secret = sample.sign.secret if sample.sign.secret is not None else manifest.secret_of(sample.sign.identity)
        if secret is None:
            return failed(f"no secret known for identity {sample.sign.identity} (add it to the manifest's identities)")
        try:
            request = sign_request(request, sample.sign, secret)
        except ValueError as exc:
            return failed(str(exc))
    action = sample.action if sample.action is not None else soap_action(request)
    try:
        answer = post(
            url, request, action=action, content_type=sample.content_type or XML_CONTENT_TYPE, timeout=timeout
        )
    except SampleTransportError as exc:
        return failed(f"transport error: {exc}")
    try:
        comparison = compare(expected, answer.body, tickets, labels=(f"{sample.name}{RESPONSE_SUFFIX}", "actual"))
    except ValueError as exc:
        shown = answer.body[:300].decode("utf-8", "replace")
        return failed(f"HTTP {answer.status}: {exc}; the answer begins: {shown!r}")
    status_diff = ""
    if sample.http_status is not None and answer.status != sample.http_status:
        status_diff = f"HTTP status: expected {sample.http_status}, got {answer.status}\n"
    if comparison.equal and not status_diff:
        return Outcome(sample, True, time.monotonic() - started)
    return failed(diff=status_diff + comparison.diff)


def replay(
    folder: Path,
    url: str,
    *,
    manifest: Manifest | None = None,
    only: Sequence[str] | None = None,
    timeout: float = 30.0,
    on_start: Callable[[int, int, Sample], None] | None = None,
    on_done: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Replay the folder's samples (``only`` those named, with what they depend on) in manifest order."""
    manifest = manifest if manifest is not None else load_manifest(folder)
    chosen = manifest.select(only) if only else list(manifest.samples)
    tickets = TicketMap()
    outcomes: list[Outcome] = []
    for index, sample in enumerate(chosen):
        if on_start is not None:
            on_start(index, len(chosen), sample)
        outcome = _replay_one(folder, manifest, sample, url, tickets, timeout)
        outcomes.append(outcome)
        if on_done is not None:
            on_done(outcome)
    return outcomes


# -- reporting ------------------------------------------------------------------------------------------


def write_junit(outcomes: Sequence[Outcome], path: Path, *, suite: str = "samples") -> None:
    """A JUnit XML report: one testcase per sample, a ``failure`` per mismatch, an ``error`` per transport error."""
    failures = sum(1 for o in outcomes if not o.passed and o.error is None)
    errors = sum(1 for o in outcomes if o.error is not None)
    total_time = f"{sum(o.seconds for o in outcomes):.3f}"
    counts = {"tests": str(len(outcomes)), "failures": str(failures), "errors": str(errors), "time": total_time}
    root = etree.Element("testsuites", counts)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    suite_el = etree.SubElement(root, "testsuite", name=suite, skipped="0", timestamp=stamp, **counts)
    for outcome in outcomes:
        case = etree.SubElement(
            suite_el, "testcase", classname=suite, name=outcome.sample.name, time=f"{outcome.seconds:.3f}"
        )
        if outcome.sample.shows:
            etree.SubElement(case, "system-out").text = _xml_text(outcome.sample.shows)
        if outcome.passed:
            continue
        kind = "failure" if outcome.error is None else "error"
        problem = etree.SubElement(case, kind, message=_xml_text(outcome.message), type=kind)
        problem.text = _xml_text(outcome.diff or outcome.message)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold (control characters from a broken answer)."""
    return re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", "?", text)
