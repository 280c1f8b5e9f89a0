"""One way to read settings: a frozen dataclass whose fields name their variables.

A service declares its settings once::

    @dataclass(frozen=True, slots=True)
    class Settings:
        port: int = setting("MF_THINGS_HTTP_PORT", 8182, "HTTP port", maximum=65535)
        db_url: str = derived(things_db_url, postgres_variables("THINGS", "things"))

:func:`load` builds it from the environment (a value that does not parse raises
:class:`~mainflux.core.config.ConfigError` naming the variable), :func:`usage` renders
every variable with its default for ``--help``, and :func:`from_command_line` does
both for a service's ``main``: ``--help`` prints and exits 0, a bad value prints one
line and exits 2. Mainflux treats an empty value as unset; so does this module.

Common fields have ready-made declarations: :func:`port_setting`, :func:`postgres_setting`,
:func:`redis_setting`, :func:`server_tls_setting`, :func:`client_tls_setting` and
:func:`log_level_setting`."""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import NoneType, UnionType
from typing import Any, Final, TypeVar

from mainflux.core.config import ConfigError, env, postgres_url, redis_url
from mainflux.core.redact import redact_text, redact_url

S = TypeVar("S")
Environ = Mapping[str, str]
Variable = tuple[str, str, str]  # name, default as shown, help

_VAR: Final = "mainflux.setting"
_DERIVED: Final = "mainflux.derived"
_NESTED: Final = "mainflux.nested"
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})
#: Log level names accepted by every ``MF_*_LOG_LEVEL`` variable, with their levels.
LOG_LEVELS: Final = {"debug": 10, "info": 20, "warn": 30, "warning": 30, "error": 40}


@dataclasses.dataclass(frozen=True, slots=True)
class _Spec:
    name: str
    help: str
    minimum: float | None
    maximum: float | None
    choices: tuple[str, ...]
    shown: str  # the default as printed by --help
    check: Callable[[Any], object] | None


def setting(
    name: str,
    default: Any,
    help: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: Sequence[str] = (),
    shown: str | None = None,
    check: Callable[[Any], object] | None = None,
    secret: bool = False,
) -> Any:
    """A field read from the variable ``name``; its type comes from the annotation.

    Supported types: ``str``, ``int``, ``float``, ``bool``, ``Path``, ``tuple[str, ...]``
    (comma-separated) and any of these ``| None`` (unset or empty gives ``None``).
    ``shown`` replaces the default in ``--help`` (e.g. ``"(unset)"``). ``check`` is
    called with the value (the default too) and raises ``ValueError`` saying why the
    value cannot be used; ``secret`` keeps the value out of ``repr``."""
    if shown is None:
        shown = "(unset)" if default in (None, "", ()) else _show(default)
    spec = _Spec(name, help, minimum, maximum, tuple(choices), shown, check)
    if isinstance(default, list | dict | set):
        raise TypeError("mutable defaults are not settings")
    return dataclasses.field(default=default, repr=not secret, metadata={_VAR: spec})


def port_setting(name: str, default: int, help: str) -> Any:
    """A TCP/UDP port field (0 to 65535) read from ``name``."""
    return setting(name, default, help, minimum=0, maximum=65535)


def derived(
    build: Callable[[Environ], Any],
    variables: Sequence[Variable],
    *,
    secret: bool = False,
    default: Any = None,
) -> Any:
    """A field computed from several variables (a URL from host, port and password...),
    or from one that needs its own parsing (``100ms``).

    ``build`` reads the environment it is given and raises ``ConfigError`` naming the
    variable at fault; ``variables`` document what it reads for ``--help``; ``secret``
    keeps the value out of ``repr``; ``default`` is the value of an instance built
    directly (not by :func:`load`)."""
    if isinstance(default, list | dict | set):
        raise TypeError("mutable defaults are not settings")
    return dataclasses.field(
        default=default, repr=not secret, metadata={_DERIVED: (build, tuple(variables))}
    )


def nested(cls: type[Any]) -> Any:
    """A field holding another settings class, loaded from the same environment (an
    instance built directly gets ``cls()``, its defaults)."""
    return dataclasses.field(default_factory=cls, metadata={_NESTED: cls})


def load(cls: type[S], environ: Environ | None = None) -> S:
    """Build ``cls`` from ``environ`` (default ``os.environ``).

    Raises ``ConfigError`` naming the first variable whose value cannot be used."""
    source: Environ = os.environ if environ is None else environ
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if _VAR in field.metadata:
            spec: _Spec = field.metadata[_VAR]
            raw = source.get(spec.name, "")
            value = field.default if raw == "" else _parse(spec, hints[field.name], raw)
            if spec.check is not None:
                try:
                    spec.check(value)
                except ValueError as exc:
                    raise ConfigError(f"{spec.name}: {exc}") from None
            values[field.name] = value
        elif _DERIVED in field.metadata:
            values[field.name] = field.metadata[_DERIVED][0](source)
        elif _NESTED in field.metadata:
            values[field.name] = load(field.metadata[_NESTED], source)
    return cls(**values)


def variables(cls: type[Any]) -> list[Variable]:
    """Every variable ``cls`` reads, in declaration order, with default and help."""
    found: list[Variable] = []
    for field in dataclasses.fields(cls):
        if _VAR in field.metadata:
            spec: _Spec = field.metadata[_VAR]
            found.append((spec.name, spec.shown, _help(spec)))
        elif _DERIVED in field.metadata:
            found.extend(field.metadata[_DERIVED][1])
        elif _NESTED in field.metadata:
            found.extend(variables(field.metadata[_NESTED]))
    seen: set[str] = set()
    return [v for v in found if not (v[0] in seen or seen.add(v[0]))]  # type: ignore[func-returns-value]


def variable_table(cls: type[Any]) -> str:
    """Every variable ``cls`` reads, one aligned line each: name, default, help."""
    rows = variables(cls)
    width = max((len(name) for name, _, _ in rows), default=0)
    shown = max((len(default) for _, default, _ in rows), default=0)
    return "\n".join(
        f"  {name:<{width}}  {default:<{shown}}  {text}".rstrip() for name, default, text in rows
    )


def usage(cls: type[Any], prog: str, summary: str) -> str:
    """The ``--help`` text: what ``prog`` is, then a table of its variables."""
    lines = [f"usage: {prog} [--help]", "", summary, "", "Environment variables:"]
    return "\n".join(lines) + "\n" + variable_table(cls)


def from_command_line(
    cls: type[S],
    prog: str,
    summary: str,
    argv: Sequence[str] | None = None,
    environ: Environ | None = None,
) -> S:
    """Load ``cls`` for a service's ``main``: ``--help`` prints :func:`usage` and exits 0;
    an unknown argument or a bad value prints one line and exits 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in args):
        print(usage(cls, prog, summary))
        raise SystemExit(0)
    if args:
        print(f"{prog}: unexpected argument {args[0]!r} (see {prog} --help)", file=sys.stderr)
        raise SystemExit(2)
    try:
        return load(cls, environ)
    except ConfigError as exc:
        print(f"mainflux: {redact_text(str(exc))}", file=sys.stderr)
        raise SystemExit(2) from None


def postgres_variables(prefix: str, database: str) -> list[Variable]:
    """What :func:`~mainflux.core.config.postgres_url` reads, for ``--help``."""
    db = f"MF_{prefix}_DB"
    return [
        (f"{db}_HOST", "localhost", "PostgreSQL host"),
        (f"{db}_PORT", "5432", "PostgreSQL port"),
        (f"{db}_USER", "mainflux", "PostgreSQL user"),
        (f"{db}_PASS", "mainflux", "PostgreSQL password"),
        (db, database, "PostgreSQL database"),
        (f"{db}_SSL_MODE", "disable", "PostgreSQL SSL mode (disable, require, verify-full...)"),
    ]


def postgres_setting(prefix: str, database: str) -> Any:
    """A PostgreSQL URL field built from ``MF_<prefix>_DB_*`` (``database`` is the default
    database name); kept out of ``repr``, as it carries the password."""
    return derived(
        functools.partial(_postgres, prefix, database),
        postgres_variables(prefix, database),
        secret=True,
    )


def redis_setting(prefix: str, what: str, default_host: str = "localhost:6379") -> Any:
    """A ``redis://`` URL field built from ``<prefix>_URL``/``_PASS``/``_DB`` (see
    :func:`~mainflux.core.config.redis_url`); ``what`` says what the server is for."""
    return derived(
        functools.partial(_redis, prefix, default_host),
        [
            (f"{prefix}_URL", default_host, f"{what}: Redis host:port (or a redis:// URL)"),
            (f"{prefix}_PASS", "(unset)", f"{what}: Redis password"),
            (f"{prefix}_DB", "0", f"{what}: Redis database"),
        ],
        secret=True,
    )


def server_tls_setting(prefix: str, what: str = "HTTPS") -> Any:
    """A :class:`~mainflux.core.tls.ServerTLS` field (or ``None``) read from
    ``MF_<prefix>_SERVER_CERT`` and ``MF_<prefix>_SERVER_KEY``; ``what`` says which
    faces speak TLS when both are set."""
    cert, key = f"MF_{prefix}_SERVER_CERT", f"MF_{prefix}_SERVER_KEY"
    return derived(
        functools.partial(_server_tls, prefix),
        [
            (cert, "(unset)", f"PEM certificate chain; {what} when set with {key}"),
            (key, "(unset)", f"PEM private key of {cert}"),
        ],
    )


def client_tls_setting(*prefixes: str, peer: str) -> Any:
    """A :class:`~mainflux.core.tls.ClientTLS` field (or ``None``) read from
    ``MF_<prefix>_CLIENT_TLS`` and ``MF_<prefix>_CA_CERTS``, the first prefix whose
    ``_CLIENT_TLS`` is set deciding; ``peer`` names the service the client calls."""
    documented: list[Variable] = []
    for i, prefix in enumerate(prefixes):
        fallback = f" (unset: MF_{prefixes[i + 1]}_CLIENT_TLS)" if i + 1 < len(prefixes) else ""
        documented += [
            (f"MF_{prefix}_CLIENT_TLS", "false", f"call {peer} over TLS{fallback}"),
            (f"MF_{prefix}_CA_CERTS", "(system roots)", f"PEM bundle trusted for {peer}"),
        ]
    return derived(functools.partial(_client_tls, prefixes), documented)


def log_level_setting(name: str) -> Any:
    """The log level field read from ``name`` (falling back to ``MF_LOG_LEVEL``, then
    ``info``): one of :data:`LOG_LEVELS`, lower-cased."""
    fallback = "" if name == "MF_LOG_LEVEL" else " (unset: MF_LOG_LEVEL)"
    return derived(
        functools.partial(_log_level, name),
        [(name, "info", f"log level: debug, info, warn or error{fallback}")],
    )


def url_with_scheme(*schemes: str) -> Callable[[str], None]:
    """A ``check`` accepting an empty value or a URL with one of ``schemes``."""

    def check(value: str) -> None:
        if value and not value.startswith(tuple(f"{s}://" for s in schemes)):
            raise ValueError(f"expected a {'/'.join(schemes)} URL, got {redact_url(value)!r}")

    return check


def _postgres(prefix: str, database: str, environ: Environ) -> str:
    return postgres_url(prefix, database, environ)


def _redis(prefix: str, default_host: str, environ: Environ) -> str:
    return redis_url(prefix, default_host, environ)


def _server_tls(prefix: str, environ: Environ) -> Any:
    from mainflux.core.tls import server_tls  # grpc: imported only when a service loads

    return server_tls(prefix, environ)


def _client_tls(prefixes: tuple[str, ...], environ: Environ) -> Any:
    from mainflux.core.tls import client_tls

    return client_tls(*prefixes, environ=environ)


def _log_level(name: str, environ: Environ) -> str:
    raw = env(name, env("MF_LOG_LEVEL", "info", environ), environ).lower()
    if raw not in LOG_LEVELS:
        raise ConfigError(f"{name}: expected debug, info, warn or error, got {raw!r}")
    return raw


def _parse(spec: _Spec, kind: Any, raw: str) -> Any:
    optional = False
    if isinstance(kind, UnionType) or typing.get_origin(kind) is typing.Union:
        members = [a for a in typing.get_args(kind) if a is not NoneType]
        optional = len(members) < len(typing.get_args(kind))
        kind = members[0]
    if optional and raw.lower() in ("none", "off"):
        return None
    if spec.choices and raw not in spec.choices:
        raise ConfigError(f"{spec.name}: expected one of {', '.join(spec.choices)}, got {raw!r}")
    if kind is str:
        return raw
    if kind is Path:
        return Path(raw).expanduser()
    if kind is bool:
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ConfigError(f"{spec.name}: expected true or false, got {raw!r}")
    if typing.get_origin(kind) is tuple:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if kind in (int, float):
        return _number(spec, kind, raw)
    raise TypeError(f"{spec.name}: unsupported setting type {kind!r}")


def _number(spec: _Spec, kind: type[int] | type[float], raw: str) -> int | float:
    noun = "an integer" if kind is int else "a number"
    if not raw.isascii() or len(raw) > 32:
        raise ConfigError(f"{spec.name}: expected {noun}, got {raw[:40]!r}")
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{spec.name}: expected {noun}, got {raw!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(f"{spec.name}: expected a finite number, got {raw!r}")
    if spec.minimum is not None and value < spec.minimum:
        raise ConfigError(f"{spec.name}: must be at least {_show(spec.minimum)}, got {raw}")
    if spec.maximum is not None and value > spec.maximum:
        raise ConfigError(f"{spec.name}: must be at most {_show(spec.maximum)}, got {raw}")
    return value


def _help(spec: _Spec) -> str:
    bounds = []
    if spec.minimum is not None:
        bounds.append(f">= {_show(spec.minimum)}")
    if spec.maximum is not None:
        bounds.append(f"<= {_show(spec.maximum)}")
    if spec.choices:
        bounds.append("|".join(spec.choices))
    return spec.help + (f" ({', '.join(bounds)})" if bounds else "")


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)
