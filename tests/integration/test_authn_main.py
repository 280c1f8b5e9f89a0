"""``mainflux-authn`` as a process: one-line start-up errors and a real run on PostgreSQL."""

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
from sqlalchemy.engine import make_url

from mainflux.proto import authn_pb2, authn_pb2_grpc
from tests.servers import free_port, wait_for_port

COMMAND = [sys.executable, "-c", "from mainflux.authn.main import main; main()"]
#: A signing secret long enough for ``mainflux-authn`` (which has no default one).
SECRET = "process-secret-of-at-least-32-bytes"


def clean_env(**overrides: str) -> dict[str, str]:
    """The current environment without any MF_* variable but a usable
    ``MF_AUTHN_SECRET``, plus ``overrides``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MF_")}
    environ["MF_AUTHN_SECRET"] = SECRET
    environ.update(overrides)
    return environ


def db_env(url: str) -> dict[str, str]:
    """``MF_AUTHN_DB_*`` variables pointing at the database of ``url``."""
    parsed = make_url(url)
    return {
        "MF_AUTHN_DB_HOST": parsed.host or "localhost",
        "MF_AUTHN_DB_PORT": str(parsed.port or 5432),
        "MF_AUTHN_DB_USER": parsed.username or "",
        "MF_AUTHN_DB_PASS": parsed.password or "",
        "MF_AUTHN_DB": parsed.database or "",
    }


def run_failing(environ: dict[str, str]) -> str:
    """Run the service expecting a start-up failure; return its stderr."""
    return run_failing_with([], environ)


def run_failing_with(args: list[str], environ: dict[str, str]) -> str:
    """Run the service with ``args`` expecting a start-up failure; return its one line."""
    done = subprocess.run(
        [*COMMAND, *args], env=environ, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MF_AUTHN_HTTP_PORT", "abc"),
        ("MF_AUTHN_GRPC_PORT", "70000"),
        ("MF_AUTHN_DB_PORT", "x"),
        ("MF_AUTHN_LOG_LEVEL", "loud"),
    ],
    ids=["http port", "grpc port", "db port", "log level"],
)
def test_a_bad_setting_stops_start_up_with_one_line(name: str, value: str) -> None:
    line = run_failing(clean_env(**{name: value}))
    assert name in line


def test_help_lists_every_variable_with_its_default_and_starts_nothing() -> None:
    environ = clean_env()
    del environ["MF_AUTHN_SECRET"]  # the service would stop without it, were it started
    done = subprocess.run(
        [*COMMAND, "--help"], env=environ, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.startswith("usage: mainflux-authn [--help]")
    for name, default in [
        ("MF_AUTHN_HTTP_PORT", "8189"),
        ("MF_AUTHN_GRPC_PORT", "8181"),
        ("MF_AUTHN_DB_HOST", "localhost"),
        ("MF_AUTHN_DB", "authn"),
        ("MF_AUTHN_SECRET", "(required)"),
        ("MF_AUTHN_SERVER_CERT", "(unset)"),
        ("MF_AUTHN_LOG_LEVEL", "info"),
    ]:
        [line] = [line for line in done.stdout.splitlines() if line.split()[:1] == [name]]
        assert line.split(None, 1)[1].startswith(default + " "), line


def test_an_unknown_argument_stops_start_up_with_one_line() -> None:
    line = run_failing_with(["serve"], clean_env())
    assert line == "mainflux-authn: unexpected argument 'serve' (see mainflux-authn --help)"


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        (None, "not set"),
        ("", "not set"),
        ("authn", "too short (5 bytes)"),
        ("x" * 31, "too short (31 bytes)"),
    ],
    ids=["unset", "empty", "mainflux-default", "31-bytes"],
)
def test_no_or_a_short_secret_stops_start_up_with_one_line(secret: str | None, reason: str) -> None:
    environ = clean_env(MF_AUTHN_HTTP_PORT=str(free_port()), MF_AUTHN_GRPC_PORT=str(free_port()))
    if secret is None:
        del environ["MF_AUTHN_SECRET"]
    else:
        environ["MF_AUTHN_SECRET"] = secret
    line = run_failing(environ)
    assert line.startswith("mainflux: MF_AUTHN_SECRET: " + reason), line
    assert "32 bytes" in line


@pytest.mark.parametrize("setting", ["MF_AUTHN_HTTP_PORT", "MF_AUTHN_GRPC_PORT"])
def test_a_busy_port_stops_start_up_with_one_line(setting: str) -> None:
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        ports = {"MF_AUTHN_HTTP_PORT": str(free_port()), "MF_AUTHN_GRPC_PORT": str(free_port())}
        ports[setting] = str(busy.getsockname()[1])
        line = run_failing(clean_env(**ports))
    assert setting in line


def test_an_unreachable_database_stops_start_up_with_one_line() -> None:
    environ = clean_env(
        MF_AUTHN_HTTP_PORT=str(free_port()),
        MF_AUTHN_GRPC_PORT=str(free_port()),
        MF_AUTHN_DB_HOST="127.0.0.1",
        MF_AUTHN_DB_PORT=str(free_port()),
        MF_AUTHN_DB_PASS="do-not-print-me",
    )
    line = run_failing(environ)
    assert "MF_AUTHN_DB_HOST" in line and "do-not-print-me" not in line


@pytest.fixture
def authn_process(postgres_url: str) -> Iterator[tuple[int, int, subprocess.Popen[str]]]:
    http_port, grpc_port = free_port(), free_port()
    environ = clean_env(
        MF_AUTHN_HTTP_PORT=str(http_port),
        MF_AUTHN_GRPC_PORT=str(grpc_port),
        MF_AUTHN_LOG_LEVEL="debug",
        **db_env(postgres_url),
    )
    proc = subprocess.Popen(
        COMMAND, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for_port(http_port, timeout=20)
        wait_for_port(grpc_port, timeout=20)
        yield http_port, grpc_port, proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)


async def test_the_service_runs_on_postgres_and_stops_cleanly(
    authn_process: tuple[int, int, subprocess.Popen[str]],
) -> None:
    http_port, grpc_port, proc = authn_process
    async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        stub = authn_pb2_grpc.AuthNServiceStub(channel)
        login = (await stub.Issue(authn_pb2.IssueReq(issuer="a@b.com", type=0))).value
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as http:
            assert (await http.get("/version")).json()["service"] == "auth"
            created = await http.post(
                "/keys",
                headers={"Authorization": login, "Content-Type": "application/json"},
                json={"type": 2, "duration": 60},
            )
            assert created.status_code == 201
            api_key = created.json()["value"]
        identified = await stub.Identify(authn_pb2.Token(value=api_key))
        assert identified.value == "a@b.com"
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 0, stderr
    assert "authn listening" in stderr
    for secret in (SECRET, login, api_key):
        assert secret not in stderr
