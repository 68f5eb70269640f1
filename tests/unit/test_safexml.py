"""The hardened parser every module uses for XML the gateway did not write, and the strict reading of messages.

Whether a path was opened is observed, not assumed: the tests name a FIFO, and opening a FIFO for reading blocks
until a writer comes, so a parse that opened it would still be waiting; a writer's non-blocking open fails with
ENXIO exactly when no reader has the FIFO open. ``/dev/zero`` is tried in a child process with a deadline, so a
parser that read it would be killed instead of pinning a CPU for the rest of the run.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from gateway.contract import safexml
from gateway.contract.limits import XmlLimits
from gateway.contract.resources import xsd_path
from gateway.contract.schema import MessageSchema
from gateway.errors import (
    ForbiddenDoctype,
    ForbiddenProcessingInstruction,
    MalformedMessage,
    NonUtf8Message,
    RequestError,
    SchemaViolation,
)

ROOT = Path(__file__).resolve().parents[2]


def test_an_internal_entity_is_not_expanded() -> None:
    data = b'<!DOCTYPE a [<!ENTITY boom "expanded">]><a>&boom;</a>'
    assert "expanded" not in (safexml.fromstring(data).text or "")


def test_an_external_entity_is_never_fetched_or_read() -> None:
    data = b'<!DOCTYPE a [<!ENTITY secret SYSTEM "file:///etc/hostname">]><a>&secret;</a>'
    assert (safexml.fromstring(data).text or "") == ""


def test_comments_and_processing_instructions_go_only_when_stripping() -> None:
    data = b"<a><!-- note --><?pi x?><b/></a>"
    assert len(safexml.fromstring(data)) == 3
    assert [child.tag for child in safexml.fromstring(data, strip=True)] == ["b"]


def test_each_thread_gets_its_own_parser() -> None:
    seen: list[object] = []
    thread = threading.Thread(target=lambda: seen.append(safexml.parser()))
    thread.start()
    thread.join()
    assert seen[0] is not safexml.parser()
    assert safexml.parser() is safexml.parser()


# -- nothing named is ever opened ------------------------------------------------------------------------


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "named-pipe"
    os.mkfifo(path)
    yield path


def _opened_by_a_reader(path: Path) -> bool:
    """Whether someone holds (or waits to hold) ``path`` open for reading; a waiting reader is released."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            return False
        raise
    os.close(fd)  # the reader, if it was blocked in open(), now reads end-of-file and its parse ends
    return True


def _outcome_within(seconds: float, call: Callable[[], object]) -> tuple[bool, object]:
    """Run ``call`` in a thread: (whether it finished within ``seconds``, its result or exception)."""
    box: list[object] = []

    def run() -> None:
        try:
            box.append(call())
        except Exception as exc:
            box.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    return not thread.is_alive(), (box[0] if box else None)


HOSTILE = {
    "external parameter entity": '<!DOCTYPE a [<!ENTITY % p SYSTEM "{url}"> %p;]><a/>',
    "external DTD": '<!DOCTYPE a SYSTEM "{url}"><a/>',
    "public DTD": '<!DOCTYPE a PUBLIC "-//Example//DTD X//EN" "{url}"><a/>',
    "external entity": '<!DOCTYPE a [<!ENTITY e SYSTEM "{url}">]><a>&e;</a>',
    "parameter entity in a nested declaration": '<!DOCTYPE a [<!ENTITY % p SYSTEM "{url}"> <!ENTITY x "%p;">]><a/>',
    "doctype after a comment": '<!-- hello --><!DOCTYPE a SYSTEM "{url}"><a/>',
}


@pytest.mark.parametrize("how", ["file URL", "plain path"])
@pytest.mark.parametrize("case", sorted(HOSTILE))
@pytest.mark.parametrize("reader", ["fromstring", "read_message"])
def test_no_external_reference_opens_the_path_it_names(fifo: Path, case: str, how: str, reader: str) -> None:
    url = f"file://{fifo}" if how == "file URL" else str(fifo)
    data = HOSTILE[case].format(url=url).encode()
    read = safexml.fromstring if reader == "fromstring" else safexml.read_message
    finished, outcome = _outcome_within(5, lambda: read(data))
    opened = _opened_by_a_reader(fifo)
    assert finished and not opened, f"{case}: the parser opened {fifo}"
    if reader == "read_message":
        assert isinstance(outcome, ForbiddenDoctype), outcome


def test_an_xinclude_is_left_as_an_element_and_nothing_in_the_gateway_processes_one(fifo: Path) -> None:
    data = f'<a xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="file://{fifo}" parse="text"/></a>'
    for read in (safexml.fromstring, safexml.read_message):
        finished, outcome = _outcome_within(5, lambda read=read: read(data.encode()))  # type: ignore[misc]
        assert finished and not _opened_by_a_reader(fifo)
        assert isinstance(outcome, etree._Element) and outcome[0].tag == "{http://www.w3.org/2001/XInclude}include"
    # lxml's xinclude() reads parse="text" inclusions past every resolver: no module may call it.
    call = re.compile(r"\.xinclude\s*\(|XInclude\s*\(")
    callers = [p for p in (ROOT / "gateway").rglob("*.py") if call.search(p.read_text())]
    assert callers == []


def test_a_schema_location_in_a_message_is_never_followed(fifo: Path) -> None:
    xsd = xsd_path("repertorium-v1.xsd")
    schema = MessageSchema(xsd.read_bytes(), xsd.name, base_url=str(xsd))
    data = (
        '<rep:ConsultRequest xmlns:rep="urn:ksz-gateway:repertorium:v1" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="urn:ksz-gateway:repertorium:v1 file://{fifo}" '
        f'xsi:noNamespaceSchemaLocation="file://{fifo}"><rep:SSIN>x</rep:SSIN></rep:ConsultRequest>'
    ).encode()
    finished, outcome = _outcome_within(5, lambda: schema.check_request(safexml.read_message(data)))
    assert finished and not _opened_by_a_reader(fifo)
    assert isinstance(outcome, SchemaViolation)


_DEV_ZERO = r"""
import sys, time
from gateway.contract import safexml
cases = [
    b'<!DOCTYPE s:Envelope [<!ENTITY % p SYSTEM "file:///dev/zero"> %p;]><s:Envelope xmlns:s="urn:s"/>',
    b'<!DOCTYPE s:Envelope [<!ENTITY % p SYSTEM "file:///dev/zero"> %p;]>',
    b'<!DOCTYPE a SYSTEM "file:///dev/zero"><a/>',
    b'<!DOCTYPE a [<!ENTITY e SYSTEM "/dev/zero">]><a>&e;</a>',
]
for data in cases:
    for read in (safexml.fromstring, safexml.read_message):
        started = time.monotonic()
        try:
            read(data)
        except Exception as exc:
            pass
        print(round(time.monotonic() - started, 3))
"""


def test_dev_zero_is_answered_at_once_and_never_read() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _DEV_ZERO], capture_output=True, text=True, timeout=30, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    times = [float(line) for line in done.stdout.split()]
    assert len(times) == 8 and max(times) < 2.0, times


@pytest.mark.parametrize("encoding", [None, "utf-16"])
def test_the_answer_is_the_same_whether_the_named_path_exists_or_not(tmp_path: Path, encoding: str | None) -> None:
    existing = tmp_path / "present.dtd"
    existing.write_text('<!ENTITY leak "secret">')
    folder = tmp_path / "folder"
    folder.mkdir()
    answers = set()
    for target in (existing, tmp_path / "absent.dtd", folder, Path("/etc/hostname"), Path("/nonexistent/x")):
        for template in HOSTILE.values():
            text = template.format(url=f"file://{target}")
            data = text.encode(encoding) if encoding else text.encode()
            with pytest.raises(RequestError) as caught:
                safexml.read_message(data)
            answers.add((type(caught.value), caught.value.message))
    expected = NonUtf8Message if encoding else ForbiddenDoctype
    assert len(answers) == 1 and next(iter(answers))[0] is expected, answers


# -- the encoding is decided first: UTF-8 only -----------------------------------------------------------

DOC = '<a t="café">naïve 😀</a>'


@pytest.mark.parametrize(
    "data",
    [
        DOC.encode("utf-16"),  # with a byte-order mark
        DOC.encode("utf-16-le"),
        DOC.encode("utf-16-be"),
        DOC.encode("utf-32"),
        DOC.encode("utf-32-le"),
        DOC.encode("utf-32-be"),
        ("\n " + DOC).encode("utf-16-le"),
        '<?xml version="1.0" encoding="UTF-16"?>'.encode("utf-16") + DOC.encode("utf-16-le"),
        '<!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>'.encode("utf-16"),
        '<!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>'.encode("utf-16-be"),
        '<a t="café">naïve</a>'.encode("latin-1"),
        '<?xml version="1.0" encoding="ISO-8859-1"?><a>plain</a>'.encode("latin-1"),
        "<?xml version='1.0' encoding='iso-8859-1'?><a>café</a>".encode("latin-1"),
        b'<?xml version="1.0" encoding="UTF-7"?><a>+ADw-b/+AD4-</a>',
        '<?xml version="1.0" encoding="UTF-7"?><a/>'.encode("utf-7"),
        b"+/v8-<a/>",
        b'<?xml version="1.0"\tencoding = "windows-1252" ?><a/>',
        b'<?xml version="1.0" encoding="UTF-16"?><a/>',
        '<a t="café">naïve</a>'.encode("cp500"),  # EBCDIC
        b"<a>\xed\xa0\x80</a>",  # an encoded surrogate is not UTF-8
        b"<a>\xc0\xbc</a>",  # an overlong '<'
        b"\xef\xbb\xbf<a>\xff</a>",
    ],
)
def test_a_message_not_in_utf8_is_refused_before_it_is_parsed(data: bytes) -> None:
    with pytest.raises(NonUtf8Message) as caught:
        safexml.read_message(data)
    assert "UTF-8" in caught.value.message and "R1012" in caught.value.message
    assert isinstance(caught.value, MalformedMessage)


@pytest.mark.parametrize(
    "data",
    [
        DOC.encode(),
        b"\xef\xbb\xbf" + DOC.encode(),
        ('<?xml version="1.0" encoding="UTF-8"?>' + DOC).encode(),
        ("<?xml version='1.0' encoding='utf-8' standalone='yes'?>\n" + DOC).encode(),
        b'\xef\xbb\xbf<?xml version="1.0" encoding="utf8"?>' + DOC.encode(),
        ('<?xml version="1.0"?>' + DOC).encode(),
    ],
)
def test_utf8_is_read_with_or_without_a_byte_order_mark(data: bytes) -> None:
    root = safexml.read_message(data)
    assert root.get("t") == "café" and root.text == "naïve 😀"


def test_the_refusal_names_the_offending_byte() -> None:
    with pytest.raises(NonUtf8Message, match="0xE9 at offset 6"):
        safexml.read_message("<a>caf\u00e9</a>".encode("latin-1")[:-4] + b"</a>")


# -- DOCTYPEs and processing instructions ----------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b'<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>',
        b"<!DOCTYPE a><a/>",
        b'\xef\xbb\xbf<?xml version="1.0"?>\n<!-- x -->\n<!DOCTYPE a SYSTEM "http://127.0.0.1:9/x.dtd"><a/>',
        b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]><a>&lol2;</a>',
    ],
)
def test_a_doctype_is_refused(data: bytes) -> None:
    with pytest.raises(ForbiddenDoctype):
        safexml.read_message(data)


def test_doctype_text_inside_an_element_is_only_text() -> None:
    root = safexml.read_message(b"<a><![CDATA[<!DOCTYPE x>]]> &lt;!DOCTYPE y&gt;</a>")
    assert root.text == "<!DOCTYPE x> <!DOCTYPE y>"


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml-stylesheet href="x.xsl"?><a/>',
        b'<?xml version="1.0"?><?pi?><a/>',
        b"<!-- c --><?target data?><a/>",
        b"<a><?pi inside?></a>",
        b"<a><b/><?pi?>text</a>",
        b"<a/><?pi after?>",
    ],
)
def test_a_processing_instruction_is_refused_wherever_it_is(data: bytes) -> None:
    with pytest.raises(ForbiddenProcessingInstruction, match=r"SOAP 1\.1 section 3"):
        safexml.read_message(data)


def test_a_declaration_out_of_place_is_malformed_not_an_instruction() -> None:
    with pytest.raises(MalformedMessage) as caught:
        safexml.read_message(b'\n <?xml version="1.0"?><a/>')
    assert not isinstance(caught.value, ForbiddenProcessingInstruction)


def test_comments_are_dropped_from_a_message() -> None:
    root = safexml.read_message(b"<!-- before --><a><!-- inside --><b/></a><!-- after -->")
    assert [child.tag for child in root] == ["b"]


@pytest.mark.parametrize(
    "data",
    [b"", b"<a>", b"<a></b>", b"<a>&undeclared;</a>", b"<a>&#0;</a>", b"<a/><b/>", b"text", b"<a>\x00</a>"],
)
def test_what_is_not_well_formed_is_malformed(data: bytes) -> None:
    with pytest.raises(MalformedMessage):
        safexml.read_message(data)


# -- fuzzing: only the project's refusals ever come out --------------------------------------------------

_PIECES = [
    b'<?xml version="1.0" encoding="UTF-8"?>',
    b'<?xml version="1.0" encoding="UTF-16"?>',
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"<!DOCTYPE a [",
    b'<!ENTITY e "xx">',
    b'<!ENTITY % p SYSTEM "file:///dev/zero">',
    b"%p;",
    b"]>",
    b"&e;",
    b"&#0;",
    b"&#x10FFFF;",
    b"<?pi x?>",
    b"<!--",
    b"-->",
    b"<![CDATA[",
    b"]]>",
    b"<a>",
    b"</a>",
    b"<b ",
    b' x="1"',
    b' xmlns:n="urn:n"',
    b"/>",
    b">",
    b"\xc3\xa9",
    b"\xe9",
    b"\x00",
    b"<",
    b"&",
]
fuzz = st.lists(
    st.one_of(st.sampled_from(_PIECES), st.binary(max_size=6), st.text(max_size=6).map(str.encode)), max_size=40
).map(b"".join)
TIGHT = XmlLimits(max_depth=4, max_elements=12, max_attributes=2, max_namespaces=1, max_text_chars=8)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(fuzz, st.booleans())
def test_reading_any_bytes_gives_a_tree_or_a_request_error(data: bytes, tight: bool) -> None:
    started = time.monotonic()
    try:
        root = safexml.read_message(data, TIGHT if tight else XmlLimits())
    except RequestError:
        pass
    else:
        assert isinstance(root, etree._Element)
        assert not root.getroottree().docinfo.doctype
    assert time.monotonic() - started < 2.0
