"""``mainflux-users`` as a process: one-line start-up errors, and the users and authn
microservices working together over gRPC on PostgreSQL."""

from __future__ import annotations

import asyncio
import email
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from mainflux.authn.client import GrpcUserAuth
from mainflux.core.config import ConfigError
from mainflux.core.db import create_engine
from mainflux.core.settings import load
from mainflux.users.api import create_app
from mainflux.users.email import OutboxEmailer
from mainflux.users.hasher import BcryptHasher
from mainflux.users.links import reset_url
from mainflux.users.main import Settings, build_service
from tests.integration.test_authn_main import COMMAND as AUTHN_COMMAND
from tests.integration.test_authn_main import clean_env, db_env
from tests.servers import free_port, wait_for_port

COMMAND = [sys.executable, "-c", "from mainflux.users.main import main; main()"]


def run_failing(environ: dict[str, str]) -> str:
    done = subprocess.run(COMMAND, env=environ, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize(
    "overrides",
    [
        {"MF_USERS_HTTP_PORT": "abc"},
        {"MF_AUTHN_GRPC_TIMEOUT": "soon"},
        {"MF_AUTHN_GRPC_TIMEOUT": "0"},
        {"MF_AUTHN_GRPC_URL": "http://authn:8181"},
        {"MF_EMAIL_HOST": "smtp.example.com", "MF_EMAIL_PORT": "twenty-five"},
        {"MF_USERS_DB_PORT": "-1"},
        {"MF_USERS_LOG_LEVEL": "chatty"},
        {"MF_USERS_RESET_URL": "ui.example.com/reset"},
        {"MF_USERS_RESET_URL": "ftp://ui.example.com/reset"},
    ],
    ids=[
        "http port",
        "timeout",
        "zero timeout",
        "authn url",
        "email port",
        "db port",
        "log",
        "reset url without scheme",
        "reset url not http",
    ],
)
def test_a_bad_setting_stops_start_up_with_one_line(overrides: dict[str, str]) -> None:
    line = run_failing(clean_env(**overrides))
    assert list(overrides)[-1] in line


def test_a_bad_setting_never_prints_a_password() -> None:
    line = run_failing(clean_env(MF_AUTHN_GRPC_URL="http://authn:do-not-print-me@authn:8181"))
    assert line.startswith("mainflux: MF_AUTHN_GRPC_URL: expected host:port"), line
    assert "do-not-print-me" not in line


def test_a_busy_port_stops_start_up_with_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        line = run_failing(clean_env(MF_USERS_HTTP_PORT=str(busy.getsockname()[1])))
    assert "MF_USERS_HTTP_PORT" in line


def test_help_lists_every_variable_with_its_default_and_starts_nothing() -> None:
    with socket.socket() as busy:  # the service would fail on it, were it started
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        environ = clean_env(MF_USERS_HTTP_PORT=str(busy.getsockname()[1]))
        done = subprocess.run(
            [*COMMAND, "--help"], env=environ, capture_output=True, text=True, timeout=30
        )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.startswith("usage: mainflux-users [--help]")
    for name, default in [
        ("MF_USERS_HTTP_PORT", "8180"),
        ("MF_USERS_DB", "users"),
        ("MF_AUTHN_GRPC_URL", "localhost:8181"),
        ("MF_AUTHN_GRPC_TIMEOUT", "1"),
        ("MF_EMAIL_PORT", "25"),
        ("MF_USERS_MAIL_DIR", "./data/mail"),
        ("MF_USERS_RESET_URL", "(own page)"),
        ("MF_USERS_SERVER_CERT", "(unset)"),
        ("MF_AUTHN_CLIENT_TLS", "false"),
        ("MF_USERS_LOG_LEVEL", "info"),
    ]:
        [line] = [line for line in done.stdout.splitlines() if line.split()[:1] == [name]]
        assert line.split(None, 1)[1].startswith(default + " "), line


def test_the_settings_keep_passwords_out_of_their_repr() -> None:
    settings = load(
        Settings,
        {
            "MF_USERS_DB_PASS": "db-secret",
            "MF_EMAIL_HOST": "smtp.example.com",
            "MF_EMAIL_PASSWORD": "smtp-secret",
        },
    )
    assert settings.email is not None and settings.email.password == "smtp-secret"
    assert "db-secret" in settings.db_url
    assert "secret" not in repr(settings)


def test_the_email_settings_are_read_only_with_an_smtp_host() -> None:
    assert load(Settings, {"MF_EMAIL_PORT": "twenty-five"}).email is None


def test_an_unknown_argument_stops_start_up_with_one_line() -> None:
    done = subprocess.run(
        [*COMMAND, "--port=1"], env=clean_env(), capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "mainflux-users: unexpected argument '--port=1' (see mainflux-users --help)"
    ]


def test_an_unreachable_database_stops_start_up_with_one_line() -> None:
    environ = clean_env(
        MF_USERS_HTTP_PORT=str(free_port()),
        MF_USERS_DB_HOST="127.0.0.1",
        MF_USERS_DB_PORT=str(free_port()),
        MF_USERS_DB_PASS="do-not-print-me",
    )
    line = run_failing(environ)
    assert "MF_USERS_DB_HOST" in line and "do-not-print-me" not in line


@pytest.fixture
async def users_without_authn(sqlite_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    engine = create_engine(sqlite_url)
    auth = GrpcUserAuth(f"127.0.0.1:{free_port()}", timeout=0.5)
    service = await build_service(engine, auth, OutboxEmailer(tmp_path), hasher=BcryptHasher(4))
    transport = httpx.ASGITransport(create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://users") as client:
        yield client
    await auth.close()
    await engine.dispose()


async def test_an_unreachable_authn_is_503(users_without_authn: httpx.AsyncClient) -> None:
    client = users_without_authn
    assert (await client.get("/users", headers={"Authorization": "some-token"})).status_code == 503
    await client.post("/users", json={"email": "a@b.com", "password": "12345678"})
    login = await client.post("/tokens", json={"email": "a@b.com", "password": "12345678"})
    assert login.status_code == 503


async def wait_for_mail(mail_dir: Path, timeout: float = 10.0) -> Path:
    """The one mail the service writes into ``mail_dir`` (in the background)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list(mail_dir.glob("*.eml")) if mail_dir.exists() else []
        if found:
            [path] = found
            return path
        await asyncio.sleep(0.02)
    raise TimeoutError(f"no mail in {mail_dir} after {timeout}s")


def start(command: list[str], environ: dict[str, str], *ports: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        command, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        for port in ports:
            wait_for_port(port, timeout=20)
    except TimeoutError:
        proc.kill()
        raise AssertionError(proc.communicate(timeout=10)[1]) from None
    return proc


@pytest.fixture
def microservices(
    postgres_url: str, tmp_path: Path
) -> Iterator[tuple[int, Path, list[subprocess.Popen[str]]]]:
    authn_http, authn_grpc, users_http = free_port(), free_port(), free_port()
    authn_db = db_env(postgres_url)
    users_db = {k.replace("MF_AUTHN_", "MF_USERS_"): v for k, v in authn_db.items()}
    procs = [
        start(
            AUTHN_COMMAND,
            clean_env(
                MF_AUTHN_HTTP_PORT=str(authn_http),
                MF_AUTHN_GRPC_PORT=str(authn_grpc),
                **authn_db,
            ),
            authn_http,
            authn_grpc,
        )
    ]
    procs.append(
        start(
            COMMAND,
            clean_env(
                MF_USERS_HTTP_PORT=str(users_http),
                MF_AUTHN_GRPC_URL=f"127.0.0.1:{authn_grpc}",
                MF_USERS_MAIL_DIR=str(tmp_path / "mail"),
                MF_USERS_RESET_URL="https://ui.example.com/reset",
                MF_TOKEN_RESET_ENDPOINT="/ignored",
                MF_USERS_LOG_LEVEL="debug",
                **users_db,
            ),
            users_http,
        )
    )
    try:
        yield users_http, tmp_path / "mail", procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=10)


async def test_users_and_authn_processes_work_together(
    microservices: tuple[int, Path, list[subprocess.Popen[str]]],
) -> None:
    port, mail_dir, procs = microservices
    account = {"email": "a@b.com", "password": "first-password"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        assert (await http.post("/users", json=account)).status_code == 201
        assert (await http.post("/users", json=account)).status_code == 409
        token = (await http.post("/tokens", json=account)).json()["token"]
        me = await http.get("/users", headers={"Authorization": token})
        assert me.json() == {"email": "a@b.com"}
        reset_request = await http.post("/password/reset-request", json={"email": "A@B.com"})
        assert reset_request.status_code == 201
        path = await wait_for_mail(mail_dir)
        body = email.message_from_bytes(path.read_bytes()).get_payload(decode=True).decode()
        prefix = "https://ui.example.com/reset?token="
        [link] = [line for line in body.splitlines() if line.startswith(prefix)]
        recovery = parse_qs(urlsplit(link).query)["token"][0]
        recovery_view = await http.get("/users", headers={"Authorization": recovery})
        assert recovery_view.status_code == 403
        reset = {
            "token": recovery,
            "password": "second-password",
            "confirm_password": "second-password",
        }
        assert (await http.put("/password/reset", json=reset)).status_code == 201
        assert (await http.put("/password/reset", json=reset)).status_code == 403
        relogin = await http.post(
            "/tokens", json={"email": "a@b.com", "password": "second-password"}
        )
        assert relogin.status_code == 201
        fresh = relogin.json()["token"]
        assert (await http.get("/users", headers={"Authorization": token})).status_code == 403
        assert (await http.get("/users", headers={"Authorization": fresh})).status_code == 200
        change = {"password": "third-password", "old_password": "second-password"}
        changed = await http.patch("/password", headers={"Authorization": fresh}, json=change)
        assert changed.status_code == 201
        assert (await http.get("/users", headers={"Authorization": fresh})).status_code == 403
    outputs = []
    for proc in reversed(procs):
        proc.send_signal(signal.SIGTERM)
        outputs.append(proc.communicate(timeout=15)[1])
        assert proc.returncode == 0, outputs[-1]
    logs = "\n".join(outputs)
    assert "reset mail for a@b.com written to" in logs
    assert "reset links to https://ui.example.com/reset" in logs
    assert "MF_TOKEN_RESET_ENDPOINT is not used" in logs
    for secret in ("first-password", "second-password", token, recovery, "process-secret"):
        assert secret not in logs


@pytest.mark.parametrize(
    ("host", "tls", "environ", "expected"),
    [
        ("0.0.0.0", False, {}, "http://localhost:8180/password/reset"),
        ("::", True, {}, "https://localhost:8180/password/reset"),
        ("10.0.0.5", False, {}, "http://10.0.0.5:8180/password/reset"),
        ("fd00::5", False, {}, "http://[fd00::5]:8180/password/reset"),
        (
            "0.0.0.0",
            False,
            {"MF_USERS_RESET_URL": "https://iot.example.com/reset?x=1"},
            "https://iot.example.com/reset?x=1",
        ),
    ],
    ids=["wildcard", "wildcard v6 with tls", "address", "v6 address", "configured"],
)
def test_the_reset_url_defaults_to_the_own_page(
    host: str, tls: bool, environ: dict[str, str], expected: str
) -> None:
    configured = environ.get("MF_USERS_RESET_URL", "")
    assert reset_url(host, 8180, tls=tls, configured=configured) == expected


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "http://localhost:8180/password/reset"),
        ({"MF_USERS_HTTP_PORT": "9000"}, "http://localhost:9000/password/reset"),
        (
            {"MF_USERS_RESET_URL": "https://ui.example.com/reset", "MF_USERS_HTTP_PORT": "9000"},
            "https://ui.example.com/reset",
        ),
    ],
    ids=["default", "own port", "configured"],
)
def test_the_settings_point_reset_links_at_the_own_page_or_the_configured_one(
    environ: dict[str, str], expected: str
) -> None:
    assert load(Settings, environ).reset_url == expected


@pytest.mark.parametrize(
    "value", ["ui.example.com/reset", "ftp://ui.example.com/", "https://", "/password/reset"]
)
def test_a_bad_reset_url_names_the_setting(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^MF_USERS_RESET_URL: expected an http"):
        load(Settings, {"MF_USERS_RESET_URL": value})
