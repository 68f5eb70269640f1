"""The operator's options for secrets at rest and a lost database: ``--secret-key-file``, ``--db-timeout`` and
``--wait-for-db``, their defaults (the ``Settings``' own) and their bounds."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.entrypoints.cli import build_parser
from gateway.entrypoints.settings import Settings


def test_serve_defaults_to_no_key_file_a_one_second_pool_timeout_and_no_wait() -> None:
    args = build_parser().parse_args(["serve"])
    assert (args.secret_key_file, args.db_timeout, args.wait_for_db) == (None, 1.0, 0.0)
    defaults = Settings()
    assert (defaults.secret_key_file, defaults.db_timeout_seconds, defaults.wait_for_db_seconds) == (None, 1.0, 0.0)


def test_serve_takes_a_key_file_a_pool_timeout_and_a_wait() -> None:
    args = build_parser().parse_args(["serve", "--secret-key-file", "k", "--db-timeout", "2.5", "--wait-for-db", "30"])
    assert (args.secret_key_file, args.db_timeout, args.wait_for_db) == (Path("k"), 2.5, 30.0)


@pytest.mark.parametrize(
    ("option", "value"),
    [("--db-timeout", "0"), ("--db-timeout", "61"), ("--db-timeout", "soon"), ("--wait-for-db", "-1")],
)
def test_a_timeout_or_wait_outside_its_range_is_refused(
    option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["serve", option, value])
    assert caught.value.code == 2
    assert option in capsys.readouterr().err


@pytest.mark.parametrize(
    "command",
    [
        ["institutions", "add", "0212345668", "X", "17"],
        ["institutions", "list"],
        ["institutions", "rotate-secret", "0212345668"],
        ["institutions", "rotate-key", "--new-key-file", "n"],
        ["db", "upgrade"],
    ],
)
def test_every_command_that_reads_or_writes_secrets_takes_a_key_file(command: list[str]) -> None:
    args = build_parser().parse_args([*command, "--secret-key-file", "k"])
    assert args.secret_key_file == Path("k")


def test_rotate_key_needs_the_new_key_file(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["institutions", "rotate-key", "--secret-key-file", "k"])
    assert "--new-key-file" in capsys.readouterr().err
