"""The serve options of operating: where the metrics are served and the token they ask for, checked before
anything is opened."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from gateway.entrypoints.cli import main
from gateway.entrypoints.commands.argtypes import metrics_path


@pytest.mark.parametrize("path", ["/metrics", "/ops/metrics", "/internal/prometheus.txt"])
def test_a_metrics_path_of_plain_segments_is_accepted(path: str) -> None:
    assert metrics_path(path) == path


@pytest.mark.parametrize(
    "path", ["metrics", "/", "/a//b", "/metrics/", "/m?x=1", "/m etrics", "/" + "m" * 120, "/ünits"]
)
def test_a_metrics_path_that_is_no_plain_path_is_refused(path: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="is not a path"):
        metrics_path(path)


@pytest.mark.parametrize("path", ["/health", "/ready", "/console", "/console/metrics", "/soap/metrics", "/connectors"])
def test_a_metrics_path_the_gateway_already_serves_is_refused(path: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="served by the gateway already"):
        metrics_path(path)


def test_serve_refuses_an_empty_or_missing_token_file_before_opening_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "token"
    empty.write_text(" \n")
    db = tmp_path / "d.db"
    assert main(["serve", "--db", str(db), "--metrics-token-file", str(empty)]) == 2
    assert f"the metrics token file {empty} is empty" in capsys.readouterr().err
    assert main(["serve", "--db", str(db), "--metrics-token-file", str(tmp_path / "missing")]) == 2
    assert "cannot be read" in capsys.readouterr().err
    assert not db.exists(), "nothing was opened"
