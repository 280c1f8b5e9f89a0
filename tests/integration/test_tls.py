"""TLS on the HTTP and gRPC faces: HTTPS through ``serve_http``, the authn and things gRPC
servers with their clients, and the settings that turn it on (a throw-away CA made with
the ``openssl`` binary)."""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest

from mainflux.authn.client import GrpcUserAuth
from mainflux.authn.grpc import GrpcServer, start_grpc_server
from mainflux.authn.main import build_service
from mainflux.authn.service import AuthnService
from mainflux.core.config import ConfigError
from mainflux.core.db import create_engine
from mainflux.core.errors import ServiceUnavailable, Unauthorized
from mainflux.core.http import create_app
from mainflux.core.runner import bind_socket, serve_http
from mainflux.core.tls import ClientTLS, ServerTLS, client_tls, server_tls
from mainflux.things import grpc as things_grpc
from mainflux.things.client import GrpcThingAccess
from tests.fakes import FakeThings
from tests.pki import Pki, make_pki

EMAIL = "alice@example.com"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls(pki: Pki) -> ServerTLS:
    loaded = server_tls(
        "SVC",
        {"MF_SVC_SERVER_CERT": str(pki.server_cert), "MF_SVC_SERVER_KEY": str(pki.server_key)},
    )
    assert loaded is not None
    return loaded


def trusting(ca: Path) -> ClientTLS:
    loaded = client_tls(
        "AUTHN", environ={"MF_AUTHN_CLIENT_TLS": "true", "MF_AUTHN_CA_CERTS": str(ca)}
    )
    assert loaded is not None
    return loaded


# --- HTTPS ------------------------------------------------------------------------------


@pytest.fixture
async def https_port(tls: ServerTLS) -> AsyncIterator[int]:
    sock = bind_socket("127.0.0.1", 0, "MF_USERS_HTTP_PORT")
    port = sock.getsockname()[1]
    task = asyncio.create_task(
        serve_http(create_app("users", []), sock, name="users", ssl=tls.ssl_context())
    )
    try:
        yield port
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()


async def _get_version(url: str, verify: ssl.SSLContext) -> httpx.Response:
    # The socket listens before the server task runs: a connection made while it is
    # still starting waits in the backlog, and its handshake is answered once it serves.
    async with httpx.AsyncClient(verify=verify, timeout=5) as client:
        return await client.get(url)


async def test_https_answers_version_when_the_client_trusts_the_ca(
    https_port: int, pki: Pki
) -> None:
    response = await _get_version(
        f"https://localhost:{https_port}/version", trusting(pki.ca).ssl_context()
    )
    assert response.status_code == 200
    assert response.json()["service"] == "users"
    assert response.url.scheme == "https"


async def test_https_refuses_plain_http(https_port: int, pki: Pki) -> None:
    await _get_version(f"https://127.0.0.1:{https_port}/version", trusting(pki.ca).ssl_context())
    async with httpx.AsyncClient(timeout=5) as client:
        with pytest.raises(httpx.TransportError):
            await client.get(f"http://127.0.0.1:{https_port}/version")


async def test_https_is_refused_by_a_client_trusting_another_ca(https_port: int, pki: Pki) -> None:
    await _get_version(f"https://127.0.0.1:{https_port}/version", trusting(pki.ca).ssl_context())
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        await _get_version(
            f"https://127.0.0.1:{https_port}/version", trusting(pki.other_ca).ssl_context()
        )


# --- authn gRPC -------------------------------------------------------------------------


@pytest.fixture
async def authn(sqlite_url: str) -> AsyncIterator[AuthnService]:
    engine = create_engine(sqlite_url)
    yield await build_service(engine, "secret")
    await engine.dispose()


@pytest.fixture
async def authn_tls_server(authn: AuthnService, tls: ServerTLS) -> AsyncIterator[GrpcServer]:
    server = await start_grpc_server(authn, "127.0.0.1", 0, tls=tls)
    yield server
    await server.stop(None)


async def test_authn_grpc_over_tls_issues_and_identifies(
    authn_tls_server: GrpcServer, pki: Pki
) -> None:
    client = GrpcUserAuth(f"localhost:{authn_tls_server.port}", 5.0, tls=trusting(pki.ca))
    try:
        token = await client.issue(EMAIL, 0)
        assert await client.identify(token) == EMAIL
        with pytest.raises(Unauthorized):
            await client.identify("not-a-token")
    finally:
        await client.close()


def _untrusting(kind: str, pki: Pki) -> ClientTLS | None:
    """A client setting that must not get through to a server with the test certificate."""
    if kind == "plain client":
        return None
    if kind == "other ca":  # a CA that did not sign the server's certificate
        return trusting(pki.other_ca)
    return ClientTLS()  # the system roots do not know the test CA


@pytest.mark.parametrize("kind", ["plain client", "other ca", "system roots"])
async def test_authn_grpc_over_tls_refuses_untrusting_clients(
    authn_tls_server: GrpcServer, authn: AuthnService, pki: Pki, kind: str
) -> None:
    token = await authn.issue(EMAIL, 0)
    client = GrpcUserAuth(f"127.0.0.1:{authn_tls_server.port}", 1.0, tls=_untrusting(kind, pki))
    try:
        with pytest.raises(ServiceUnavailable):
            await asyncio.wait_for(client.identify(token), 10)
    finally:
        await client.close()


async def test_a_tls_client_cannot_use_a_plain_authn_server(authn: AuthnService, pki: Pki) -> None:
    server = await start_grpc_server(authn, "127.0.0.1", 0)
    client = GrpcUserAuth(f"127.0.0.1:{server.port}", 1.0, tls=trusting(pki.ca))
    try:
        with pytest.raises(ServiceUnavailable):
            await asyncio.wait_for(client.issue(EMAIL, 0), 10)
    finally:
        await client.close()
        await server.stop(None)


# --- things gRPC ------------------------------------------------------------------------


def one_thing() -> FakeThings:
    """A things service knowing one thing (key ``good-key``) on channel ``chan``."""
    things = FakeThings()
    things.add("thing-1", "good-key", "chan")
    return things


@pytest.fixture
async def things_tls_port(tls: ServerTLS) -> AsyncIterator[int]:
    server, port = await things_grpc.start_grpc_server(one_thing(), 0, "127.0.0.1", tls=tls)
    yield port
    await server.stop(None)


async def test_thing_access_over_tls(things_tls_port: int, pki: Pki) -> None:
    environ = {"MF_HTTP_ADAPTER_CLIENT_TLS": "1", "MF_HTTP_ADAPTER_CA_CERTS": str(pki.ca)}
    access = GrpcThingAccess(
        f"127.0.0.1:{things_tls_port}", 5.0, tls=client_tls("HTTP_ADAPTER", environ=environ)
    )
    try:
        assert await access.can_access_by_key("chan", "good-key") == "thing-1"
        await access.can_access_by_id("chan", "thing-1")
        assert await access.identify("good-key") == "thing-1"
        with pytest.raises(Unauthorized):
            await access.can_access_by_key("chan", "wrong-key")
    finally:
        await access.close()


async def test_thing_access_without_tls_to_a_tls_server_is_unavailable(
    things_tls_port: int,
) -> None:
    access = GrpcThingAccess(f"127.0.0.1:{things_tls_port}", 1.0)
    try:
        with pytest.raises(ServiceUnavailable):
            await asyncio.wait_for(access.can_access_by_key("chan", "good-key"), 10)
    finally:
        await access.close()


async def test_a_busy_tls_grpc_port_names_the_setting(tls: ServerTLS) -> None:
    from mainflux.core.runner import StartupError

    sock = bind_socket("127.0.0.1", 0, "X")
    try:
        with pytest.raises(StartupError, match="MF_THINGS_AUTH_GRPC_PORT"):
            await things_grpc.start_grpc_server(
                one_thing(), sock.getsockname()[1], "127.0.0.1", tls=tls
            )
    finally:
        sock.close()


# --- settings ---------------------------------------------------------------------------


def test_no_server_settings_means_no_tls() -> None:
    assert server_tls("SVC", {}) is None
    assert client_tls("SVC", environ={}) is None
    assert client_tls("SVC", environ={"MF_SVC_CLIENT_TLS": "false", "MF_SVC_CA_CERTS": "x"}) is None


def test_client_tls_without_a_ca_trusts_the_system_roots() -> None:
    loaded = client_tls("SVC", environ={"MF_SVC_CLIENT_TLS": "true"})
    assert loaded == ClientTLS()
    assert loaded.ssl_context().cert_store_stats()["x509_ca"] >= 0


def test_the_first_prefix_with_client_tls_set_decides(pki: Pki) -> None:
    environ = {
        "MF_AUTHN_CLIENT_TLS": "true",
        "MF_AUTHN_CA_CERTS": str(pki.ca),
        "MF_THINGS_CLIENT_TLS": "false",
    }
    assert client_tls("THINGS", "AUTHN", environ=environ) is None
    del environ["MF_THINGS_CLIENT_TLS"]
    assert client_tls("THINGS", "AUTHN", environ=environ) == trusting(pki.ca)


def test_loaded_settings_cross_a_process_boundary(tls: ServerTLS, pki: Pki) -> None:
    assert pickle.loads(pickle.dumps(tls)) == tls
    assert pickle.loads(pickle.dumps(trusting(pki.ca))) == trusting(pki.ca)
    assert "PRIVATE" not in repr(tls)


@pytest.mark.parametrize(
    ("files", "named"),
    [
        (("server_cert", None), "MF_SVC_SERVER_KEY"),
        ((None, "server_key"), "MF_SVC_SERVER_CERT"),
        (("missing", "server_key"), "MF_SVC_SERVER_CERT"),
        (("server_cert", "missing"), "MF_SVC_SERVER_KEY"),
        (("garbage", "server_key"), "MF_SVC_SERVER_CERT"),
        (("server_key", "server_key"), "MF_SVC_SERVER_CERT"),
        (("server_cert", "garbage"), "MF_SVC_SERVER_KEY"),
        (("server_cert", "other_key"), "MF_SVC_SERVER_KEY"),
    ],
    ids=[
        "cert without key",
        "key without cert",
        "missing cert file",
        "missing key file",
        "garbage cert",
        "key as cert",
        "garbage key",
        "key of another certificate",
    ],
)
def test_bad_server_settings_name_the_variable(
    pki: Pki, files: tuple[str | None, str | None], named: str
) -> None:
    def path(name: str | None) -> str:
        if name is None:
            return ""
        return str(pki.ca.parent / "nope.pem") if name == "missing" else str(getattr(pki, name))

    environ = {"MF_SVC_SERVER_CERT": path(files[0]), "MF_SVC_SERVER_KEY": path(files[1])}
    with pytest.raises(ConfigError, match=f"^{named}: ") as caught:
        server_tls("SVC", environ)
    assert "\n" not in str(caught.value)
    assert "BEGIN" not in str(caught.value)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"MF_SVC_CLIENT_TLS": "maybe"}, "MF_SVC_CLIENT_TLS"),
        (
            {"MF_SVC_CLIENT_TLS": "true", "MF_SVC_CA_CERTS": "/nonexistent/ca.pem"},
            "MF_SVC_CA_CERTS",
        ),
        ({"MF_SVC_CLIENT_TLS": "true", "MF_SVC_CA_CERTS": "garbage"}, "MF_SVC_CA_CERTS"),
        ({"MF_SVC_CLIENT_TLS": "true", "MF_SVC_CA_CERTS": "server_key"}, "MF_SVC_CA_CERTS"),
    ],
    ids=["bad boolean", "missing ca", "garbage ca", "key as ca"],
)
def test_bad_client_settings_name_the_variable(
    pki: Pki, environ: dict[str, str], named: str
) -> None:
    resolved = {k: str(getattr(pki, v)) if hasattr(pki, v) else v for k, v in environ.items()}
    with pytest.raises(ConfigError, match=f"^{named}: "):
        client_tls("SVC", environ=resolved)


def test_grpc_credentials_are_built_from_the_loaded_files(tls: ServerTLS, pki: Pki) -> None:
    assert isinstance(tls.grpc_credentials(), grpc.ServerCredentials)
    assert isinstance(trusting(pki.ca).grpc_credentials(), grpc.ChannelCredentials)
