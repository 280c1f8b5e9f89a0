"""``mainflux-things`` as a process: bad settings, busy ports, and a real run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import grpc
import httpx
import pytest
import redis
from sqlalchemy.engine import make_url

from mainflux.proto import authn_pb2, authn_pb2_grpc
from tests.servers import free_port, wait_for_port

TOKEN = "single-user-token"
START = [sys.executable, "-c", "from mainflux.things.main import main; main()"]


def _env(**settings: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MF_")}
    return {**base, "MF_THINGS_LOG_LEVEL": "error", **settings}


def _fails(env: dict[str, str]) -> str:
    done = subprocess.run(START, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"MF_THINGS_HTTP_PORT": "abc"}, "MF_THINGS_HTTP_PORT"),
        ({"MF_THINGS_AUTH_GRPC_PORT": "70000"}, "MF_THINGS_AUTH_GRPC_PORT"),
        ({"MF_THINGS_DB_PORT": "x"}, "MF_THINGS_DB_PORT"),
        ({"MF_THINGS_CACHE_DB": "-1"}, "MF_THINGS_CACHE_DB"),
        ({"MF_THINGS_CACHE_TTL": "0"}, "MF_THINGS_CACHE_TTL"),
        ({"MF_AUTHN_GRPC_TIMEOUT": "soon"}, "MF_AUTHN_GRPC_TIMEOUT"),
        ({"MF_THINGS_SINGLE_USER_EMAIL": "a@b.c"}, "MF_THINGS_SINGLE_USER_TOKEN"),
        ({"MF_THINGS_LOG_LEVEL": "loud"}, "MF_THINGS_LOG_LEVEL"),
        ({"MF_THINGS_MAX_BULK": "0"}, "MF_THINGS_MAX_BULK"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2(settings: dict[str, str], named: str) -> None:
    assert named in _fails(_env(**settings))


def test_help_lists_every_variable_with_its_default_and_starts_nothing() -> None:
    # Without single-user mode or reachable servers the service would fail, were it started.
    done = subprocess.run(
        [*START, "-h"],
        env=_env(MF_THINGS_CACHE_URL=f"127.0.0.1:{free_port()}"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.startswith("usage: mainflux-things [--help]")
    for name, default in [
        ("MF_THINGS_HTTP_PORT", "8182"),
        ("MF_THINGS_AUTH_HTTP_PORT", "8989"),
        ("MF_THINGS_AUTH_GRPC_PORT", "8183"),
        ("MF_THINGS_DB", "things"),
        ("MF_THINGS_CACHE_URL", "localhost:6379"),
        ("MF_THINGS_CACHE_TTL", "300"),
        ("MF_THINGS_ES_DB", "0"),
        ("MF_AUTHN_GRPC_URL", "localhost:8181"),
        ("MF_THINGS_CLIENT_TLS", "false"),
        ("MF_AUTHN_CA_CERTS", "(system roots)"),
        ("MF_THINGS_SINGLE_USER_TOKEN", "(unset)"),
        ("MF_THINGS_MAX_BULK", "100"),
        ("MF_THINGS_LOG_LEVEL", "info"),
    ]:
        [line] = [line for line in done.stdout.splitlines() if line.split()[:1] == [name]]
        assert line.split(None, 1)[1].startswith(default + " "), line


def test_an_unknown_argument_is_one_line_and_exit_2() -> None:
    done = subprocess.run(
        [*START, "--verbose"], env=_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "mainflux-things: unexpected argument '--verbose' (see mainflux-things --help)"
    ]


def test_a_busy_port_is_one_line_naming_it() -> None:
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        assert "MF_THINGS_AUTH_HTTP_PORT" in _fails(
            _env(MF_THINGS_HTTP_PORT=str(free_port()), MF_THINGS_AUTH_HTTP_PORT=port)
        )


def test_an_unreachable_cache_is_one_line_naming_it() -> None:
    line = _fails(
        _env(
            MF_THINGS_HTTP_PORT=str(free_port()),
            MF_THINGS_AUTH_HTTP_PORT=str(free_port()),
            MF_THINGS_CACHE_URL=f"127.0.0.1:{free_port()}",
            MF_THINGS_CACHE_PASS="do-not-print-me",
        )
    )
    assert "MF_THINGS_CACHE_URL" in line and "do-not-print-me" not in line


@pytest.fixture
def settings(postgres_url: str, redis_url: str) -> dict[str, str]:
    db = make_url(postgres_url)
    address = redis_url.removeprefix("redis://").split("/")[0]
    return {
        "MF_THINGS_DB_HOST": db.host or "",
        "MF_THINGS_DB_PORT": str(db.port),
        "MF_THINGS_DB_USER": db.username or "",
        "MF_THINGS_DB_PASS": db.password or "",
        "MF_THINGS_DB": db.database or "",
        "MF_THINGS_CACHE_URL": address,
        "MF_THINGS_ES_URL": address,
        "MF_THINGS_SINGLE_USER_EMAIL": "admin@example.com",
        "MF_THINGS_SINGLE_USER_TOKEN": TOKEN,
        "MF_THINGS_HTTP_PORT": str(free_port()),
        "MF_THINGS_AUTH_HTTP_PORT": str(free_port()),
        "MF_THINGS_AUTH_GRPC_PORT": str(free_port()),
        "MF_THINGS_CACHE_TTL": "77",
    }


@pytest.fixture
def process(settings: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        START,
        env=_env(**settings, MF_THINGS_LOG_LEVEL="debug"),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        for name in ("MF_THINGS_HTTP_PORT", "MF_THINGS_AUTH_HTTP_PORT", "MF_THINGS_AUTH_GRPC_PORT"):
            wait_for_port(int(settings[name]), timeout=30)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()


def test_the_process_serves_three_faces_and_stops_cleanly(
    settings: dict[str, str], process: subprocess.Popen[str], redis_url: str
) -> None:
    http = f"http://127.0.0.1:{settings['MF_THINGS_HTTP_PORT']}"
    auth = f"http://127.0.0.1:{settings['MF_THINGS_AUTH_HTTP_PORT']}"
    headers = {"Authorization": TOKEN}
    with httpx.Client(timeout=10) as client:
        thing = client.post(
            f"{http}/things", json={"name": "t", "key": "proc-key"}, headers=headers
        )
        assert thing.status_code == 201
        thing_id = thing.headers["location"].rsplit("/", 1)[1]
        channel = client.post(f"{http}/channels", json={"name": "c"}, headers=headers)
        channel_id = channel.headers["location"].rsplit("/", 1)[1]
        path = f"{http}/channels/{channel_id}/things/{thing_id}"
        assert client.put(path, headers=headers).status_code == 200
        assert client.get(f"{http}/things", headers={"Authorization": "bad"}).status_code == 403
        response = client.post(
            f"{auth}/channels/{channel_id}/access-by-key", json={"token": "proc-key"}
        )
        assert response.json() == {"id": thing_id}
    with grpc.insecure_channel(f"127.0.0.1:{settings['MF_THINGS_AUTH_GRPC_PORT']}") as channel:
        stub = authn_pb2_grpc.ThingsServiceStub(channel)
        assert stub.Identify(authn_pb2.Token(value="proc-key"), timeout=5).value == thing_id
    store = redis.Redis.from_url(redis_url, decode_responses=True)
    assert store.get("thing_key:proc-key") == thing_id
    assert 0 < store.ttl("thing_key:proc-key") <= 77  # MF_THINGS_CACHE_TTL
    assert store.sismember(f"channel:{channel_id}", thing_id)
    operations = [fields["operation"] for _, fields in store.xrange("mainflux.things")]
    assert {"thing.create", "channel.create", "thing.connect"} <= set(operations)
    store.close()

    process.send_signal(signal.SIGTERM)
    code = process.wait(20)
    assert process.stderr is not None
    output = process.stderr.read()
    assert code == 0, output
    assert "proc-key" not in output and TOKEN not in output


def test_a_busy_grpc_port_is_one_line_naming_it(settings: dict[str, str]) -> None:
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", int(settings["MF_THINGS_AUTH_GRPC_PORT"])))
        busy.listen()
        assert "MF_THINGS_AUTH_GRPC_PORT" in _fails(_env(**settings))
