"""The declarative settings reader: types, bounds, derived and nested settings, --help."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from mainflux.core.config import ConfigError, postgres_url
from mainflux.core.settings import (
    client_tls_setting,
    derived,
    from_command_line,
    load,
    log_level_setting,
    nested,
    port_setting,
    postgres_setting,
    redis_setting,
    server_tls_setting,
    setting,
    url_with_scheme,
    usage,
    variable_table,
)
from mainflux.core.tls import ClientTLS, ServerTLS


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


def _starts_with_letter(value: str) -> None:
    if not value[:1].isalpha():
        raise ValueError(f"must start with a letter, got {value!r}")


@dataclass(frozen=True, slots=True)
class Service:
    port: int = port_setting("MF_SVC_PORT", 8000, "HTTP port")
    name: str = setting("MF_SVC_NAME", "svc", "instance name", check=_starts_with_letter)
    token: str = setting("MF_SVC_TOKEN", "", "access token", secret=True)
    db_url: str = postgres_setting("SVC", "svc")
    cache_url: str = redis_setting("MF_SVC_CACHE", "cache")
    bus_url: str = setting("MF_SVC_BUS", "", "bus URL", check=url_with_scheme("nats", "tls"))
    tls: ServerTLS | None = server_tls_setting("SVC")
    peer_tls: ClientTLS | None = client_tls_setting("SVC", "PEER", peer="the peer")
    log_level: str = log_level_setting("MF_SVC_LOG_LEVEL")


def test_ready_made_fields_read_their_variables() -> None:
    svc = load(
        Service,
        {
            "MF_SVC_DB_HOST": "db",
            "MF_SVC_DB_PASS": "p@ss",
            "MF_SVC_CACHE_URL": "cache:6380",
            "MF_SVC_CACHE_DB": "2",
            "MF_PEER_CLIENT_TLS": "true",
            "MF_LOG_LEVEL": "DEBUG",
        },
    )
    assert svc.db_url == "postgresql+asyncpg://mainflux:p%40ss@db:5432/svc"
    assert svc.cache_url == "redis://cache:6380/2"
    assert svc.tls is None and svc.peer_tls == ClientTLS()
    assert svc.log_level == "debug"
    assert load(Service, {"MF_SVC_LOG_LEVEL": "warn", "MF_LOG_LEVEL": "debug"}).log_level == "warn"


def test_a_check_sees_the_default_too() -> None:
    @dataclass(frozen=True, slots=True)
    class Odd:
        name: str = setting("MF_ODD_NAME", "1st", "name", check=_starts_with_letter)

    with pytest.raises(ConfigError, match=r"^MF_ODD_NAME: must start with a letter, got '1st'$"):
        load(Odd, {})


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("MF_SVC_PORT", "65536", "MF_SVC_PORT: must be at most 65535"),
        ("MF_SVC_NAME", "-x", "MF_SVC_NAME: must start with a letter"),
        ("MF_SVC_BUS", "http://u:pw@bus:4222", "MF_SVC_BUS: expected a nats/tls URL"),
        ("MF_SVC_DB_PORT", "x", "MF_SVC_DB_PORT: expected an integer"),
        ("MF_SVC_CACHE_DB", "-1", "MF_SVC_CACHE_DB: must be at least 0"),
        ("MF_SVC_SERVER_CERT", "/nonexistent.pem", "MF_SVC_SERVER_KEY: must be set together"),
        ("MF_SVC_CLIENT_TLS", "maybe", "MF_SVC_CLIENT_TLS: expected true or false"),
        ("MF_SVC_LOG_LEVEL", "loud", "MF_SVC_LOG_LEVEL: expected debug, info, warn or error"),
    ],
    ids=["port", "check", "scheme", "db port", "redis db", "tls pair", "client tls", "log"],
)
def test_a_bad_value_of_a_ready_made_field_names_its_variable(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        load(Service, {variable: value})
    assert "pw" not in str(raised.value)


def test_secrets_stay_out_of_the_repr() -> None:
    svc = load(Service, {"MF_SVC_TOKEN": "tok-secret", "MF_SVC_DB_PASS": "db-secret"})
    assert svc.token == "tok-secret"
    assert "secret" not in repr(svc)


def test_the_variable_table_documents_the_ready_made_fields() -> None:
    rows = {
        line.split()[0]: line.split(None, 1)[1] for line in variable_table(Service).splitlines()
    }
    assert list(rows)[:3] == ["MF_SVC_PORT", "MF_SVC_NAME", "MF_SVC_TOKEN"]
    for name, default in [
        ("MF_SVC_DB_HOST", "localhost"),
        ("MF_SVC_DB", "svc"),
        ("MF_SVC_CACHE_URL", "localhost:6379"),
        ("MF_SVC_CACHE_DB", "0"),
        ("MF_SVC_SERVER_CERT", "(unset)"),
        ("MF_SVC_CLIENT_TLS", "false"),
        ("MF_PEER_CA_CERTS", "(system roots)"),
        ("MF_SVC_LOG_LEVEL", "info"),
    ]:
        assert rows[name].startswith(default + " "), rows[name]
    assert "MF_PEER_CLIENT_TLS" in rows["MF_SVC_CLIENT_TLS"]  # the fallback is named


def test_a_bad_value_is_printed_without_credentials(capsys: pytest.CaptureFixture[str]) -> None:
    environ = {"MF_SVC_NAME": "-nats://user:do-not-print-me@bus:4222"}
    with pytest.raises(SystemExit):
        from_command_line(Service, "mainflux-svc", "A service.", [], environ)
    err = capsys.readouterr().err
    assert err.startswith("mainflux: MF_SVC_NAME: must start with a letter")
    assert "do-not-print-me" not in err
