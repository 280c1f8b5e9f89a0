"""The users HTTP API over SQLite with the real authn service in-process: every status of §4."""

from __future__ import annotations

import email
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from mainflux.authn.main import build_service as build_authn
from mainflux.authn.service import AuthnService
from mainflux.core.db import create_engine
from mainflux.users.api import create_app
from mainflux.users.email import OutboxEmailer
from mainflux.users.hasher import BcryptHasher
from mainflux.users.main import build_service
from tests.unit.test_authn_service import go_token

EMAIL = "alice@example.com"
PASSWORD = "12345678"
JSON = {"Content-Type": "application/json"}
SECRET = "users-test-secret"


@pytest.fixture
async def authn(sqlite_url: str) -> AsyncIterator[AuthnService]:
    engine = create_engine(sqlite_url)
    yield await build_authn(engine, SECRET)
    await engine.dispose()


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "mail"


@pytest.fixture
async def client(
    sqlite_url: str, authn: AuthnService, outbox: Path
) -> AsyncIterator[httpx.AsyncClient]:
    engine = create_engine(sqlite_url)
    service = await build_service(engine, authn, OutboxEmailer(outbox), hasher=BcryptHasher(4))
    transport = httpx.ASGITransport(create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://users") as client:
        await client.post("/users", json={"email": EMAIL, "password": PASSWORD})
        yield client
    await engine.dispose()


@pytest.fixture
async def token(client: httpx.AsyncClient) -> str:
    response = await client.post("/tokens", json={"email": EMAIL, "password": PASSWORD})
    return response.json()["token"]


async def test_version_names_the_users_service(client: httpx.AsyncClient) -> None:
    assert (await client.get("/version")).json()["service"] == "users"


async def test_register_answers_201_with_an_empty_body(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/users", json={"email": "bob@example.com", "password": PASSWORD, "metadata": {"a": 1}}
    )
    assert response.status_code == 201 and response.content == b""


async def test_registering_a_taken_email_is_409(client: httpx.AsyncClient) -> None:
    response = await client.post("/users", json={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 409
    assert response.json() == {"error": "email already taken"}


BAD_BODIES = [
    ({}, b'{"email":"bob@example.com","password":"12345678"}', 415),
    ({"Content-Type": "text/plain"}, b'{"email":"bob@example.com","password":"12345678"}', 415),
    (JSON, b'{"email":"bob@example.com",', 400),
    (JSON, b"", 400),
    (JSON, b'["bob@example.com"]', 400),
    (JSON, b'{"email":"not-an-email","password":"12345678"}', 400),
    (JSON, b'{"email":"bob@example.com","password":"123"}', 400),
    (JSON, b'{"email":"bob@example.com"}', 400),
    (JSON, b'{"email":5,"password":"12345678"}', 400),
    (JSON, b'{"email":"bob@example.com","password":12345678}', 400),
]
BAD_BODY_IDS = [
    "no content type",
    "text content type",
    "truncated json",
    "empty body",
    "not an object",
    "invalid email",
    "short password",
    "no password",
    "email not a string",
    "password not a string",
]


@pytest.mark.parametrize(("headers", "content", "status"), BAD_BODIES, ids=BAD_BODY_IDS)
@pytest.mark.parametrize("path", ["/users", "/tokens"])
async def test_register_and_login_refuse_bad_bodies(
    client: httpx.AsyncClient, path: str, headers: dict, content: bytes, status: int
) -> None:
    response = await client.post(path, headers=headers, content=content)
    assert response.status_code == status
    assert "error" in response.json()


async def test_register_refuses_metadata_that_is_not_an_object(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/users", json={"email": "bob@example.com", "password": PASSWORD, "metadata": [1]}
    )
    assert response.status_code == 400


async def test_an_over_long_email_is_400_not_a_database_error(client: httpx.AsyncClient) -> None:
    long_email = "a" * 64 + "@" + ("b" * 60 + ".") * 3 + "c" * 20 + ".com"
    response = await client.post("/users", json={"email": long_email, "password": PASSWORD})
    assert response.status_code == 400


async def test_login_returns_a_mainflux_token(
    client: httpx.AsyncClient, authn: AuthnService
) -> None:
    response = await client.post("/tokens", json={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 201
    assert await authn.identify(response.json()["token"]) == EMAIL


@pytest.mark.parametrize(
    "credentials",
    [
        {"email": EMAIL, "password": "wrong-password"},
        {"email": "x@example.com", "password": PASSWORD},
    ],
    ids=["wrong password", "unknown email"],
)
async def test_login_with_wrong_credentials_is_403(
    client: httpx.AsyncClient, credentials: dict
) -> None:
    response = await client.post("/tokens", json=credentials)
    assert response.status_code == 403


async def test_view_shows_the_callers_email_and_metadata(
    client: httpx.AsyncClient, token: str
) -> None:
    response = await client.get("/users", headers={"Authorization": token})
    assert response.status_code == 200 and response.json() == {"email": EMAIL}
    update = await client.put(
        "/users", headers={"Authorization": token}, json={"metadata": {"x": 1}}
    )
    assert update.status_code == 200 and update.content == b""
    response = await client.get("/users", headers={"Authorization": token})
    assert response.json() == {"email": EMAIL, "metadata": {"x": 1}}


async def test_put_users_needs_no_content_type(client: httpx.AsyncClient, token: str) -> None:
    response = await client.put(
        "/users", headers={"Authorization": token}, content=b'{"metadata":{"y":2}}'
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "content", [b"{bad", b"[]", b'{"metadata":"text"}'], ids=["bad json", "array", "text metadata"]
)
async def test_put_users_with_a_bad_body_is_400(
    client: httpx.AsyncClient, token: str, content: bytes
) -> None:
    response = await client.put("/users", headers={"Authorization": token, **JSON}, content=content)
    assert response.status_code == 400


async def bad_tokens(authn: AuthnService, login: str) -> dict[str, str]:
    key, api_token = await authn.issue_api_key(login)
    await authn.revoke_key(login, key.id)
    return {
        "none": "",
        "garbage": "garbage",
        "expired": go_token(
            {"exp": 1, "iat": 0, "iss": "mainflux.authn", "sub": EMAIL, "type": 0}, SECRET
        ),
        "other secret": go_token({"iss": "mainflux.authn", "sub": EMAIL, "type": 0}, "other"),
        "revoked api key": api_token,
    }


@pytest.mark.parametrize("kind", ["none", "garbage", "expired", "other secret", "revoked api key"])
async def test_wrong_expired_or_revoked_tokens_are_403(
    client: httpx.AsyncClient, authn: AuthnService, token: str, kind: str
) -> None:
    bad = (await bad_tokens(authn, token))[kind]
    headers = {"Authorization": bad, **JSON}
    assert (await client.get("/users", headers=headers)).status_code == 403
    assert (await client.put("/users", headers=headers, json={"metadata": {}})).status_code == 403
    change = {"password": "new-password", "old_password": PASSWORD}
    assert (await client.patch("/password", headers=headers, json=change)).status_code == 403


async def test_an_api_key_works_as_a_user_token(
    client: httpx.AsyncClient, authn: AuthnService, token: str
) -> None:
    _, api_token = await authn.issue_api_key(token, 3600)
    response = await client.get("/users", headers={"Authorization": api_token})
    assert response.json()["email"] == EMAIL


async def test_one_user_never_sees_or_changes_another(
    client: httpx.AsyncClient, token: str
) -> None:
    await client.post("/users", json={"email": "bob@example.com", "password": PASSWORD})
    bob = (
        await client.post("/tokens", json={"email": "bob@example.com", "password": PASSWORD})
    ).json()
    await client.put("/users", headers={"Authorization": bob["token"]}, json={"metadata": {"b": 1}})
    alice = (await client.get("/users", headers={"Authorization": token})).json()
    assert alice == {"email": EMAIL}


async def test_change_password(client: httpx.AsyncClient, token: str) -> None:
    headers = {"Authorization": token}
    response = await client.patch(
        "/password", headers=headers, json={"password": "new-password", "old_password": PASSWORD}
    )
    assert response.status_code == 201 and response.json() == {"msg": ""}
    login = await client.post("/tokens", json={"email": EMAIL, "password": "new-password"})
    assert login.status_code == 201


@pytest.mark.parametrize(
    ("headers", "content", "status"),
    [
        ({}, b'{"password":"new-password","old_password":"12345678"}', 415),
        (JSON, b'{"password":"new-password"', 400),
        (JSON, b'{"password":"short","old_password":"12345678"}', 400),
        (JSON, b'{"password":"new-password","old_password":"wrong-password"}', 403),
        (JSON, b'{"password":"new-password"}', 403),
    ],
    ids=["no content type", "bad json", "short password", "wrong old password", "no old password"],
)
async def test_change_password_refuses_bad_requests(
    client: httpx.AsyncClient, token: str, headers: dict, content: bytes, status: int
) -> None:
    response = await client.patch(
        "/password", headers={"Authorization": token, **headers}, content=content
    )
    assert response.status_code == status


def mailed_token(outbox: Path) -> str:
    [path] = outbox.glob("*.eml")
    message = email.message_from_bytes(path.read_bytes())
    assert message["To"] == EMAIL and message["Subject"] == "Password reset"
    body = message.get_payload(decode=True).decode()
    [link] = [line for line in body.splitlines() if "?token=" in line]
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "http://ui.example.com/reset-request"
    return parse_qs(parts.query)["token"][0]


async def test_password_reset_by_mailed_link(client: httpx.AsyncClient, outbox: Path) -> None:
    response = await client.post(
        "/password/reset-request",
        headers={"Referer": "http://ui.example.com"},
        json={"email": EMAIL},
    )
    assert response.status_code == 201
    assert response.json() == {"msg": "Email with reset link is sent"}
    recovery = mailed_token(outbox)
    reset = {"token": recovery, "password": "reset-password", "confirm_password": "reset-password"}
    response = await client.put("/password/reset", json=reset)
    assert response.status_code == 201 and response.json() == {"msg": ""}
    login = await client.post("/tokens", json={"email": EMAIL, "password": "reset-password"})
    assert login.status_code == 201


@pytest.mark.parametrize(
    ("headers", "content", "status", "error"),
    [
        ({"Referer": "http://ui"}, b'{"email":"alice@example.com"}', 415, None),
        ({"Referer": "http://ui", **JSON}, b'{"email":', 400, None),
        (JSON, b'{"email":"alice@example.com"}', 400, None),
        ({"Referer": "http://ui", **JSON}, b"{}", 400, None),
        (
            {"Referer": "http://ui", **JSON},
            b'{"email":"nobody@example.com"}',
            400,
            "non-existent user",
        ),
    ],
    ids=["no content type", "bad json", "no referer", "no email", "unknown email"],
)
async def test_reset_request_refuses_bad_requests(
    client: httpx.AsyncClient,
    outbox: Path,
    headers: dict,
    content: bytes,
    status: int,
    error: str | None,
) -> None:
    response = await client.post("/password/reset-request", headers=headers, content=content)
    assert response.status_code == status
    if error:
        assert response.json() == {"error": error}
    assert not outbox.exists() or not list(outbox.glob("*.eml"))


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"token": "", "password": "reset-password", "confirm_password": "reset-password"}, 400),
        ({"token": "RECOVERY", "password": "", "confirm_password": ""}, 400),
        (
            {"token": "RECOVERY", "password": "reset-password", "confirm_password": "other-pass"},
            400,
        ),
        ({"token": "RECOVERY", "password": "short", "confirm_password": "short"}, 400),
        (
            {
                "token": "garbage",
                "password": "reset-password",
                "confirm_password": "reset-password",
            },
            403,
        ),
        ({"token": 5, "password": "reset-password", "confirm_password": "reset-password"}, 400),
    ],
    ids=[
        "empty token",
        "empty passwords",
        "mismatch",
        "short password",
        "bad token",
        "token not a string",
    ],
)
async def test_reset_refuses_bad_requests(
    client: httpx.AsyncClient, authn: AuthnService, body: dict, status: int
) -> None:
    if body["token"] == "RECOVERY":
        body = {**body, "token": await authn.issue(EMAIL, 1)}
    response = await client.put("/password/reset", json=body)
    assert response.status_code == status


async def test_reset_needs_json(client: httpx.AsyncClient) -> None:
    assert (await client.put("/password/reset", content=b"{}")).status_code == 415
    assert (await client.put("/password/reset", headers=JSON, content=b"{")).status_code == 400


async def test_no_password_or_token_reaches_the_logs(
    client: httpx.AsyncClient, outbox: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = (await client.post("/tokens", json={"email": EMAIL, "password": PASSWORD})).json()
    await client.patch(
        "/password",
        headers={"Authorization": token["token"]},
        json={"password": "second-password", "old_password": PASSWORD},
    )
    await client.post(
        "/password/reset-request",
        headers={"Referer": "http://ui.example.com"},
        json={"email": EMAIL},
    )
    recovery = mailed_token(outbox)
    await client.put(
        "/password/reset",
        json={
            "token": recovery,
            "password": "third-password",
            "confirm_password": "third-password",
        },
    )
    await client.post("/tokens", json={"email": EMAIL, "password": "wrong-password"})
    messages = [record.getMessage() for record in caplog.records]
    assert any(m.startswith(f"reset mail for {EMAIL} written to ") for m in messages)
    text = "\n".join(messages)
    for secret in (
        PASSWORD,
        "second-password",
        "third-password",
        "wrong-password",
        token["token"],
        recovery,
        SECRET,
    ):
        assert secret not in text
