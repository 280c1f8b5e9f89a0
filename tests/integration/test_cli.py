"""The ``mainflux`` command: ``events`` on real Redis, and its errors."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from mainflux.events.redis import RedisEventStream


def _mainflux(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("MF_")}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "mainflux.cli", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_events_prints_a_redis_stream(redis_url: str) -> None:
    stream = f"test.{uuid.uuid4().hex}"
    events = RedisEventStream(redis_url)
    first = await events.append(stream, {"operation": "thing.create", "id": "t1"})
    await events.append(stream, {"operation": "thing.remove", "id": "t1"})
    await events.close()
    result = _mainflux("events", stream, MF_REDIS_URL=redis_url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{first} operation='thing.create' id='t1'"
    assert lines[1].endswith("operation='thing.remove' id='t1'")
    assert len(lines) == 2


def test_events_with_redis_unreachable_says_so_in_one_line() -> None:
    result = _mainflux("events", "mainflux.things", MF_REDIS_URL="redis://127.0.0.1:1/0")
    assert result.returncode == 1
    assert result.stderr.startswith("mainflux: cannot read mainflux.things:")
    assert "Traceback" not in result.stderr


def test_events_with_a_bad_redis_url_names_the_setting() -> None:
    result = _mainflux("events", "mainflux.things", MF_REDIS_URL="localhost:6379")
    assert result.returncode == 2
    assert "MF_REDIS_URL" in result.stderr


def test_serve_refuses_an_unknown_service() -> None:
    result = _mainflux("serve", "teapot")
    assert result.returncode == 2
    assert "unknown service 'teapot'" in result.stderr
    assert "Traceback" not in result.stderr


def _documented(text: str) -> dict[str, str]:
    """Variable name -> the rest of its line, from a table of variables."""
    return {
        line.split()[0]: line.split(None, 1)[1]
        for line in text.splitlines()
        if line.startswith("  MF_") and len(line.split()) > 1
    }


def test_run_help_lists_the_all_in_one_variables_with_their_defaults() -> None:
    result = _mainflux("run", "--help", COLUMNS="100")
    assert result.returncode == 0, result.stderr
    assert "--mqtt-port" in result.stdout
    assert "--coap-port" in result.stdout
    rows = _documented(result.stdout.split("Environment variables")[1])
    for name, default in [
        ("MF_GATEWAY_PORT", "8080"),
        ("MF_MQTT_ADAPTER_MQTT_PORT", "1883"),
        ("MF_COAP_ADAPTER_PORT", "5683"),
        ("MF_COAP_ADAPTER_PING_PERIOD", "120"),
        ("MF_DATA_DIR", "./data"),
        ("MF_DB_URL", "(unset)"),
        ("MF_NATS_URL", "(unset)"),
        ("MF_GATEWAY_SERVER_CERT", "(unset)"),
        ("MF_THINGS_CACHE_TTL", "300"),
        ("MF_USERS_RESET_URL", "(gateway page)"),
        ("MF_LOG_LEVEL", "info"),
    ]:
        assert rows[name].startswith(default + " "), rows[name]


def test_serve_passes_help_to_the_service() -> None:
    result = _mainflux("serve", "things", "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: mainflux-things [--help]")
    assert _documented(result.stdout)["MF_THINGS_HTTP_PORT"].startswith("8182 ")


def test_serve_passes_other_arguments_to_the_service() -> None:
    result = _mainflux("serve", "authn", "--bogus")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "mainflux-authn: unexpected argument '--bogus' (see mainflux-authn --help)"
    ]


def test_serve_without_a_service_lists_them_in_one_line() -> None:
    result = _mainflux("serve")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "mainflux: no service given; one of: users, authn, things, http, ws, mqtt, coap, "
        "postgres-writer, postgres-reader, ui, bootstrap, provision"
    ]


def test_serve_help_explains_the_command() -> None:
    result = _mainflux("serve", "--help")
    assert result.returncode == 0, result.stderr
    assert "mainflux serve <service> --help" in result.stdout
