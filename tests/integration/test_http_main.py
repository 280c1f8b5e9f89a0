"""``mainflux-http`` as a process: ``--help``, and bad settings stopping start-up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port

HTTP = [sys.executable, "-c", "from mainflux.adapters.http.main import main; main()"]


def _run(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MF_")}
    # The bus is unreachable: a process that got as far as connecting would say so.
    environ.update(MF_NATS_URL=f"nats://127.0.0.1:{free_port()}", **settings)
    return subprocess.run([*HTTP, *args], env=environ, capture_output=True, text=True, timeout=60)


def test_help_lists_every_variable_with_its_default_and_starts_nothing() -> None:
    done = _run("--help")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.startswith("usage: mainflux-http [--help]")
    rows = {line.split()[0]: line.split()[1] for line in done.stdout.splitlines()[5:]}
    assert rows == {
        "MF_HTTP_ADAPTER_HOST": "0.0.0.0",
        "MF_HTTP_ADAPTER_PORT": "8185",
        "MF_NATS_URL": "nats://localhost:4222",
        "MF_THINGS_AUTH_GRPC_URL": "localhost:8183",
        "MF_THINGS_AUTH_GRPC_TIMEOUT": "1",
        "MF_THINGS_AUTH_DEADLINE": "30",
        "MF_THINGS_ES_URL": "(unset)",
        "MF_THINGS_ES_PASS": "(unset)",
        "MF_THINGS_ES_DB": "0",
        "MF_HTTP_ADAPTER_CACHE_MAX_AGE": "1",
        "MF_HTTP_ADAPTER_CLIENT_TLS": "false",
        "MF_HTTP_ADAPTER_CA_CERTS": "(system",
        "MF_HTTP_ADAPTER_MAX_BODY": "1048576",
        "MF_HTTP_ADAPTER_WORKERS": "1",
        "MF_HTTP_ADAPTER_LOG_LEVEL": "info",
        "MF_HTTP_ADAPTER_SERVER_CERT": "(unset)",
        "MF_HTTP_ADAPTER_SERVER_KEY": "(unset)",
        "MF_HTTP_MAX_HEADER_BYTES": "32768",
        "MF_HTTP_MAX_HEADERS": "100",
        "MF_HTTP_REQUEST_TIMEOUT": "30",
        "MF_HTTP_IDLE_TIMEOUT": "5",
        "MF_HTTP_MAX_CONNECTIONS": "10000",
        "MF_WS_MAX_FRAME": "1048576",
    }


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"MF_HTTP_ADAPTER_PORT": "http"}, "MF_HTTP_ADAPTER_PORT"),
        ({"MF_HTTP_ADAPTER_WORKERS": "0"}, "MF_HTTP_ADAPTER_WORKERS"),
        ({"MF_HTTP_ADAPTER_WORKERS": "65"}, "MF_HTTP_ADAPTER_WORKERS"),
        ({"MF_HTTP_ADAPTER_MAX_BODY": "-1"}, "MF_HTTP_ADAPTER_MAX_BODY"),
        ({"MF_HTTP_ADAPTER_CACHE_MAX_AGE": "-1"}, "MF_HTTP_ADAPTER_CACHE_MAX_AGE"),
        ({"MF_HTTP_ADAPTER_SERVER_CERT": "/nonexistent.pem"}, "MF_HTTP_ADAPTER_SERVER_KEY"),
        ({"MF_THINGS_AUTH_GRPC_TIMEOUT": "soon"}, "MF_THINGS_AUTH_GRPC_TIMEOUT"),
        ({"MF_HTTP_MAX_CONNECTIONS": "0"}, "MF_HTTP_MAX_CONNECTIONS"),
        ({"MF_WS_MAX_FRAME": "big"}, "MF_WS_MAX_FRAME"),
        ({"MF_HTTP_ADAPTER_LOG_LEVEL": "chatty"}, "MF_HTTP_ADAPTER_LOG_LEVEL"),
    ],
    ids=[
        "port not a number",
        "no workers",
        "too many workers",
        "negative body bound",
        "negative cache age",
        "cert without key",
        "grpc timeout not a number",
        "no connections",
        "frame not a number",
        "log level",
    ],
)
def test_a_bad_value_stops_start_up_with_one_line_naming_it(
    settings: dict[str, str], named: str
) -> None:
    done = _run(**settings)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"mainflux: {named}: "), done.stderr


def test_an_unknown_argument_exits_2_with_one_line() -> None:
    done = _run("serve")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "mainflux-http: unexpected argument 'serve' (see mainflux-http --help)"
    )


def test_workers_share_the_port_and_stop_together(nats_url: str, tmp_path: Path) -> None:
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MF_")}
    environ.update(
        MF_NATS_URL=nats_url,
        MF_HTTP_ADAPTER_HOST="127.0.0.1",
        MF_HTTP_ADAPTER_PORT=str(port),
        MF_HTTP_ADAPTER_WORKERS="2",
        MF_HTTP_ADAPTER_LOG_LEVEL="info",
    )
    log = tmp_path / "http.log"
    with log.open("w") as out:
        proc = subprocess.Popen(HTTP, env=environ, stdout=out, stderr=subprocess.STDOUT)
    listening = f"http adapter listening on 127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while log.read_text().count(listening) < 2:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"two workers never listened: {log.read_text()}"
            time.sleep(0.05)
        for _ in range(4):
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
                assert client.get("/version").status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 0, log.read_text()
    assert "Traceback" not in log.read_text()
