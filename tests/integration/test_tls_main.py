"""TLS settings of the service processes: a bad one stops start-up with one line naming
the variable; good ones give ``mainflux-authn`` HTTPS and gRPC over TLS on PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mainflux.authn.client import GrpcUserAuth
from mainflux.core.errors import ServiceUnavailable
from mainflux.core.tls import client_tls
from tests.integration.test_authn_main import COMMAND as AUTHN_COMMAND
from tests.integration.test_authn_main import clean_env, db_env
from tests.pki import Pki, make_pki
from tests.servers import free_port, wait_for_port


def _command(module: str) -> list[str]:
    return [sys.executable, "-c", f"from {module} import main; main()"]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def run_failing(command: list[str], environ: dict[str, str]) -> str:
    done = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


CASES = [
    ("mainflux.things.main", {"MF_THINGS_SERVER_CERT": "server_cert"}, "MF_THINGS_SERVER_KEY"),
    (
        "mainflux.things.main",
        {"MF_THINGS_SERVER_CERT": "missing", "MF_THINGS_SERVER_KEY": "server_key"},
        "MF_THINGS_SERVER_CERT",
    ),
    (
        "mainflux.things.main",
        {"MF_THINGS_SERVER_CERT": "garbage", "MF_THINGS_SERVER_KEY": "server_key"},
        "MF_THINGS_SERVER_CERT",
    ),
    (
        "mainflux.things.main",
        {"MF_THINGS_SERVER_CERT": "server_cert", "MF_THINGS_SERVER_KEY": "other_key"},
        "MF_THINGS_SERVER_KEY",
    ),
    (
        "mainflux.things.main",
        {"MF_THINGS_CLIENT_TLS": "true", "MF_THINGS_CA_CERTS": "missing"},
        "MF_THINGS_CA_CERTS",
    ),
    ("mainflux.users.main", {"MF_USERS_SERVER_KEY": "server_key"}, "MF_USERS_SERVER_CERT"),
    ("mainflux.users.main", {"MF_AUTHN_CLIENT_TLS": "sometimes"}, "MF_AUTHN_CLIENT_TLS"),
    (
        "mainflux.authn.main",
        {"MF_AUTHN_SERVER_CERT": "server_cert", "MF_AUTHN_SERVER_KEY": "garbage"},
        "MF_AUTHN_SERVER_KEY",
    ),
    (
        "mainflux.adapters.http.main",
        {"MF_HTTP_ADAPTER_CLIENT_TLS": "1", "MF_HTTP_ADAPTER_CA_CERTS": "garbage"},
        "MF_HTTP_ADAPTER_CA_CERTS",
    ),
    (
        "mainflux.readers.main",
        {"MF_POSTGRES_READER_SERVER_CERT": "missing", "MF_POSTGRES_READER_SERVER_KEY": "x"},
        "MF_POSTGRES_READER_SERVER_CERT",
    ),
]


@pytest.mark.parametrize(
    ("module", "settings", "named"),
    CASES,
    ids=[
        "things cert without key",
        "things missing cert",
        "things garbage cert",
        "things key of another cert",
        "things missing ca",
        "users key without cert",
        "users bad client tls",
        "authn garbage key",
        "http adapter garbage ca",
        "reader missing cert",
    ],
)
def test_a_bad_tls_setting_stops_start_up_with_one_line(
    pki: Pki, module: str, settings: dict[str, str], named: str
) -> None:
    def resolve(value: str) -> str:
        if value == "missing":
            return str(pki.ca.parent / "does-not-exist.pem")
        return str(getattr(pki, value)) if hasattr(pki, value) else value

    environ = clean_env(
        MF_NATS_URL=f"nats://127.0.0.1:{free_port()}",
        **{name: resolve(value) for name, value in settings.items()},
    )
    line = run_failing(_command(module), environ)
    assert line.startswith(f"mainflux: {named}: "), line
    assert "PRIVATE KEY" not in line


@pytest.fixture
def authn_tls_process(
    pki: Pki, postgres_url: str
) -> Iterator[tuple[int, int, subprocess.Popen[str]]]:
    http_port, grpc_port = free_port(), free_port()
    environ = clean_env(
        MF_AUTHN_HTTP_PORT=str(http_port),
        MF_AUTHN_GRPC_PORT=str(grpc_port),
        MF_AUTHN_SERVER_CERT=str(pki.server_cert),
        MF_AUTHN_SERVER_KEY=str(pki.server_key),
        MF_AUTHN_LOG_LEVEL="info",
        **db_env(postgres_url),
    )
    proc = subprocess.Popen(
        AUTHN_COMMAND, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for_port(http_port, timeout=20)
        wait_for_port(grpc_port, timeout=20)
        yield http_port, grpc_port, proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)


async def test_authn_serves_https_and_grpc_over_tls(
    pki: Pki, authn_tls_process: tuple[int, int, subprocess.Popen[str]]
) -> None:
    http_port, grpc_port, proc = authn_tls_process
    tls = client_tls(
        "AUTHN", environ={"MF_AUTHN_CLIENT_TLS": "true", "MF_AUTHN_CA_CERTS": str(pki.ca)}
    )
    assert tls is not None
    async with httpx.AsyncClient(verify=tls.ssl_context(), timeout=5) as http:
        response = await http.get(f"https://localhost:{http_port}/version")
        assert response.json()["service"] == "auth"
    async with httpx.AsyncClient(timeout=5) as plain:
        with pytest.raises(httpx.TransportError):
            await plain.get(f"http://127.0.0.1:{http_port}/version")

    client = GrpcUserAuth(f"localhost:{grpc_port}", 5.0, tls=tls)
    plain_client = GrpcUserAuth(f"127.0.0.1:{grpc_port}", 1.0)
    try:
        token = await client.issue("tls@example.com", 0)
        assert await client.identify(token) == "tls@example.com"
        with pytest.raises(ServiceUnavailable):
            await plain_client.identify(token)
    finally:
        await client.close()
        await plain_client.close()

    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 0, stderr
    assert "HTTPS on port" in stderr and "gRPC over TLS" in stderr
    assert "Traceback" not in stderr
    assert Path(pki.server_key).read_text() not in stderr
