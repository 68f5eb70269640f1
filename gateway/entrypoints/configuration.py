"""The gateway's configuration: a TOML file, ``KSZ_GATEWAY_*`` environment variables and the command line, in
that rising order of precedence over ``serve``'s defaults.

Invariant: the keys are ``serve``'s options and nothing else, read off its argparse parser (an option's ``dest``
is its key, ``KSZ_GATEWAY_`` and the dest in capitals its variable), and each value passes through the very
``type`` (and ``choices``) the option parses its word with; so an option added to ``serve`` is a key at once, and
a value is accepted in the file exactly when it would be on the command line. Every mistake is one
``SettingError`` naming the file and line (or the variable), the key and the reason; an unknown key in the file is
such a mistake, an unknown variable only a warning (container platforms set variables of their own under a
service's name). Other commands that take ``--config`` read from it only the keys they share with ``serve`` (the
database). A PostgreSQL password may come from the file ``db_password_file`` names: it is put into the URL in
memory only, never on a command line.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from gateway.errors import ConfigurationError

__all__ = [
    "CONFIG_KEY",
    "ENV_PREFIX",
    "PASSWORD_FILE_KEY",
    "ConfigFile",
    "Effective",
    "Key",
    "SettingError",
    "check_keys",
    "configure",
    "database_options",
    "effective",
    "given_on_command_line",
    "is_secret",
    "keys_of",
    "leaf_parser",
    "masked",
    "read_config",
    "read_secret",
    "resolve_password",
    "serve_parser",
    "unknown_variables",
    "with_password",
]

ENV_PREFIX = "KSZ_GATEWAY_"
CONFIG_KEY = "config"  # --config FILE: names the file, is no key in it
PASSWORD_FILE_KEY = "db_password_file"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_SECRET_WORDS = ("password", "secret", "token")


class SettingError(ConfigurationError):
    """A configuration value that cannot be used: ``where`` (``FILE:LINE``, a variable, an option), ``key``."""

    def __init__(self, where: str, key: str | None = None, reason: str | None = None) -> None:
        said = where if reason is None else f"{where}: {key}: {reason}" if key else f"{where}: {reason}"
        super().__init__(said)
        self.where = where
        self.key = key
        self.reason = reason


# -- the keys, from the parser ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """One option of ``serve`` as a configuration key."""

    name: str  # the option's dest
    action: argparse.Action

    @property
    def flag(self) -> str:
        return max(self.action.option_strings, key=len)

    @property
    def variable(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def is_flag(self) -> bool:
        """An option that takes no value (``store_true`` and its kin): a boolean key."""
        return self.action.nargs == 0

    @property
    def takes_list(self) -> bool:
        """An option whose value is a list: several words, repeated, or one comma-separated word."""
        nargs = self.action.nargs
        repeated = isinstance(self.action, argparse._AppendAction)
        return repeated or nargs in ("*", "+") or isinstance(nargs, int) or self.action.type in _comma_types()

    def from_toml(self, value: Any, where: str) -> Any:
        """The option's value for a TOML value, or ``SettingError``."""
        if self.is_flag:
            if not isinstance(value, bool):
                raise SettingError(where, self.name, f"is true or false, not {_shown(value)}")
            return self._flag(value)
        if isinstance(value, bool):
            raise SettingError(where, self.name, f"takes {self._wants()}, not {str(value).lower()}")
        if isinstance(value, list):
            if not self.takes_list:
                raise SettingError(where, self.name, f"takes one value ({self._wants()}), not a list")
            if any(isinstance(item, list | dict | bool) for item in value):
                raise SettingError(where, self.name, "is a list of words or numbers")
            words = [_word(item) for item in value]
            if self.action.type in _comma_types():
                return self._convert(",".join(words), where)
            return [self._convert(word, where) for word in words]
        if isinstance(value, dict):
            raise SettingError(where, self.name, "is a value, not a table")
        if self.takes_list and self.action.type not in _comma_types():
            return [self._convert(_word(value), where)]
        if self.action.type is None and not isinstance(value, str):
            raise SettingError(where, self.name, f"takes text in quotes, not {_shown(value)}")
        return self._convert(_word(value), where)

    def from_text(self, text: str, where: str) -> Any:
        """The option's value for a variable's text, or ``SettingError``."""
        if self.is_flag:
            word = text.strip().lower()
            if word not in _TRUE + _FALSE:
                raise SettingError(where, None, f"{text!r} is not true or false (1/0, yes/no, on/off)")
            return self._flag(word in _TRUE)
        if self.takes_list and self.action.type not in _comma_types():
            return [self._convert(w.strip(), where) for w in text.split(",") if w.strip()]
        return self._convert(text, where)

    def _flag(self, on: bool) -> Any:
        const = self.action.const
        if const is None or isinstance(const, bool):
            return on  # the key is the dest: ``x = false`` sets x false, whichever way the flag turns it
        return const if on else self.action.default

    def _convert(self, word: str, where: str) -> Any:
        parse = self.action.type
        if parse is None:
            value: Any = word
        else:
            assert callable(parse)
            try:
                value = parse(word)
            except argparse.ArgumentTypeError as exc:
                raise SettingError(where, self.name, str(exc)) from exc
            except (TypeError, ValueError) as exc:
                raise SettingError(where, self.name, f"invalid value {word!r}") from exc
        choices = self.action.choices
        if choices is not None and value not in choices:
            listed = ", ".join(repr(c) for c in choices)
            raise SettingError(where, self.name, f"{word!r} is not one of {listed}")
        return value

    def _wants(self) -> str:
        return f"{self.action.metavar or self.name.upper()}"


def _comma_types() -> tuple[Any, ...]:
    """The argument types whose one word is a comma-separated list: the file may give their value as an array."""
    from gateway.entrypoints.commands.argtypes import address_list

    return (address_list,)


def _word(value: Any) -> str:
    """A TOML scalar as the word the command line would carry (a TOML date as YYYY-MM-DD)."""
    if isinstance(value, date | datetime | time):
        return value.isoformat()
    return str(value)


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return str(value).lower() if isinstance(value, bool) else repr(value)


def keys_of(parser: argparse.ArgumentParser) -> dict[str, Key]:
    """The configuration keys of a command: each optional argument but ``--help`` and ``--config``."""
    keys: dict[str, Key] = {}
    for action in parser._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction | argparse._VersionAction):
            continue
        if action.dest in (CONFIG_KEY, argparse.SUPPRESS):
            continue
        keys[action.dest] = Key(action.dest, action)
    return keys


def leaf_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The (sub-)parser of the command ``args`` were parsed for."""
    while True:
        chosen = None
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                name = getattr(args, action.dest, None)
                if name is not None:
                    chosen = action.choices[name]
        if chosen is None:
            return parser
        parser = chosen


def _every_action(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    seen: set[int] = set()
    pending = [parser]
    while pending:
        p = pending.pop()
        if id(p) in seen:
            continue
        seen.add(id(p))
        for action in p._actions:
            yield action
            if isinstance(action, argparse._SubParsersAction):
                pending.extend(action.choices.values())


def given_on_command_line(parser: argparse.ArgumentParser, argv: Sequence[str]) -> set[str]:
    """The dests the command line itself sets (parsed again with every default suppressed)."""
    actions = list(_every_action(parser))
    saved = [(action, action.default) for action in actions]
    try:
        for action in actions:
            action.default = argparse.SUPPRESS
        return set(vars(parser.parse_args(list(argv))))
    finally:
        for action, default in saved:
            action.default = default


# -- the file -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigFile:
    """A configuration file as read: its values by key and each key's line."""

    path: Path
    values: Mapping[str, Any]
    lines: Mapping[str, int] = field(default_factory=dict)

    def where(self, key: str) -> str:
        line = self.lines.get(key)
        return f"{self.path}:{line}" if line else str(self.path)


_KEY_LINE = re.compile(r"""^\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*[=.]""")
_TABLE_LINE = re.compile(r"^\s*\[")


def _key_lines(text: str) -> dict[str, int]:
    """The line of each top-level key (tomllib keeps no positions; a key stands at the start of its line)."""
    lines: dict[str, int] = {}
    in_table = False
    in_multiline: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if in_multiline is not None:
            if line.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        if _TABLE_LINE.match(line):
            in_table = True
            name = line.strip().strip("[]").strip().split(".")[0].strip("\"'")
            lines.setdefault(name, number)
            continue
        found = _KEY_LINE.match(line)
        if found and not in_table:
            lines.setdefault(next(g for g in found.groups() if g is not None), number)
        for quotes in ('"""', "'''"):
            if line.count(quotes) % 2 == 1:
                in_multiline = quotes
    return lines


def read_config(path: Path) -> ConfigFile:
    """The configuration file at ``path``: valid TOML, keys at its top level (no tables)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise SettingError(str(path), None, f"cannot be read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise SettingError(str(path), None, f"is not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingError(str(path), None, f"is not valid TOML: {exc}") from exc
    config = ConfigFile(path, values, _key_lines(text))
    for key, value in values.items():
        if isinstance(value, dict):
            raise SettingError(
                config.where(key), key, "is a table; the configuration's keys stand at the top of the file"
            )
    return config


# -- the layers ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Effective:
    """The value of each key and where it came from: ``default``, ``FILE:LINE``, a variable, or ``option``."""

    values: Mapping[str, Any]
    sources: Mapping[str, str]


def _closest(name: str, known: Iterable[str]) -> str | None:
    """The known key ``name`` was likely meant to be (dashes for underscores, a letter wrong), if any."""
    known = list(known)
    normalized = name.replace("-", "_").lower()
    if normalized in known:
        return normalized
    close = difflib.get_close_matches(normalized, known, n=1)
    return close[0] if close else None


def check_keys(config: ConfigFile, known: Mapping[str, Key]) -> None:
    """Every key of the file is a key of ``serve``."""
    for key in config.values:
        if key in known:
            continue
        if key == CONFIG_KEY:
            raise SettingError(config.where(key), key, "a configuration file cannot name another one")
        closest = _closest(key, known)
        hint = f" (did you mean {closest}?)" if closest else ""
        raise SettingError(config.where(key), key, f"is no setting of ksz-gateway serve{hint}")


def unknown_variables(environ: Mapping[str, str], known: Mapping[str, Key]) -> list[str]:
    """Warnings for ``KSZ_GATEWAY_*`` variables that name no key."""
    names = {k.variable for k in known.values()} | {ENV_PREFIX + CONFIG_KEY.upper()}
    warnings = []
    for variable in sorted(environ):
        if variable.startswith(ENV_PREFIX) and variable not in names:
            closest = _closest(variable.removeprefix(ENV_PREFIX), known)
            hint = f" (did you mean {known[closest].variable}?)" if closest else ""
            warnings.append(f"{variable} names no setting of ksz-gateway serve and is ignored{hint}.")
    return warnings


def effective(
    keys: Mapping[str, Key],
    defaults: Mapping[str, Any],
    config: ConfigFile | None,
    environ: Mapping[str, str],
    given: Mapping[str, Any],
) -> Effective:
    """Each key's value: the default, overridden by the file, then by the environment, then by the command line."""
    values = {name: defaults.get(name) for name in keys}
    sources = dict.fromkeys(keys, "default")
    if config is not None:
        for name, raw in config.values.items():
            if name in keys:
                values[name] = keys[name].from_toml(raw, config.where(name))
                sources[name] = config.where(name)
    for name, key in keys.items():
        text = environ.get(key.variable)
        if text is not None:
            values[name] = key.from_text(text, key.variable)
            sources[name] = key.variable
    for name, value in given.items():
        if name in keys:
            values[name] = value
            sources[name] = "option " + keys[name].flag
    return Effective(values, sources)


# -- the database password ----------------------------------------------------------------------------------


def read_secret(path: Path, where: str, key: str) -> str:
    """A secret kept alone in a file (one trailing line end dropped)."""
    try:
        secret = path.read_text(encoding="utf-8").removesuffix("\n").removesuffix("\r")
    except OSError as exc:
        raise SettingError(where, key, f"{path} cannot be read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise SettingError(where, key, f"{path} is not UTF-8 text") from exc
    if not secret:
        raise SettingError(where, key, f"{path} is empty")
    return secret


def with_password(url: str, password: str) -> str:
    """The PostgreSQL ``url`` with ``password`` in it (percent-encoded); ``ValueError`` when that makes no sense."""
    if not url.startswith(("postgresql://", "postgres://")):
        raise ValueError("a password file is for a PostgreSQL database; db names no postgresql:// URL")
    parts = urlsplit(url)
    if parts.password is not None:
        raise ValueError("db already holds a password: keep it in one place, the password file")
    user, _, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}"))


def masked(value: Any) -> Any:
    """A value fit to show: a URL's password as ``***``."""
    if isinstance(value, str) and "://" in value:
        parts = urlsplit(value)
        if parts.password is not None:
            user, _, host = parts.netloc.rpartition("@")
            return urlunsplit(parts._replace(netloc=f"{user.partition(':')[0]}:***@{host}"))
    return value


def is_secret(name: str, value: Any) -> bool:
    """A value that is itself a secret: text under a key that speaks of one (a ``*_file`` key names a file)."""
    return isinstance(value, str) and any(word in name for word in _SECRET_WORDS) and not name.endswith("_file")


# -- the command line ---------------------------------------------------------------------------------------


def database_options(parser: argparse.ArgumentParser, default_db: str, *, inherited: bool = False) -> None:
    """``--db``, ``--db-password-file`` and ``--config``: what every command that opens the directory takes.
    ``inherited``: on an action whose command takes them too (``audit --db X verify``), so that the action keeps
    what came before it when they are not given again."""
    unset = argparse.SUPPRESS if inherited else None
    parser.add_argument(
        "--db",
        default=argparse.SUPPRESS if inherited else default_db,
        metavar="PATH-OR-URL",
        help=f"SQLite file or postgresql:// URL ({default_db})",
    )
    parser.add_argument(
        "--db-password-file",
        type=Path,
        default=unset,
        metavar="FILE",
        help="read the PostgreSQL password from FILE (kept out of the URL, the process list and the configuration)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=unset,
        metavar="FILE",
        help=f"a TOML configuration file (else ${ENV_PREFIX}{CONFIG_KEY.upper()}); its keys are serve's options, "
        f"overridden by {ENV_PREFIX}<KEY> variables and then by options",
    )


def serve_parser(root: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The parser of ``serve``, whose options are the configuration's keys."""
    return leaf_parser(root, argparse.Namespace(command="serve"))


def configure(
    root: argparse.ArgumentParser,
    args: argparse.Namespace,
    argv: Sequence[str],
    environ: Mapping[str, str] | None = None,
) -> argparse.Namespace:
    """``args`` with the configuration layered under the command line, for a command that takes ``--config``
    (others are returned as they are); ``SettingError`` on any mistake."""
    leaf = leaf_parser(root, args)
    if not any(a.dest == CONFIG_KEY for a in leaf._actions):
        return args
    environ = os.environ if environ is None else environ
    serve_keys = keys_of(serve_parser(root))
    for warning in unknown_variables(environ, serve_keys):
        print(f"ksz-gateway: warning: {warning}", file=sys.stderr)
    given = given_on_command_line(root, argv)
    path = args.config
    if CONFIG_KEY not in given and environ.get(ENV_PREFIX + CONFIG_KEY.upper()):
        path = Path(environ[ENV_PREFIX + CONFIG_KEY.upper()])
    config = None
    if path is not None:
        config = read_config(Path(path))
        check_keys(config, serve_keys)
    keys = {name: key for name, key in keys_of(leaf).items() if name in serve_keys}
    layered = effective(keys, vars(args), config, environ, {k: getattr(args, k) for k in given if k in keys})
    result = argparse.Namespace(**vars(args))
    for name, value in layered.values.items():
        setattr(result, name, value)
    result.config = path
    resolve_password(result, layered.sources)
    return result


def resolve_password(args: argparse.Namespace, sources: Mapping[str, str]) -> None:
    """Put the password ``db_password_file`` names into ``args.db``, in memory only."""
    path = getattr(args, PASSWORD_FILE_KEY, None)
    if path is None:
        return
    where = sources.get(PASSWORD_FILE_KEY, "option --db-password-file")
    try:
        args.db = with_password(args.db, read_secret(Path(path), where, PASSWORD_FILE_KEY))
    except ValueError as exc:
        raise SettingError(where, PASSWORD_FILE_KEY, str(exc)) from exc
