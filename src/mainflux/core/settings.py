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
line and exits 2. Mainflux treats an empty value as unset; so does this module."""

from __future__ import annotations

import dataclasses
import os
import sys
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import NoneType, UnionType
from typing import Any, Final, TypeVar

from mainflux.core.config import ConfigError

S = TypeVar("S")
Environ = Mapping[str, str]
Variable = tuple[str, str, str]  # name, default as shown, help

_VAR: Final = "mainflux.setting"
_DERIVED: Final = "mainflux.derived"
_NESTED: Final = "mainflux.nested"
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})


@dataclasses.dataclass(frozen=True, slots=True)
class _Spec:
    name: str
    help: str
    minimum: float | None
    maximum: float | None
    choices: tuple[str, ...]
    shown: str  # the default as printed by --help


def setting(
    name: str,
    default: Any,
    help: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: Sequence[str] = (),
    shown: str | None = None,
) -> Any:
    """A field read from the variable ``name``; its type comes from the annotation.

    Supported types: ``str``, ``int``, ``float``, ``bool``, ``Path``, ``tuple[str, ...]``
    (comma-separated) and any of these ``| None`` (unset or empty gives ``None``).
    ``shown`` replaces the default in ``--help`` (e.g. ``"(unset)"``)."""
    if shown is None:
        shown = "(unset)" if default in (None, "", ()) else _show(default)
    spec = _Spec(name, help, minimum, maximum, tuple(choices), shown)
    if isinstance(default, list | dict | set):
        raise TypeError("mutable defaults are not settings")
    return dataclasses.field(default=default, metadata={_VAR: spec})


def derived(build: Callable[[Environ], Any], variables: Sequence[Variable]) -> Any:
    """A field computed from several variables (a URL from host, port and password...).

    ``build`` reads the environment it is given and raises ``ConfigError`` naming the
    variable at fault; ``variables`` document what it reads for ``--help``."""
    return dataclasses.field(default=None, metadata={_DERIVED: (build, tuple(variables))})


def nested(cls: type[Any]) -> Any:
    """A field holding another settings class, loaded from the same environment."""
    return dataclasses.field(default=None, metadata={_NESTED: cls})


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
            if raw != "":
                values[field.name] = _parse(spec, hints[field.name], raw)
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


def usage(cls: type[Any], prog: str, summary: str) -> str:
    """The ``--help`` text: what ``prog`` is, then a table of its variables."""
    rows = variables(cls)
    width = max((len(name) for name, _, _ in rows), default=0)
    shown = max((len(default) for _, default, _ in rows), default=0)
    lines = [f"usage: {prog} [--help]", "", summary, "", "Environment variables:"]
    lines += [f"  {name:<{width}}  {default:<{shown}}  {text}" for name, default, text in rows]
    return "\n".join(lines)


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
        print(f"mainflux: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


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
