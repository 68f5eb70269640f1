"""``ksz-gateway validate``: schema errors with path and line, SOAP envelopes and bare documents, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.entrypoints.cli import main
from gateway.tools.validate import Problem, check_bytes

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
REP = "urn:ksz-gateway:repertorium:v1"

INTEGRATE = f"""<rep:IntegrateRequest xmlns:rep="{REP}">
  <rep:QualityCode>1</rep:QualityCode>
  <rep:Period>
    <rep:StartDate>{{start}}</rep:StartDate>
  </rep:Period>
  <rep:Person><rep:SSIN>85073003328</rep:SSIN></rep:Person>
  <rep:Person><rep:SSIN>{{second}}</rep:SSIN></rep:Person>
</rep:IntegrateRequest>
"""


def envelope(body: str) -> str:
    return f'<soap:Envelope xmlns:soap="{SOAP_ENV}">\n<soap:Body>\n{body}</soap:Body>\n</soap:Envelope>\n'


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_an_invalid_message_is_reported_with_path_and_line_and_exit_code_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "bad.xml", envelope(INTEGRATE.format(start="2015-01-40", second="1234")))
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert f"{path}: line 6: /rep:IntegrateRequest/rep:Period/rep:StartDate: " in out[0]
    assert "'2015-01-40'" in out[0]
    assert f"{path}: line 9: /rep:IntegrateRequest/rep:Person[2]/rep:SSIN: " in out[1]
    assert "'1234'" in out[1]
    assert out[-1] == "0 valid, 1 invalid"


def test_valid_envelopes_and_bare_documents_pass_with_exit_code_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = write(tmp_path, "bare.xml", INTEGRATE.format(start="2015-01-05", second="79021412363"))
    wrapped = write(tmp_path, "soap.xml", envelope(INTEGRATE.format(start="2015-01-05", second="79021412363")))
    assert main(["validate", str(bare), str(wrapped)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{bare}: valid", f"{wrapped}: valid", "2 valid, 0 invalid"]


def test_a_bare_document_is_checked_as_the_message_itself(tmp_path: Path) -> None:
    problems = check_bytes(INTEGRATE.format(start="2015-01-05", second="x").encode())
    assert [(p.path, p.line) for p in problems] == [("/rep:IntegrateRequest/rep:Person[2]/rep:SSIN", 7)]


def test_a_doctype_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = INTEGRATE.format(start="2015-01-05", second="79021412363")
    path = write(tmp_path, "doctype.xml", '<!DOCTYPE x [<!ENTITY e "boom">]>\n' + envelope(body))
    assert main(["validate", str(path)]) == 1
    assert "a DOCTYPE is not allowed" in capsys.readouterr().out


def test_malformed_xml_is_reported_with_its_line() -> None:
    [problem] = check_bytes(b"<rep:ConsultRequest xmlns:rep='urn:ksz-gateway:repertorium:v1'>\n<rep:SSIN>\n</rep:X>")
    assert problem.line == 3
    assert problem.message.startswith("not well-formed XML")


def test_an_envelope_must_hold_exactly_one_message() -> None:
    [empty] = check_bytes(envelope("").encode())
    assert empty.path == "/soap:Envelope/soap:Body"
    assert "is empty" in empty.message
    body = INTEGRATE.format(start="2015-01-05", second="79021412363")
    [two] = check_bytes(envelope(body + body).encode())
    assert "holds 2 elements" in two.message


def test_a_soap_fault_needs_no_schema() -> None:
    fault = "<soap:Fault><faultcode>soap:Client</faultcode><faultstring>no</faultstring></soap:Fault>"
    assert check_bytes(envelope(fault).encode()) == []


def test_a_message_of_an_unknown_namespace_is_an_error() -> None:
    [problem] = check_bytes(b'<x:Thing xmlns:x="urn:elsewhere"/>')
    assert problem == Problem("/Thing", 1, "no schema for namespace 'urn:elsewhere'")


def test_an_unreadable_file_counts_as_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "missing.xml")]) == 1
    captured = capsys.readouterr()
    assert "cannot read" in captured.err
    assert captured.out.strip().endswith("0 valid, 1 invalid")
