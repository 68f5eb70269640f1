"""The configuration file, the KSZ_GATEWAY_* variables and the options, layered as ``serve`` reads them
(gateway.entrypoints.configuration), and ``ksz-gateway config check``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from gateway.entrypoints.cli import build_parser, main
from gateway.entrypoints.commands.argtypes import whole_number
from gateway.entrypoints.configuration import (
    SettingError,
    configure,
    keys_of,
    masked,
    serve_parser,
    with_password,
)


@pytest.fixture
def config_file(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str) -> Path:
        path = tmp_path / "gateway.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


def configured(*argv: str, environ: dict[str, str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    return configure(parser, parser.parse_args(list(argv)), list(argv), environ or {})


def test_every_option_of_serve_is_a_key_with_its_variable() -> None:
    keys = keys_of(serve_parser(build_parser()))
    assert {"host", "port", "db", "db_password_file", "workers", "forwarded_allow_ips", "demo", "today"} <= set(keys)
    assert "config" not in keys and "help" not in keys
    assert keys["keep_alive"].variable == "KSZ_GATEWAY_KEEP_ALIVE"
    assert keys["demo"].is_flag and not keys["port"].is_flag


def test_the_file_sets_what_the_options_would(config_file: Callable[[str], Path]) -> None:
    path = config_file(
        'host = "0.0.0.0"\nport = 9090\nworkers = 3\nrequest_timeout = 2.5\ndemo = true\ntoday = 2015-01-10\n'
        'forwarded_allow_ips = ["127.0.0.1", "10.0.0.0/8"]\ncertfile = "server.pem"\n'
    )
    args = configured("serve", "--config", str(path))
    assert (args.host, args.port, args.workers, args.request_timeout) == ("0.0.0.0", 9090, 3, 2.5)
    assert args.demo is True and args.today == date(2015, 1, 10)
    assert args.forwarded_allow_ips == ("127.0.0.1", "10.0.0.0/8")
    assert args.certfile == Path("server.pem")
    assert args.threads == 8  # untouched: serve's default
    assert args.config == path


def test_a_list_may_also_be_the_word_the_option_takes(config_file: Callable[[str], Path]) -> None:
    path = config_file('forwarded_allow_ips = "127.0.0.1, ::1"\n')
    assert configured("serve", "--config", str(path)).forwarded_allow_ips == ("127.0.0.1", "::1")


def test_variables_override_the_file_and_options_override_both(config_file: Callable[[str], Path]) -> None:
    path = config_file("port = 9090\nworkers = 3\nthreads = 4\ndemo = true\n")
    environ = {"KSZ_GATEWAY_WORKERS": "5", "KSZ_GATEWAY_THREADS": "6", "KSZ_GATEWAY_DEMO": "no"}
    args = configured("serve", "--config", str(path), "--threads", "7", environ=environ)
    assert (args.port, args.workers, args.threads, args.demo) == (9090, 5, 7, False)


def test_an_option_given_with_its_default_value_still_wins(config_file: Callable[[str], Path]) -> None:
    path = config_file("port = 9090\n")
    assert configured("serve", "--config", str(path), "--port", "8080").port == 8080


def test_variables_apply_without_a_file_and_the_variable_may_name_the_file(
    config_file: Callable[[str], Path],
) -> None:
    assert configured("serve", environ={"KSZ_GATEWAY_PORT": "9191"}).port == 9191
    path = config_file("port = 9292\n")
    assert configured("serve", environ={"KSZ_GATEWAY_CONFIG": str(path)}).port == 9292


def test_an_option_added_to_serve_is_a_key_with_no_further_code(config_file: Callable[[str], Path]) -> None:
    parser = build_parser()
    serve_parser(parser).add_argument("--brand-new-limit", type=whole_number(1, 10), default=1)
    path = config_file("brand_new_limit = 7\n")
    argv = ["serve", "--config", str(path)]
    assert configure(parser, parser.parse_args(argv), argv, {}).brand_new_limit == 7
    with pytest.raises(SettingError, match=r"KSZ_GATEWAY_BRAND_NEW_LIMIT: brand_new_limit: 11 must be from 1 to 10"):
        configure(parser, parser.parse_args(argv), argv, {"KSZ_GATEWAY_BRAND_NEW_LIMIT": "11"})


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("port = 8080\nworkers = 0\n", ":2: workers: 0 must be at least 1"),
        ('\n\nport = "http"\n', ":3: port: 'http' is not a whole number"),
        ("port = 70000\n", ":1: port: 70000 must be from 1 to 65535 (a TCP port)"),
        ("workres = 2\n", ":1: workres: is no setting of ksz-gateway serve (did you mean workers?)"),
        ('"keep-alive" = 2\n', ":1: keep-alive: is no setting of ksz-gateway serve (did you mean keep_alive?)"),
        ('demo = "yes"\n', ":1: demo: is true or false, not the text 'yes'"),
        ("port = true\n", ":1: port: takes PORT, not true"),
        ("workers = [1, 2]\n", ":1: workers: takes one value (N), not a list"),
        ("host = 127\n", ":1: host: takes text in quotes, not 127"),
        ('forwarded_allow_ips = ["10.0.0.1/8"]\n', ":1: forwarded_allow_ips: '10.0.0.1/8' is not an IP address"),
        ("today = 2015-02-30\n", ": is not valid TOML"),
        ("# the server\n[server]\nport = 1\n", ":2: server: is a table; the configuration's keys stand at the top"),
        ('config = "other.toml"\n', ":1: config: a configuration file cannot name another one"),
        ("port = \n", ": is not valid TOML: Invalid value (at line 1, column 8)"),
    ],
)
def test_a_mistake_names_the_file_its_line_the_key_and_the_reason(
    text: str, says: str, config_file: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_file(text)
    assert main(["serve", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ksz-gateway: error: {path}{says}"), err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_lines_are_counted_past_multiline_values_and_comments(
    config_file: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_file(
        '# workers = 0 (a comment, not the key)\nforwarded_allow_ips = [\n  "127.0.0.1",\n  "::1",\n]\n'
        'host = """\nworkers = 1\n"""\n\n  workers = 0\n'
    )
    assert main(["serve", "--config", str(path)]) == 2
    assert capsys.readouterr().err == f"ksz-gateway: error: {path}:10: workers: 0 must be at least 1\n"


def test_a_bad_variable_is_named_and_an_unknown_one_is_warned_of(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KSZ_GATEWAY_WORKER", "3")
    monkeypatch.setenv("KSZ_GATEWAY_THREADS", "many")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "ksz-gateway: warning: KSZ_GATEWAY_WORKER names no setting of ksz-gateway serve and is ignored "
        "(did you mean KSZ_GATEWAY_WORKERS?).",
        "ksz-gateway: error: KSZ_GATEWAY_THREADS: threads: 'many' is not a whole number",
    ]


def test_a_missing_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--config", str(tmp_path / "absent.toml")]) == 2
    assert (
        capsys.readouterr().err
        == f"ksz-gateway: error: {tmp_path / 'absent.toml'}: cannot be read: No such file or directory\n"
    )


def test_other_commands_take_only_the_database_from_the_file(
    config_file: Callable[[str], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "from-config.db"
    path = config_file(f'db = "{db}"\nport = 9090\nworkers = 4\n')
    args = configured("institutions", "list", "--config", str(path))
    assert args.db == str(db) and not hasattr(args, "port")
    assert main(["institutions", "list", "--config", str(path)]) == 0
    assert db.exists()
    assert configured("audit", "--config", str(path), "--db", "other.db").db == "other.db"


# -- the database password --------------------------------------------------------------------------------


def test_the_password_file_goes_into_the_url_in_memory_only(config_file: Callable[[str], Path], tmp_path: Path) -> None:
    secret = tmp_path / "db-password"
    secret.write_text("p@ss:w/rd %\n")
    path = config_file(f'db = "postgresql://ksz@db.example:5433/ksz?sslmode=require"\ndb_password_file = "{secret}"\n')
    args = configured("serve", "--config", str(path))
    assert args.db == "postgresql://ksz:p%40ss%3Aw%2Frd%20%25@db.example:5433/ksz?sslmode=require"
    assert masked(args.db) == "postgresql://ksz:***@db.example:5433/ksz?sslmode=require"
    assert configured("db", "upgrade", "--db", "postgresql://u@h/d", "--db-password-file", str(secret)).db == (
        "postgresql://u:p%40ss%3Aw%2Frd%20%25@h/d"
    )


@pytest.mark.parametrize(
    ("db", "content", "says"),
    [
        ("directory.db", "x", "a password file is for a PostgreSQL database"),
        ("postgresql://u:old@h/d", "x", "db already holds a password"),
        ("postgresql://u@h/d", "", "is empty"),
        ("postgresql://u@h/d", None, "cannot be read: No such file or directory"),
    ],
)
def test_a_password_file_that_cannot_serve_is_named(
    db: str, content: str | None, says: str, config_file: Callable[[str], Path], tmp_path: Path
) -> None:
    secret = tmp_path / "db-password"
    if content is not None:
        secret.write_text(content)
    path = config_file(f'db = "{db}"\n\ndb_password_file = "{secret}"\n')
    with pytest.raises(SettingError) as raised:
        configured("serve", "--config", str(path))
    assert raised.value.where == f"{path}:3" and raised.value.key == "db_password_file"
    assert says in raised.value.reason


def test_a_url_gets_a_password_without_a_user_too() -> None:
    assert with_password("postgresql://db.example/ksz", "s") == "postgresql://:s@db.example/ksz"


# -- config check ---------------------------------------------------------------------------------------------


def test_config_check_prints_the_effective_settings_with_secrets_masked(
    config_file: Callable[[str], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    secret = tmp_path / "db-password"
    secret.write_text("hunter2\n")
    path = config_file(f'# a comment\ndb = "postgresql://ksz@db/ksz"\ndb_password_file = "{secret}"\nworkers = 2\n')
    monkeypatch.setenv("KSZ_GATEWAY_PORT", "9000")
    assert main(["config", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "hunter2" not in out
    lines = {line.split("=")[0].strip(): line for line in out.splitlines() if " = " in line}
    assert lines["workers"].split("#")[1].strip() == f"{path}:4"
    assert lines["port"].split("=")[1].split()[0] == "9000" and lines["port"].endswith("# KSZ_GATEWAY_PORT")
    assert '"postgresql://ksz@db/ksz"' in lines["db"]  # the URL as written; the password stays in its file
    assert lines["threads"].rstrip().endswith("# default")
    assert out.splitlines()[-1] == f"{path}: serve would start with these settings."


def test_config_check_refuses_what_serve_would_refuse(
    config_file: Callable[[str], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_file(f'certfile = "{tmp_path / "missing.pem"}"\n')
    assert main(["config", "check", str(path)]) == 2
    assert capsys.readouterr().err == "ksz-gateway: error: --certfile and --keyfile go together.\n"
    path = config_file("threads = 1000\n")
    assert main(["config", "check", str(path)]) == 2
    assert capsys.readouterr().err == f"ksz-gateway: error: {path}:1: threads: 1000 must be from 1 to 256\n"
