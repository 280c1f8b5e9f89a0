"""The authn HTTP API over a real SQLite database (PostgreSQL too for key revocation):
every status of ``/keys``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest

from mainflux.authn.api import create_app
from mainflux.authn.main import build_service
from mainflux.authn.service import AuthnService
from mainflux.core.db import create_engine
from mainflux.core.errors import Unauthorized
from tests import servers
from tests.unit.test_authn_service import Clock, go_token

SECRET = "test-secret"
EMAIL = "alice@example.com"
JSON = {"Content-Type": "application/json"}


@pytest.fixture(name="database")
def database_fixture(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[str]:
    """A fresh SQLite database; PostgreSQL instead where a test says so with ``ON_BOTH``."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield sqlite_url
    else:
        with servers.postgres_database() as url:
            yield url


#: Runs a test once on SQLite and once on PostgreSQL.
ON_BOTH = pytest.mark.parametrize("database", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def clock() -> Clock:
    clock = Clock()
    clock.now = datetime.now(UTC).replace(microsecond=0)
    return clock


@pytest.fixture
async def service(database: str, clock: Clock) -> AsyncIterator[AuthnService]:
    engine = create_engine(database)
    service = await build_service(engine, SECRET)
    service._clock = clock
    yield service
    await engine.dispose()


@pytest.fixture
async def client(service: AuthnService) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://authn") as client:
        yield client


@pytest.fixture
async def login(service: AuthnService) -> str:
    return await service.issue(EMAIL, 0)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": token, **JSON}


async def test_version_names_the_auth_service(client: httpx.AsyncClient) -> None:
    response = await client.get("/version")
    assert response.json() == {"service": "auth", "version": "0.11.0"}


async def test_post_keys_issues_an_api_key_with_expiry(
    client: httpx.AsyncClient, service: AuthnService, login: str, clock: Clock
) -> None:
    response = await client.post("/keys", headers=auth(login), json={"type": 2, "duration": 3600})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "value", "issued_at", "expires_at"}
    issued = clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    expires = (clock.now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (body["issued_at"], body["expires_at"]) == (issued, expires)
    claims = jwt.decode(body["value"], options={"verify_signature": False})
    assert claims["jti"] == body["id"] and claims["iss"] == EMAIL and claims["type"] == 2
    assert await service.identify(body["value"]) == EMAIL


async def test_post_keys_without_duration_has_no_expiry(
    client: httpx.AsyncClient, login: str
) -> None:
    response = await client.post("/keys", headers=auth(login), json={"type": 2})
    assert response.status_code == 201
    assert "expires_at" not in response.json()


async def test_post_keys_of_type_0_renews_the_login_token(
    client: httpx.AsyncClient, service: AuthnService, login: str
) -> None:
    response = await client.post("/keys", headers=auth(login), json={})
    assert response.status_code == 201
    body = response.json()
    assert "id" not in body and "expires_at" in body
    assert await service.identify(body["value"]) == EMAIL


@pytest.mark.parametrize(
    ("headers", "content", "status"),
    [
        ({}, b'{"type":2}', 415),
        ({"Content-Type": "text/plain"}, b'{"type":2}', 415),
        (JSON, b'{"type":2', 400),
        (JSON, b"", 400),
        (JSON, b"[2]", 400),
        (JSON, b'{"type":1}', 400),
        (JSON, b'{"type":9}', 400),
        (JSON, b'{"type":"2"}', 400),
        (JSON, b'{"type":2,"duration":-1}', 400),
        (JSON, b'{"type":2,"duration":"1h"}', 400),
        (JSON, b'{"type":2,"duration":1.5}', 400),
        (JSON, b'{"type":2,"duration":99999999999999999}', 400),
    ],
    ids=[
        "no content type",
        "text content type",
        "truncated json",
        "empty body",
        "not an object",
        "recovery type",
        "unknown type",
        "type as string",
        "negative duration",
        "duration as string",
        "fractional duration",
        "huge duration",
    ],
)
async def test_post_keys_refuses_bad_requests(
    client: httpx.AsyncClient, login: str, headers: dict, content: bytes, status: int
) -> None:
    response = await client.post(
        "/keys", headers={"Authorization": login, **headers}, content=content
    )
    assert response.status_code == status
    assert "error" in response.json()


async def bad_credentials(service: AuthnService, clock: Clock) -> dict[str, str]:
    now = int(clock.now.timestamp())
    login = await service.issue(EMAIL, 0)
    _, api_token = await service.issue_api_key(login)
    return {
        "garbage": "not-a-token",
        "recovery": await service.issue(EMAIL, 1),
        "api key": api_token,
        "expired login": go_token(
            {"exp": now - 1, "iat": now - 36001, "iss": "mainflux.authn", "sub": EMAIL, "type": 0},
            SECRET,
        ),
        "other secret": go_token(
            {"exp": now + 60, "iat": now, "iss": "mainflux.authn", "sub": EMAIL, "type": 0},
            "other",
        ),
    }


CREDENTIALS = ["garbage", "recovery", "api key", "expired login", "other secret"]


@ON_BOTH
@pytest.mark.parametrize(
    "body", [{"type": 0}, {"type": 2}, {}], ids=["type 0", "type 2", "no type"]
)
async def test_post_keys_without_authorization_is_400(
    client: httpx.AsyncClient, body: dict
) -> None:
    response = await client.post("/keys", headers=JSON, json=body)
    assert response.status_code == 400
    assert "error" in response.json()


@ON_BOTH
async def test_get_and_delete_without_authorization_are_400(
    client: httpx.AsyncClient, service: AuthnService, login: str
) -> None:
    key, api_token = await service.issue_api_key(login)
    assert (await client.get(f"/keys/{key.id}")).status_code == 400
    assert (await client.delete(f"/keys/{key.id}")).status_code == 400
    assert await service.identify(api_token) == EMAIL


@pytest.mark.parametrize("kind", CREDENTIALS)
@pytest.mark.parametrize(
    "body", [{"type": 0}, {"type": 2}, {}], ids=["type 0", "type 2", "no type"]
)
async def test_post_keys_needs_a_valid_login_token(
    client: httpx.AsyncClient, service: AuthnService, clock: Clock, kind: str, body: dict
) -> None:
    token = (await bad_credentials(service, clock))[kind]
    response = await client.post("/keys", headers=auth(token), json=body)
    assert response.status_code == 403


@pytest.mark.parametrize("kind", CREDENTIALS)
async def test_get_and_delete_need_a_valid_login_token(
    client: httpx.AsyncClient, service: AuthnService, clock: Clock, login: str, kind: str
) -> None:
    key, api_token = await service.issue_api_key(login)
    token = (await bad_credentials(service, clock))[kind]
    assert (
        await client.get(f"/keys/{key.id}", headers={"Authorization": token})
    ).status_code == 403
    response = await client.delete(f"/keys/{key.id}", headers={"Authorization": token})
    assert response.status_code == 403
    assert await service.identify(api_token) == EMAIL


async def test_get_key_answers_snake_case_fields(
    client: httpx.AsyncClient, login: str, clock: Clock
) -> None:
    created = (
        await client.post("/keys", headers=auth(login), json={"type": 2, "duration": 60})
    ).json()
    response = await client.get(f"/keys/{created['id']}", headers={"Authorization": login})
    assert response.status_code == 200
    assert response.json() == {
        "id": created["id"],
        "type": 2,
        "issuer": EMAIL,
        "issued_at": created["issued_at"],
        "expires_at": created["expires_at"],
    }


@pytest.mark.parametrize(
    "key_id", ["0c65e353-7059-45b2-a3d8-564dce6c7900", "not-a-uuid", "1"], ids=str
)
async def test_get_unknown_or_malformed_key_id_is_404(
    client: httpx.AsyncClient, login: str, key_id: str
) -> None:
    response = await client.get(f"/keys/{key_id}", headers={"Authorization": login})
    assert response.status_code == 404


async def test_another_users_key_is_404(client: httpx.AsyncClient, service: AuthnService) -> None:
    key, _ = await service.issue_api_key(await service.issue(EMAIL, 0))
    bob = await service.issue("bob@example.com", 0)
    response = await client.get(f"/keys/{key.id}", headers={"Authorization": bob})
    assert response.status_code == 404


async def test_delete_revokes_the_key(
    client: httpx.AsyncClient, service: AuthnService, login: str
) -> None:
    created = (await client.post("/keys", headers=auth(login), json={"type": 2})).json()
    response = await client.delete(f"/keys/{created['id']}", headers={"Authorization": login})
    assert response.status_code == 204 and response.content == b""
    with pytest.raises(Unauthorized):
        await service.identify(created["value"])
    again = await client.delete(f"/keys/{created['id']}", headers={"Authorization": login})
    assert again.status_code == 204
    gone = await client.get(f"/keys/{created['id']}", headers={"Authorization": login})
    assert gone.status_code == 404


async def test_delete_with_a_malformed_id_is_204(client: httpx.AsyncClient, login: str) -> None:
    response = await client.delete("/keys/not-a-uuid", headers={"Authorization": login})
    assert response.status_code == 204


async def test_an_expired_api_key_is_refused_and_its_row_deleted(
    client: httpx.AsyncClient, service: AuthnService, login: str, clock: Clock
) -> None:
    created = (
        await client.post("/keys", headers=auth(login), json={"type": 2, "duration": 5})
    ).json()
    clock.advance(seconds=6)
    fresh_login = await service.issue(EMAIL, 0)
    with pytest.raises(Unauthorized, match="expired"):
        await service.identify(created["value"])
    response = await client.get(f"/keys/{created['id']}", headers={"Authorization": fresh_login})
    assert response.status_code == 404


async def test_unknown_route_is_plain_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/nothing")
    assert response.status_code == 404 and response.text.startswith("404 page not found")


async def test_no_secret_or_token_reaches_the_logs(
    client: httpx.AsyncClient, service: AuthnService, login: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = (await client.post("/keys", headers=auth(login), json={"type": 2})).json()
    await client.get(f"/keys/{created['id']}", headers={"Authorization": login})
    await client.post("/keys", headers=auth("garbage-token-value"), json={"type": 2})
    await client.delete(f"/keys/{created['id']}", headers={"Authorization": login})
    text = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (SECRET, login, created["value"], "garbage-token-value"):
        assert secret not in text


@ON_BOTH
async def test_a_revocation_voids_earlier_login_tokens_and_api_keys(
    client: httpx.AsyncClient, service: AuthnService, login: str, clock: Clock
) -> None:
    created = (await client.post("/keys", headers=auth(login), json={"type": 2})).json()
    clock.advance(seconds=0.25)
    await service.revoke_all_keys(EMAIL)
    clock.advance(seconds=0.25)  # the same second, or just after it
    fresh = await service.issue(EMAIL, 0)
    for stale in (login, created["value"]):
        assert (
            await client.post("/keys", headers=auth(stale), json={"type": 2})
        ).status_code == 403
    response = await client.get(f"/keys/{created['id']}", headers={"Authorization": login})
    assert response.status_code == 403
    response = await client.get(f"/keys/{created['id']}", headers={"Authorization": fresh})
    assert response.status_code == 404
    renewed = await client.post("/keys", headers=auth(fresh), json={"type": 2})
    assert renewed.status_code == 201
    assert await service.identify(renewed.json()["value"]) == EMAIL
