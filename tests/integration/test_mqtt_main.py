"""``mainflux-mqtt`` as a process: ``--help`` lists every variable and starts nothing; a
bad value or an unknown argument is one line and exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

MQTT = [sys.executable, "-c", "from mainflux.adapters.mqtt.main import main; main()"]


def _run(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MF_")}
    environ.update(settings)
    return subprocess.run([*MQTT, *args], env=environ, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    "args", [["--help"], ["--standalone", "--help"]], ids=["service", "standalone"]
)
def test_help_lists_every_variable_and_starts_nothing(args: list[str]) -> None:
    done = _run(*args)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.startswith("usage: mainflux-mqtt [--standalone] [--help]")
    rows = {line.split()[0]: line.split()[1] for line in done.stdout.splitlines()[8:]}
    for name, default in [
        ("MF_MQTT_ADAPTER_MQTT_PORT", "1883"),
        ("MF_MQTT_ADAPTER_MAX_SUBSCRIPTIONS", "1000"),
        ("MF_MQTT_ADAPTER_MAX_CLIENT_ID_LENGTH", "256"),
        ("MF_MQTT_ADAPTER_STANDALONE_REFUSED_FILTERS", "(unset)"),
        ("MF_NATS_URL", "nats://localhost:4222"),
        ("MF_THINGS_AUTH_GRPC_TIMEOUT", "1"),
        ("MF_HTTP_MAX_HEADERS", "100"),
        ("MF_MQTT_ADAPTER_LOG_LEVEL", "info"),
        ("MF_MQTT_ADAPTER_STATE_URL", "(unset)"),
        ("MF_MQTT_ADAPTER_RETRY_INTERVAL", "20"),
    ]:
        assert rows.get(name) == default, (name, rows.get(name))


@pytest.mark.parametrize(
    ("args", "settings", "said"),
    [
        (["--bogus"], {}, "unexpected argument '--bogus'"),
        ([], {"MF_MQTT_ADAPTER_MQTT_PORT": "70000"}, "MF_MQTT_ADAPTER_MQTT_PORT: must be at most"),
        ([], {"MF_MQTT_ADAPTER_MAX_SUBSCRIPTIONS": "\u00b2"}, "expected an integer"),
        ([], {"MF_MQTT_ADAPTER_SERVER_CERT": "/x.pem"}, "MF_MQTT_ADAPTER_SERVER_KEY: must be set"),
        ([], {"MF_NATS_URL": "http://x"}, "MF_NATS_URL"),
        ([], {"MF_THINGS_AUTH_GRPC_TIMEOUT": "-1"}, "MF_THINGS_AUTH_GRPC_TIMEOUT"),
        (["--standalone"], {"MF_MQTT_ADAPTER_MAX_INFLIGHT": "0"}, "MAX_INFLIGHT: must be at least"),
        ([], {"MF_MQTT_ADAPTER_RETRY_INTERVAL": "-1"}, "RETRY_INTERVAL: must be at least 0"),
        ([], {"MF_MQTT_ADAPTER_RETRY_INTERVAL": "soon"}, "MF_MQTT_ADAPTER_RETRY_INTERVAL"),
        ([], {"MF_MQTT_ADAPTER_STATE_URL": "mysql://db/x"}, "STATE_URL: expected none, a redis"),
    ],
    ids=[
        "argument",
        "port",
        "unicode digit",
        "cert alone",
        "nats url",
        "timeout",
        "standalone",
        "negative retry",
        "retry not a number",
        "state url scheme",
    ],
)
def test_a_mistake_is_one_line_and_exit_2(
    args: list[str], settings: dict[str, str], said: str
) -> None:
    done = _run(*args, **settings)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and said in lines[0], done.stderr


def test_an_unreachable_bus_stops_start_up_naming_mf_nats_url() -> None:
    done = _run(
        MF_NATS_URL="nats://127.0.0.1:1",
        MF_MQTT_ADAPTER_MQTT_PORT="0",
        MF_MQTT_ADAPTER_WS_PORT="0",
        MF_MQTT_ADAPTER_LOG_LEVEL="error",
    )
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("mainflux: MF_NATS_URL: "), done.stderr


@pytest.mark.parametrize(
    "url",
    ["redis://127.0.0.1:1/0", "postgresql://nobody@127.0.0.1:1/none"],
    ids=["redis", "postgres"],
)
def test_an_unreachable_state_store_stops_start_up_naming_its_variable(url: str) -> None:
    done = _run(
        "--standalone",
        MF_MQTT_ADAPTER_STATE_URL=url,
        MF_MQTT_ADAPTER_MQTT_PORT="0",
        MF_MQTT_ADAPTER_WS_PORT="0",
        MF_MQTT_ADAPTER_LOG_LEVEL="error",
    )
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("mainflux: MF_MQTT_ADAPTER_STATE_URL: cannot "), done.stderr
    assert "nobody@" not in lines[0]
