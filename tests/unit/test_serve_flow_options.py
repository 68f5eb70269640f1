"""The operator's options for the access-control layer: ``serve --flows`` and ``--provider-timeout``, ``provider``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.entrypoints.cli import build_parser, main
from gateway.entrypoints.commands.serve import check_flow_catalogue

DEFAULT_FLOWS = Path(__file__).resolve().parents[2] / "gateway" / "data" / "flows.json"


@pytest.mark.parametrize("value", ["0.5", "10", "30"])
def test_a_provider_timeout_up_to_half_the_worker_timeout_is_accepted(value: str) -> None:
    args = build_parser().parse_args(["serve", "--provider-timeout", value])
    assert args.provider_timeout == float(value)


@pytest.mark.parametrize("value", ["0", "-1", "30.5", "soon", "nan"])
def test_a_provider_timeout_outside_its_range_is_refused(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["serve", "--provider-timeout", value])
    assert caught.value.code == 2
    assert "--provider-timeout" in capsys.readouterr().err


def test_serve_defaults_to_the_shipped_flow_catalogue_and_a_ten_second_timeout() -> None:
    args = build_parser().parse_args(["serve"])
    assert (args.flows, args.provider_timeout) == (None, 10.0)
    flows = check_flow_catalogue(None)
    assert flows is not None and "form.wet65.B" in flows.flows


def test_an_operators_catalogue_with_a_provider_is_accepted(tmp_path: Path) -> None:
    data = json.loads(DEFAULT_FLOWS.read_text(encoding="utf-8"))
    data["flows"] = [f for f in data["flows"] if f["id"] == "form.wet65.B"]
    data["flows"][0]["provider"] = {"url": "https://forms.example.org/wet65", "soap_action": "urn:example:Send"}
    path = tmp_path / "flows.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    flows = check_flow_catalogue(path)
    assert flows is not None
    assert list(flows.flows) == ["form.wet65.B"]
    assert flows.flows["form.wet65.B"].provider_url == "https://forms.example.org/wet65"


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"[]", "malformed flow catalogue"),
        (b'{"flows": [{"id": "x", "roles": ["MAIN"], "effects": [{"roles": ["MAIN"], "period": "Later"}]}]}', "Later"),
        (b'{"flows": [{"id": "x", "roles": ["MAIN"]}, {"id": "x", "roles": ["MAIN"]}]}', "defined twice"),
        (b'{"flows": [{"id": "x", "roles": ["MAIN"], "provider": {"url": "ftp://h/p"}}]}', "http:// or https://"),
        (b"\xff\xfe not UTF-8", "cannot be used"),
    ],
)
def test_serve_stops_at_a_malformed_flow_catalogue_before_opening_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, says: str
) -> None:
    path = tmp_path / "flows.json"
    path.write_bytes(content)
    database = tmp_path / "never.db"
    assert main(["serve", "--flows", str(path), "--db", str(database)]) == 2
    err = capsys.readouterr().err
    assert says in err and str(path) in err
    assert not database.exists()


@pytest.mark.parametrize(
    ("argv", "wrong"),
    [(["--mode", "late"], "--mode"), (["--port", "70000"], "--port"), (["--delay", "-1"], "--delay")],
)
def test_the_provider_command_refuses_bad_options(
    argv: list[str], wrong: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["provider", *argv])
    assert wrong in capsys.readouterr().err
