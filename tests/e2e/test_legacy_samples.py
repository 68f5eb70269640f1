"""The legacy front's sample folder replayed, as ``ksz-gateway replay samples/legacy`` does it, against a fresh
gateway's connector; a changed expectation inside an SSDNReply is caught with a diff of the document itself."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.entrypoints.cli import main
from gateway.tools.samples import load_manifest

FOLDER = Path(__file__).resolve().parents[2] / "samples" / "legacy"
CONNECTOR = "/connectors/webservice/KSZBCSSWebServiceConnectorPort"


def _url(server: Any) -> str:
    return f"http://{server.host}:{server.port}{CONNECTOR}"


def test_the_legacy_samples_pass_against_a_fresh_gateway(
    launch: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    server = launch()
    code = main(["replay", str(FOLDER), "--url", _url(server)])
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == f"{len(load_manifest(FOLDER).samples)} passed, 0 failed", out
    assert code == 0


def test_a_changed_registration_is_caught_inside_the_reply(
    launch: Callable[..., Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    altered = tmp_path / "legacy"
    shutil.copytree(FOLDER, altered)
    answer = altered / "register-with-end-date.response.xml"
    answer.write_text(answer.read_text().replace("2015-01-31+01:00", "2015-02-28+01:00"))
    code = main(["replay", str(altered), "--url", _url(launch()), "--only", "register-with-end-date"])
    out = capsys.readouterr().out
    assert code == 1
    assert re.search(r"^-\s+<common:EndDate[^>]*>2015-02-28\+01:00</common:EndDate>$", out, re.MULTILINE), out
    assert re.search(r"^\+\s+<common:EndDate[^>]*>2015-01-31\+01:00</common:EndDate>$", out, re.MULTILINE), out
