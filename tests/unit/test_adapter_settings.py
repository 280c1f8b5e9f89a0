"""The adapters' shared settings: one access part, each adapter with its own prefix."""

from __future__ import annotations

import pickle

import pytest

from mainflux.adapters.http.settings import HttpAccess
from mainflux.adapters.http.settings import Settings as HttpSettings
from mainflux.adapters.runtime import AccessSettings
from mainflux.adapters.ws.settings import Settings as WsSettings
from mainflux.adapters.ws.settings import WsAccess
from mainflux.core.config import ConfigError
from mainflux.core.limits import HttpLimits
from mainflux.core.settings import load, variables


def test_built_directly_access_settings_have_the_defaults_and_no_event_stream() -> None:
    assert AccessSettings() == AccessSettings("localhost:8183", 1.0, None, 1.0, None)


def test_every_adapter_reads_its_own_cache_age_and_client_tls() -> None:
    environ = {
        "MF_THINGS_AUTH_GRPC_URL": "things:8183",
        "MF_THINGS_AUTH_GRPC_TIMEOUT": "0.5",
        "MF_HTTP_ADAPTER_CACHE_MAX_AGE": "2",
        "MF_WS_ADAPTER_CACHE_MAX_AGE": "3",
        "MF_WS_ADAPTER_CLIENT_TLS": "true",
    }
    http, ws = load(HttpAccess, environ), load(WsAccess, environ)
    assert (http.grpc_url, http.grpc_timeout, http.max_age, http.tls) == (
        "things:8183",
        0.5,
        2.0,
        None,
    )
    assert (ws.grpc_url, ws.max_age) == ("things:8183", 3.0)
    assert ws.tls is not None and ws.tls.ca_pem is None, "TLS on, trusting the system roots"


@pytest.mark.parametrize(
    ("environ", "url"),
    [
        ({}, None),
        ({"MF_THINGS_ES_URL": "es:6379"}, "redis://es:6379/0"),
        (
            {"MF_THINGS_ES_URL": "es:6379", "MF_THINGS_ES_PASS": "p@ss", "MF_THINGS_ES_DB": "2"},
            "redis://:p%40ss@es:6379/2",
        ),
    ],
    ids=["unset", "address", "password and database"],
)
def test_the_things_events_url(environ: dict[str, str], url: str | None) -> None:
    assert load(WsAccess, environ).es_url == url


@pytest.mark.parametrize(
    ("cls", "variable", "value"),
    [
        (HttpAccess, "MF_HTTP_ADAPTER_CACHE_MAX_AGE", "-1"),
        (WsAccess, "MF_WS_ADAPTER_CACHE_MAX_AGE", "inf"),
        (WsAccess, "MF_THINGS_AUTH_GRPC_TIMEOUT", "0"),
        (HttpAccess, "MF_HTTP_ADAPTER_CLIENT_TLS", "maybe"),
    ],
    ids=["negative age", "infinite age", "zero timeout", "tls not a boolean"],
)
def test_a_bad_access_value_names_its_variable(cls: type, variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"^{variable}: "):
        load(cls, {variable: value})


def test_the_adapters_settings_load_with_their_defaults() -> None:
    http, ws = load(HttpSettings, {}), load(WsSettings, {})
    assert (http.host, http.port, http.workers, http.max_body) == ("0.0.0.0", 8185, 1, 1 << 20)
    assert (ws.port, ws.max_connections, ws.max_connections_per_thing) == (8186, 10_000, 100)
    assert http.access == load(HttpAccess, {}) and ws.limits == HttpLimits()
    assert (http.nats_url, http.log_level, http.tls) == ("nats://localhost:4222", "info", None)


def test_the_log_level_falls_back_to_mf_log_level() -> None:
    assert load(WsSettings, {"MF_LOG_LEVEL": "DEBUG"}).log_level == "debug"
    environ = {"MF_LOG_LEVEL": "debug", "MF_WS_ADAPTER_LOG_LEVEL": "warn"}
    assert load(WsSettings, environ).log_level == "warn"


def test_the_limits_come_from_the_http_variables() -> None:
    environ = {"MF_WS_MAX_FRAME": "4096", "MF_HTTP_MAX_CONNECTIONS": "50"}
    limits = load(WsSettings, environ).limits
    assert (limits.ws_max_size, limits.max_connections) == (4096, 50)


def test_every_variable_is_listed_once() -> None:
    for cls in (HttpSettings, WsSettings):
        names = [name for name, _, _ in variables(cls)]
        assert len(names) == len(set(names))
    ws_names = {name for name, _, _ in variables(WsSettings)}
    assert not {n for n in ws_names if n.startswith("MF_HTTP_ADAPTER_")}


def test_loaded_settings_cross_a_process_boundary() -> None:
    settings = load(HttpSettings, {"MF_HTTP_ADAPTER_WORKERS": "2", "MF_THINGS_ES_URL": "es:1"})
    assert pickle.loads(pickle.dumps(settings)) == settings
