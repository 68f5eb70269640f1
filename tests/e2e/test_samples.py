"""The sample folder replayed against a real gateway, and the recording proxy between a real client and gateway.

Each test starts its own fresh ``ksz-gateway serve --demo`` (the samples assume an empty directory and the day
their manifest names) and drives ``ksz-gateway replay`` / ``record`` as a user would: the replay through
``main(argv)``, the proxy as a process stopped with Ctrl-C (SIGINT).
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from gateway.client import AuthenticationFailed, RepertoriumClient
from gateway.entrypoints.cli import main
from gateway.tools.samples import load_manifest, request_path

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
DAY = load_manifest(SAMPLES).day


@pytest.fixture
def fresh(launch: Callable[..., Any]) -> Callable[[], Any]:
    """Starts a new gateway on an empty database with the samples' day and flow catalogue."""
    assert DAY is not None, "the sample manifest names the gateway's day"
    return lambda: launch("--today", DAY.isoformat(), "--flows", str(SAMPLES / "flows.json"))


def replay(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["replay", *args])
    return code, capsys.readouterr().out


def test_the_whole_sample_folder_passes_against_a_fresh_gateway(
    fresh: Callable[[], Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    server = fresh()
    code, out = replay(capsys, str(SAMPLES), "--url", server.endpoint, "--junit", str(tmp_path / "junit.xml"))
    count = len(load_manifest(SAMPLES).samples)
    assert out.splitlines()[-1] == f"{count} passed, 0 failed", out
    assert code == 0
    suite = etree.parse(str(tmp_path / "junit.xml")).getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == (str(count), "0")


@pytest.fixture
def altered_samples(tmp_path: Path) -> Path:
    """A copy of the samples whose first answer expects ALREADY_INTEGRATED instead of INTEGRATED."""
    folder = tmp_path / "samples"
    shutil.copytree(SAMPLES, folder)
    response = folder / "integrate-open-end.response.xml"
    text = response.read_text(encoding="utf-8")
    assert text.count("<rep:Status>INTEGRATED</rep:Status>") == 1
    response.write_text(text.replace("<rep:Status>INTEGRATED<", "<rep:Status>ALREADY_INTEGRATED<"), encoding="utf-8")
    return folder


def test_a_changed_expected_response_is_caught_with_a_readable_diff(
    fresh: Callable[[], Any], altered_samples: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    server = fresh()
    report = tmp_path / "report" / "junit.xml"
    only = ["integrate-open-end", "desintegrate-splits-a-period"]
    code, out = replay(capsys, str(altered_samples), "--url", server.endpoint, "--only", *only, "--junit", str(report))
    assert code == 1
    assert "FAIL integrate-open-end: the answer differs from integrate-open-end.response.xml" in out
    assert "--- integrate-open-end.response.xml\n+++ actual\n" in out
    assert "-        <rep:Status>ALREADY_INTEGRATED</rep:Status>\n" in out
    assert "+        <rep:Status>INTEGRATED</rep:Status>\n" in out
    assert "FAIL desintegrate-splits-a-period" not in out
    assert out.splitlines()[-1] == "1 passed, 1 failed"

    root = etree.parse(str(report)).getroot()  # well-formed, or this raises
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "0")
    failed = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["integrate-open-end"]
    assert "+        <rep:Status>INTEGRATED</rep:Status>" in str(failed[0].findtext("failure"))


def test_a_gateway_that_cannot_be_reached_fails_the_replay(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    url = f"http://127.0.0.1:{port}/soap/repertorium"
    code, out = replay(capsys, str(SAMPLES), "--url", url, "--only", "integrate-open-end")
    assert code == 1
    assert "FAIL integrate-open-end: transport error" in out
    assert out.splitlines()[-1] == "0 passed, 1 failed"


# -- the recording proxy ------------------------------------------------------------------------------------


def ksz_gateway() -> str:
    script = Path(sys.executable).with_name("ksz-gateway")
    return str(script if script.exists() else ROOT / ".venv" / "bin" / "ksz-gateway")


@pytest.fixture
def recording(tmp_path: Path, fresh: Callable[[], Any]) -> Iterator[tuple[str, Path, subprocess.Popen[str]]]:
    """``ksz-gateway record`` in front of a fresh gateway: (the proxy's endpoint, its folder, its process)."""
    server = fresh()
    folder = tmp_path / "recorded"
    process = subprocess.Popen(
        [ksz_gateway(), "record", "--url", server.endpoint, "--out", str(folder), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    found = re.match(r"Recording http://127\.0\.0\.1:(\d+) -> ", first)
    assert found, first
    try:
        yield f"http://127.0.0.1:{found.group(1)}/soap/repertorium", folder, process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=20)
    assert process.returncode == 0, out
    return out


def test_recorded_client_calls_replay_against_a_fresh_gateway(
    recording: tuple[str, Path, subprocess.Popen[str]],
    fresh: Callable[[], Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    proxy, folder, process = recording
    person, household = "85073003328", ["81061513393", "83092224429"]
    with RepertoriumClient(proxy, "0212345668", "demo-ocmw-a", timeout=30) as client:
        assert client.integrate([person], code=1, start=date(2014, 12, 1)).persons[0].status == "INTEGRATED"
        split = client.desintegrate([person], code=1, start=date(2015, 1, 1), end=date(2015, 1, 14))
        periods = split.persons[0].periods
        assert periods is not None and [str(p) for p in periods] == ["2014-12-01/2014-12-31", "2015-01-15/2015-01-31"]
        assert client.integrate(household, code=2, start=date(2015, 1, 1), reference="REC-1").ok == "YES"
        assert client.integrate(household, code=2, start=date(2015, 1, 1), reference="REC-1").ok == "YES"
    intruder = RepertoriumClient(proxy, "0212345767", "not-the-secret", timeout=30)
    with intruder, pytest.raises(AuthenticationFailed):
        intruder.consult(person, start=date(2015, 1, 1))

    errors: list[BaseException] = []

    def consult(who: tuple[str, str]) -> None:
        try:
            with RepertoriumClient(proxy, *who, timeout=30) as client:
                for _ in range(3):
                    assert len(client.consult(person, start=date(2014, 1, 1)).integrations) == 2
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    who = [("0212345668", "demo-ocmw-a"), ("0212345767", "demo-ocmw-b"), ("0212345866", "demo-family-c")]
    threads = [threading.Thread(target=consult, args=(w,)) for w in who * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []

    out = stop(process)
    assert "Stopped; " in out and "lists 23 sample(s)" in out

    manifest = load_manifest(folder)
    names = manifest.names()
    assert len(names) == len(set(names)) == 23
    assert names[0] == "0001-integrate" and names[1] == "0002-desintegrate"
    assert all(s.day is None for s in manifest.samples)
    assert manifest.samples[0].sign is not None and manifest.samples[0].sign.identity == "0212345668"
    assert [s.depends_on for s in manifest.samples[1:3]] == [(names[0],), (names[1],)]
    assert all(b"Security" not in request_path(folder, n).read_bytes() for n in names)
    raw = json.loads((folder / "manifest.json").read_text())
    assert raw["day"] is None and all(entry["day"] is None for entry in raw["samples"])

    refused = manifest.samples[4]
    assert refused.sign is not None and refused.sign.identity == "0212345767"
    assert refused.sign.secret is not None and refused.sign.secret != "demo-ocmw-b"

    code, replayed = replay(capsys, str(folder), "--url", fresh().endpoint)
    assert replayed.splitlines()[-1] == "23 passed, 0 failed", replayed
    assert code == 0
