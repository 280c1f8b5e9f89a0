"""Settings and bounds of the MQTT adapter read from ``MF_MQTT_ADAPTER_*`` variables."""

from __future__ import annotations

import resource

import pytest

from mainflux.adapters.mqtt.limits import BrokerLimits, connections_within
from mainflux.adapters.mqtt.notices import Notices
from mainflux.adapters.mqtt.settings import MqttSettings
from mainflux.adapters.mqtt.topics import TopicTree
from mainflux.core.config import ConfigError

P = "MF_MQTT_ADAPTER_"


def test_the_new_bounds_have_defaults_and_variables() -> None:
    assert MqttSettings.from_env({}).limits == BrokerLimits()
    limits = BrokerLimits.from_env(
        {
            P + "MAX_SUBSCRIPTIONS": "5",
            P + "MAX_CLIENT_ID_LENGTH": "64",
            P + "MAX_OFFLINE_QUEUE_BYTES": "4096",
            P + "MAX_SESSIONS_PER_THING": "3",
            P + "MAX_PENDING_CONNECTIONS": "7",
            P + "CONNECT_TIMEOUT": "2.5",
        }
    )
    assert (
        limits.max_subscriptions,
        limits.max_client_id_length,
        limits.max_offline_queue_bytes,
        limits.max_sessions_per_thing,
        limits.max_pending_connections,
        limits.connect_timeout,
    ) == (5, 64, 4096, 3, 7, 2.5)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAX_SUBSCRIPTIONS", "0"),
        ("MAX_CLIENT_ID_LENGTH", "22"),  # MQTT lets every client use 23 characters
        ("MAX_CLIENT_ID_LENGTH", "70000"),
        ("MAX_OFFLINE_QUEUE_BYTES", "lots"),
        ("MAX_SESSIONS_PER_THING", "-1"),
        ("MAX_PENDING_CONNECTIONS", "0"),
    ],
)
def test_a_bad_bound_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=P + name):
        BrokerLimits.from_env({P + name: value})


def test_standalone_refused_filters_are_a_comma_separated_setting() -> None:
    assert MqttSettings.from_env({}).standalone_refused_filters == ()
    settings = MqttSettings.from_env({P + "STANDALONE_REFUSED_FILTERS": "test/nosubscribe, a/#,"})
    assert settings.standalone_refused_filters == ("test/nosubscribe", "a/#")
    with pytest.raises(ConfigError, match=P + "STANDALONE_REFUSED_FILTERS"):
        MqttSettings.from_env({P + "STANDALONE_REFUSED_FILTERS": "a/#/b"})


@pytest.mark.parametrize(
    ("wanted", "soft", "hard", "expected"),
    [
        (1000, 1024, 4096, (1000, 1064)),  # the soft limit is raised to fit
        (100_000, 1024, 20_000, (19_936, 20_000)),  # the hard limit caps it
        (100_000, 1024, resource.RLIM_INFINITY, (100_000, 100_064)),
        (500, 65_536, 65_536, (500, 65_536)),  # room already: nothing changes
    ],
    ids=["raised", "capped", "unlimited", "enough"],
)
def test_connections_fit_in_the_file_descriptors(
    wanted: int, soft: int, hard: int, expected: tuple[int, int]
) -> None:
    assert connections_within(wanted, soft, hard) == expected


def test_notices_log_a_cause_once_then_a_count_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    notices = Notices(interval=60, clock=lambda: now[0])
    caplog.set_level("DEBUG", logger="mainflux.mqtt")
    for _ in range(3):
        notices.refused("bad user name or password", "c1")
    notices.refused("client id too long", "c2", "256 characters")
    now[0] = 61.0
    notices.refused("bad user name or password", "c3")
    info = [r.getMessage() for r in caplog.records if r.levelname == "INFO"]
    assert info == [
        "mqtt: refused c1: bad user name or password (further refusals for this cause: at debug)",
        "mqtt: refused c2: client id too long: 256 characters (further refusals for this cause: "
        "at debug)",
        "mqtt: 3 connections refused in the last 61 s: bad user name or password",
    ]
    assert len([r for r in caplog.records if r.levelname == "DEBUG"]) == 5
    assert notices.counts == {"bad user name or password": 4, "client id too long": 1}


def test_the_tree_finds_every_subscriber_below_a_prefix() -> None:
    tree: TopicTree[str] = TopicTree()
    tree.subscribe("channels/c1/messages", "a", 0)
    tree.subscribe("channels/c1/messages/#", "b", 1)
    tree.subscribe("channels/c1/messages/x/+", "c", 1)
    tree.subscribe("channels/c2/messages", "d", 1)
    tree.subscribe("channels/+/messages", "e", 1)
    assert tree.keys_under("channels/c1") == {"a", "b", "c"}
    assert tree.keys_under("channels/c3") == set()
