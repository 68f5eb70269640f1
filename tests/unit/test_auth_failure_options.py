"""The ``--auth-failures-...`` options of ``serve`` and ``security blocked``, and ``security failures --since``:
bounded, their defaults those of ``Settings``, contradicting numbers refused before anything starts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.app.auth_guard import ThrottlePolicy
from gateway.entrypoints.cli import build_parser, main
from gateway.entrypoints.commands.security import since, throttle_settings
from gateway.entrypoints.compose import throttle_policy
from gateway.entrypoints.settings import Settings


def test_the_defaults_are_the_settings_and_make_the_policy_the_guard_uses_by_default() -> None:
    args = build_parser().parse_args(["serve"])
    defaults = Settings()
    assert Settings(**throttle_settings(args), console_key=defaults.console_key) == defaults
    assert throttle_policy(Settings()) == ThrottlePolicy()


def test_every_option_reaches_its_setting() -> None:
    argv = ["--auth-failures-window", "60", "--auth-failures-soft", "2", "--auth-failures-hard", "3"]
    argv += ["--auth-failures-lockout", "120", "--auth-failures-address-limit", "7", "--auth-failures-delay", "0.5"]
    argv += ["--auth-failures-retention", "2", "--auth-failures-refresh", "0"]
    policy = throttle_policy(Settings(**throttle_settings(build_parser().parse_args(["serve", *argv]))))
    assert policy == ThrottlePolicy(60, 2, 3, 120, 7, 0.5, 2 * 86400, 0.0)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--auth-failures-soft", "0"),
        ("--auth-failures-hard", "1001"),
        ("--auth-failures-window", "soon"),
        ("--auth-failures-lockout", "0"),
        ("--auth-failures-address-limit", "-3"),
        ("--auth-failures-delay", "0"),
        ("--auth-failures-delay", "nan"),
        ("--auth-failures-retention", "0"),
        ("--auth-failures-refresh", "61"),
    ],
)
def test_a_value_out_of_bounds_stops_serve_naming_its_option(
    option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["serve", option, value])
    assert stopped.value.code == 2
    assert f"argument {option}:" in capsys.readouterr().err


def test_a_soft_limit_above_the_hard_one_stops_serve_before_it_opens_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "never.db"
    assert main(["serve", "--db", str(db), "--auth-failures-soft", "11"]) == 2
    assert "the --auth-failures-... options contradict each other" in capsys.readouterr().err
    assert not db.exists()
    assert main(["security", "blocked", "--db", str(db), "--auth-failures-soft", "11"]) == 2


def test_since_takes_a_duration_back_from_now_or_a_moment() -> None:
    before = datetime.now(UTC)
    assert before - timedelta(minutes=30, seconds=5) < since("30m") <= datetime.now(UTC) - timedelta(minutes=30)
    assert since("2015-01-10T08:00") == datetime(2015, 1, 10, 8, 0, tzinfo=UTC)
    assert since("2015-01-10T09:00+01:00") == datetime(2015, 1, 10, 8, 0, tzinfo=UTC)


def test_security_failures_refuses_a_since_it_cannot_read(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["security", "failures", "--since", "yesterday"])
    assert "neither a duration such as 30m" in capsys.readouterr().err


def test_the_commands_show_and_lift_what_a_memory_directory_recorded(capsys: pytest.CaptureFixture[str]) -> None:
    from gateway.adapters.storage.memory import MemoryStore
    from gateway.app.ports import AuthFailure

    url = "memory:security-commands"
    store = MemoryStore(url)
    store.upgrade()
    now = datetime.now(UTC)
    for n in range(10):
        store.record_auth_failure(
            AuthFailure(now - timedelta(seconds=n), "repertorium", "0212345668", "192.0.2.1", "X")
        )
    assert main(["security", "failures", "--db", url, "--limit", "3"]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert len(shown) == 4 and shown[-1] == "3 failed authentication(s)."
    assert "repertorium" in shown[0] and "192.0.2.1" in shown[0] and "0212345668" in shown[0]
    assert main(["security", "blocked", "--db", url]) == 0
    assert "locked" in capsys.readouterr().out
    assert main(["security", "unblock", "--db", url, "--address", "192.0.2.1"]) == 0
    assert "Cleared 10 failed authentication(s) from 192.0.2.1" in capsys.readouterr().out
    assert main(["security", "blocked", "--db", url]) == 0
    assert capsys.readouterr().out.strip() == "0 throttle(s) holding."
    store.close()
