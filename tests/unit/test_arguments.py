"""The command line's argument types (gateway.entrypoints.commands.argtypes), through argparse as the commands use
them: a good word becomes its value, a bad one stops the command with one sentence naming the argument."""

from __future__ import annotations

import argparse
from datetime import date

import pytest

from gateway.entrypoints.commands.argtypes import day, seconds, tcp_port


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ksz-gateway")
    p.add_argument("--today", type=day)
    p.add_argument("--port", type=tcp_port(zero_picks_free=True))
    p.add_argument("--delay", type=seconds(0, 3600))
    return p


def test_good_words_become_their_values() -> None:
    args = parser().parse_args(["--today", "2015-01-10", "--port", "0", "--delay", "2.5"])
    assert (args.today, args.port, args.delay) == (date(2015, 1, 10), 0, 2.5)
    assert parser().parse_args(["--port", "65535", "--delay", "3600"]).port == 65535


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--today", "2015-13-01"], "argument --today: date '2015-13-01' is not an ISO date (YYYY-MM-DD)"),
        (["--port", "http"], "argument --port: 'http' is not a whole number"),
        (["--port", "65536"], "argument --port: 65536 must be from 0 to 65535 (a TCP port; 0 picks a free one)"),
        (["--delay", "-1"], "argument --delay: -1 must be from 0 to 3600 seconds"),
    ],
)
def test_a_bad_word_stops_the_command_with_one_sentence(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        parser().parse_args(argv)
    assert stopped.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"ksz-gateway: error: {says}"
