"""The declarative settings reader: types, bounds, derived and nested settings, --help."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from mainflux.core.config import ConfigError, postgres_url
from mainflux.core.settings import derived, from_command_line, load, nested, setting, usage


@dataclass(frozen=True, slots=True)
class Cache:
    max_age: float = setting("MF_DEMO_CACHE_MAX_AGE", 1.0, "seconds an answer is reused", minimum=0)


@dataclass(frozen=True, slots=True)
class Demo:
    port: int = setting("MF_DEMO_PORT", 8182, "HTTP port", minimum=0, maximum=65535)
    host: str = setting("MF_DEMO_HOST", "0.0.0.0", "listening address")
    tls: bool = setting("MF_DEMO_TLS", False, "serve HTTPS")
    limit: int | None = setting("MF_DEMO_LIMIT", None, "largest batch")
    subjects: tuple[str, ...] = setting("MF_DEMO_SUBJECTS", ("channels.>",), "subjects")
    data_dir: Path = setting("MF_DEMO_DIR", Path("data"), "data directory")
    level: str = setting("MF_DEMO_LOG_LEVEL", "info", "log level", choices=("debug", "info"))
    db_url: str = derived(
        lambda environ: postgres_url("DEMO", "demo", environ),
        [("MF_DEMO_DB_HOST", "localhost", "database host")],
    )
    cache: Cache = nested(Cache)


def test_defaults_need_no_environment() -> None:
    demo = load(Demo, {})
    assert (demo.port, demo.host, demo.tls, demo.limit) == (8182, "0.0.0.0", False, None)
    assert demo.subjects == ("channels.>",) and demo.data_dir == Path("data")
    assert demo.db_url.endswith("@localhost:5432/demo") and demo.cache == Cache(1.0)


def test_values_are_parsed_by_their_annotation() -> None:
    demo = load(
        Demo,
        {
            "MF_DEMO_PORT": "81",
            "MF_DEMO_TLS": "yes",
            "MF_DEMO_LIMIT": "5",
            "MF_DEMO_SUBJECTS": "a.>, b",
            "MF_DEMO_DIR": "/srv/x",
            "MF_DEMO_DB_HOST": "db",
            "MF_DEMO_CACHE_MAX_AGE": "2.5",
            "MF_DEMO_PORT_UNRELATED": "x",
        },
    )
    assert (demo.port, demo.tls, demo.limit, demo.subjects) == (81, True, 5, ("a.>", "b"))
    assert demo.data_dir == Path("/srv/x") and "@db:5432/" in demo.db_url
    assert demo.cache.max_age == 2.5


def test_an_empty_value_means_unset() -> None:
    assert load(Demo, {"MF_DEMO_PORT": ""}).port == 8182


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("MF_DEMO_PORT", "x", "MF_DEMO_PORT: expected an integer"),
        ("MF_DEMO_PORT", "\u00b2", "MF_DEMO_PORT: expected an integer"),
        ("MF_DEMO_PORT", "9" * 5000, "MF_DEMO_PORT: expected an integer"),
        ("MF_DEMO_PORT", "70000", "MF_DEMO_PORT: must be at most 65535"),
        ("MF_DEMO_TLS", "maybe", "MF_DEMO_TLS: expected true or false"),
        ("MF_DEMO_CACHE_MAX_AGE", "-1", "MF_DEMO_CACHE_MAX_AGE: must be at least 0"),
        ("MF_DEMO_CACHE_MAX_AGE", "nan", "MF_DEMO_CACHE_MAX_AGE: expected a finite number"),
        ("MF_DEMO_LOG_LEVEL", "loud", "MF_DEMO_LOG_LEVEL: expected one of debug, info"),
    ],
    ids=["word", "unicode digit", "5000 digits", "too big", "bool", "negative", "nan", "choice"],
)
def test_a_bad_value_names_its_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(Demo, {variable: value})


def test_usage_lists_every_variable_with_its_default() -> None:
    text = usage(Demo, "mainflux-demo", "The demo service.")
    assert text.startswith("usage: mainflux-demo [--help]")
    for name, default in [
        ("MF_DEMO_PORT", "8182"),
        ("MF_DEMO_LIMIT", "(unset)"),
        ("MF_DEMO_DB_HOST", "localhost"),
        ("MF_DEMO_CACHE_MAX_AGE", "1"),
    ]:
        line = next(line for line in text.splitlines() if name + " " in line)
        assert default in line, line


def test_help_prints_usage_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        from_command_line(Demo, "mainflux-demo", "The demo service.", ["--help"], {})
    assert stopped.value.code == 0
    assert "MF_DEMO_PORT" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "environ", "said"),
    [
        (["--bogus"], {}, "unexpected argument '--bogus'"),
        ([], {"MF_DEMO_PORT": "x"}, "mainflux: MF_DEMO_PORT: expected an integer"),
    ],
    ids=["unknown argument", "bad value"],
)
def test_a_mistake_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], environ: dict[str, str], said: str
) -> None:
    with pytest.raises(SystemExit) as stopped:
        from_command_line(Demo, "mainflux-demo", "The demo service.", argv, environ)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1
