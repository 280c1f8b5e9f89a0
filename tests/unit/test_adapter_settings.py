"""The adapters' shared settings: one access part, each adapter with its own prefix."""

from __future__ import annotations

import pickle

import pytest

from mainflux.adapters.http.settings import Settings as HttpSettings
from mainflux.adapters.mqtt.settings import MqttAccess, ServiceSettings
from mainflux.adapters.runtime import AccessSettings, AdapterSettings
from mainflux.adapters.ws.settings import Settings as WsSettings
from mainflux.core.config import ConfigError
from mainflux.core.limits import HttpLimits
from mainflux.core.settings import load, variables


def access(cls: type, environ: dict[str, str]) -> AccessSettings:
    """The access part of an adapter's settings loaded from ``environ``."""
    if cls is MqttAccess:
        return load(MqttAccess, environ)
    settings = load(cls, environ)
    assert type(settings.adapter) is AdapterSettings
    assert type(settings.adapter.access) is AccessSettings
    return settings.adapter.access


def test_built_directly_access_settings_have_the_defaults_and_no_event_stream() -> None:
    assert AccessSettings() == AccessSettings("localhost:8183", 1.0, None, 1.0, None, 30.0)


@pytest.mark.parametrize("cls", [HttpSettings, WsSettings, MqttAccess], ids=str)
def test_every_adapter_reads_the_access_deadline(cls: type) -> None:
    assert access(cls, {}).deadline == 30.0
    assert access(cls, {"MF_THINGS_AUTH_DEADLINE": "2.5"}).deadline == 2.5
    assert access(cls, {"MF_THINGS_AUTH_DEADLINE": "0"}).deadline == 0.0


def test_built_directly_adapter_settings_have_their_port_and_prefix() -> None:
    http, ws = HttpSettings().adapter, WsSettings().adapter
    assert (http.port, http.port_variable, http.access) == (
        8185,
        "MF_HTTP_ADAPTER_PORT",
        AccessSettings(),
    )
    assert (ws.port, ws.port_variable, ws.limits) == (8186, "MF_WS_ADAPTER_PORT", HttpLimits())


def test_every_adapter_reads_its_own_cache_age_and_client_tls() -> None:
    environ = {
        "MF_THINGS_AUTH_GRPC_URL": "things:8183",
        "MF_THINGS_AUTH_GRPC_TIMEOUT": "0.5",
        "MF_HTTP_ADAPTER_CACHE_MAX_AGE": "2",
        "MF_WS_ADAPTER_CACHE_MAX_AGE": "3",
        "MF_WS_ADAPTER_CLIENT_TLS": "true",
    }
    http, ws = access(HttpSettings, environ), access(WsSettings, environ)
    mqtt = access(MqttAccess, {**environ, "MF_MQTT_ADAPTER_CACHE_MAX_AGE": "4"})
    assert (http.grpc_url, http.grpc_timeout, http.max_age, http.tls) == (
        "things:8183",
        0.5,
        2.0,
        None,
    )
    assert (ws.grpc_url, ws.max_age) == ("things:8183", 3.0)
    assert ws.tls is not None and ws.tls.ca_pem is None, "TLS on, trusting the system roots"
    assert (mqtt.grpc_url, mqtt.grpc_timeout, mqtt.max_age, mqtt.tls) == (
        "things:8183",
        0.5,
        4.0,
        None,
    )


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
    assert access(WsSettings, environ).es_url == url


@pytest.mark.parametrize(
    ("environ", "url"),
    [
        ({}, "redis://localhost:6379/0"),
        ({"MF_THINGS_ES_URL": "es:6379", "MF_THINGS_ES_DB": "2"}, "redis://es:6379/2"),
    ],
    ids=["unset", "address and database"],
)
def test_the_mqtt_adapter_always_tails_the_things_events(environ: dict[str, str], url: str) -> None:
    assert load(MqttAccess, environ).es_url == url
    assert load(ServiceSettings, environ).access == load(MqttAccess, environ)


@pytest.mark.parametrize(
    ("environ", "seconds"),
    [
        ({}, 1.0),
        ({"MF_THINGS_AUTH_GRPC_TIMEOUT": "0.25"}, 0.25),
        ({"MF_THINGS_AUTH_GRPC_TIMMEOUT": "3"}, 3.0),
        ({"MF_THINGS_AUTH_GRPC_TIMEOUT": "2", "MF_THINGS_AUTH_GRPC_TIMMEOUT": "3"}, 2.0),
    ],
    ids=["default", "timeout", "go's misspelling", "the right spelling wins"],
)
def test_the_mqtt_adapter_reads_the_timeout_as_go_does(
    environ: dict[str, str], seconds: float
) -> None:
    assert load(MqttAccess, environ).grpc_timeout == seconds


@pytest.mark.parametrize(
    ("cls", "variable", "value"),
    [
        (HttpSettings, "MF_HTTP_ADAPTER_CACHE_MAX_AGE", "-1"),
        (WsSettings, "MF_WS_ADAPTER_CACHE_MAX_AGE", "inf"),
        (WsSettings, "MF_THINGS_AUTH_GRPC_TIMEOUT", "0"),
        (HttpSettings, "MF_HTTP_ADAPTER_CLIENT_TLS", "maybe"),
        (HttpSettings, "MF_HTTP_ADAPTER_PORT", "65536"),
        (MqttAccess, "MF_MQTT_ADAPTER_CACHE_MAX_AGE", "-1"),
        (MqttAccess, "MF_THINGS_AUTH_GRPC_TIMEOUT", "soon"),
        (MqttAccess, "MF_MQTT_ADAPTER_CLIENT_TLS", "maybe"),
        (MqttAccess, "MF_THINGS_AUTH_DEADLINE", "-1"),
        (HttpSettings, "MF_THINGS_AUTH_DEADLINE", "a while"),
        (WsSettings, "MF_THINGS_AUTH_DEADLINE", "9" * 400),
    ],
    ids=[
        "negative age",
        "infinite age",
        "zero timeout",
        "tls not a boolean",
        "port too high",
        "mqtt negative age",
        "mqtt timeout not a number",
        "mqtt tls not a boolean",
        "negative deadline",
        "deadline not a number",
        "deadline too long to be a number",
    ],
)
def test_a_bad_access_value_names_its_variable(cls: type, variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"^{variable}: "):
        load(cls, {variable: value})


def test_the_adapters_settings_load_with_their_defaults() -> None:
    http, ws = load(HttpSettings, {}), load(WsSettings, {})
    assert (http.adapter.host, http.adapter.port) == ("0.0.0.0", 8185)
    assert (http.workers, http.max_body) == (1, 1 << 20)
    assert (ws.adapter.port, ws.max_connections, ws.max_connections_per_thing) == (
        8186,
        10_000,
        100,
    )
    assert http.adapter.access == AccessSettings() and ws.adapter.limits == HttpLimits()
    assert (http.adapter.nats_url, http.adapter.log_level, http.adapter.tls) == (
        "nats://localhost:4222",
        "info",
        None,
    )
    assert http.adapter == HttpSettings().adapter, "loaded with no variables: the defaults"


def test_the_log_level_falls_back_to_mf_log_level() -> None:
    assert load(WsSettings, {"MF_LOG_LEVEL": "DEBUG"}).adapter.log_level == "debug"
    environ = {"MF_LOG_LEVEL": "debug", "MF_WS_ADAPTER_LOG_LEVEL": "warn"}
    assert load(WsSettings, environ).adapter.log_level == "warn"


def test_the_limits_come_from_the_http_variables() -> None:
    environ = {"MF_WS_MAX_FRAME": "4096", "MF_HTTP_MAX_CONNECTIONS": "50"}
    limits = load(WsSettings, environ).adapter.limits
    assert (limits.ws_max_size, limits.max_connections) == (4096, 50)


def test_every_variable_is_listed_once() -> None:
    for cls in (HttpSettings, WsSettings, ServiceSettings):
        names = [name for name, _, _ in variables(cls)]
        assert len(names) == len(set(names))
    ws_names = {name for name, _, _ in variables(WsSettings)}
    assert not {n for n in ws_names if n.startswith("MF_HTTP_ADAPTER_")}
    assert "MF_WS_ADAPTER_PORT" in ws_names and "MF_WS_ADAPTER_CACHE_MAX_AGE" in ws_names


def test_loaded_settings_cross_a_process_boundary() -> None:
    settings = load(HttpSettings, {"MF_HTTP_ADAPTER_WORKERS": "2", "MF_THINGS_ES_URL": "es:1"})
    assert pickle.loads(pickle.dumps(settings)) == settings
