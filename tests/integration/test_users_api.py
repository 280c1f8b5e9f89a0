"""The users HTTP API with the real authn service in-process: every status of §4, on
SQLite; the account-security rules (token revocation, recovery tokens, enumeration,
long passwords, email case) also on PostgreSQL, with the things and authn HTTP APIs
sharing the same authn."""

from __future__ import annotations

import base64
import email
import hashlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from mainflux.authn.api import create_app as create_authn_app
from mainflux.authn.main import build_service as build_authn
from mainflux.authn.service import AuthnService
from mainflux.core.db import create_engine
from mainflux.things.api import create_app as create_things_app
from mainflux.things.cache import InMemoryAccessCache
from mainflux.things.main import build_service as build_things
from mainflux.users.api import create_app
from mainflux.users.email import OutboxEmailer
from mainflux.users.hasher import BcryptHasher
from mainflux.users.main import build_service
from mainflux.users.service import UsersService
from tests.integration.test_authn_api import ON_BOTH, database_fixture  # noqa: F401
from tests.unit.test_authn_service import go_token

EMAIL = "alice@example.com"
PASSWORD = "12345678"
JSON = {"Content-Type": "application/json"}
SECRET = "users-test-secret"
RESET_URL = "https://ui.example.com/reset"


@pytest.fixture
async def authn(database: str) -> AsyncIterator[AuthnService]:
    engine = create_engine(database)
    yield await build_authn(engine, SECRET)
    await engine.dispose()


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "mail"


@pytest.fixture
async def service(database: str, authn: AuthnService, outbox: Path) -> AsyncIterator[UsersService]:
    engine = create_engine(database)
    yield await build_service(
        engine, authn, OutboxEmailer(outbox), hasher=BcryptHasher(4), reset_url=RESET_URL
    )
    await engine.dispose()


@pytest.fixture
async def client(service: UsersService) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://users") as client:
        await client.post("/users", json={"email": EMAIL, "password": PASSWORD})
        yield client


@pytest.fixture
async def things(database: str, authn: AuthnService) -> AsyncIterator[httpx.AsyncClient]:
    """The things API, asking the same authn who a token belongs to."""
    engine = create_engine(database)
    service = await build_things(engine, authn, None, InMemoryAccessCache())
    transport = httpx.ASGITransport(create_things_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://things") as client:
        yield client
    await engine.dispose()


@pytest.fixture
async def keys(authn: AuthnService) -> AsyncIterator[httpx.AsyncClient]:
    """The authn HTTP API (``/keys``) of the same authn."""
    transport = httpx.ASGITransport(create_authn_app(authn))
    async with httpx.AsyncClient(transport=transport, base_url="http://authn") as client:
        yield client


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


async def test_deeply_nested_metadata_is_400_on_register_and_update(
    client: httpx.AsyncClient,
) -> None:
    deep: dict[str, object] = {}
    for _ in range(40):
        deep = {"a": deep}
    response = await client.post(
        "/users", json={"email": "deep@example.com", "password": PASSWORD, "metadata": deep}
    )
    assert response.status_code == 400
    assert "deeper than 32" in response.json()["error"]
    token = (await client.post("/tokens", json={"email": EMAIL, "password": PASSWORD})).json()
    response = await client.put(
        "/users", headers={"Authorization": token["token"]}, json={"metadata": deep}
    )
    assert response.status_code == 400
    assert (await client.get("/version")).status_code == 200


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


def mails(outbox: Path) -> list[Path]:
    return sorted(outbox.glob("*.eml")) if outbox.exists() else []


async def mailed_token(service: UsersService, outbox: Path) -> str:
    """The recovery token of the one mail in ``outbox``, once the service has sent it."""
    await service.drain()
    [path] = mails(outbox)
    message = email.message_from_bytes(path.read_bytes())
    assert message["To"] == EMAIL and message["Subject"] == "Password reset"
    body = message.get_payload(decode=True).decode()
    [link] = [line for line in body.splitlines() if "?token=" in line]
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == RESET_URL
    path.unlink()
    return parse_qs(parts.query)["token"][0]


async def test_password_reset_by_mailed_link(
    client: httpx.AsyncClient, service: UsersService, outbox: Path
) -> None:
    response = await client.post("/password/reset-request", headers=JSON, json={"email": EMAIL})
    assert response.status_code == 201
    assert response.json() == {"msg": "Email with reset link is sent"}
    recovery = await mailed_token(service, outbox)
    reset = {"token": recovery, "password": "reset-password", "confirm_password": "reset-password"}
    response = await client.put("/password/reset", json=reset)
    assert response.status_code == 201 and response.json() == {"msg": ""}
    login = await client.post("/tokens", json={"email": EMAIL, "password": "reset-password"})
    assert login.status_code == 201


@pytest.mark.parametrize(
    ("headers", "content", "status"),
    [
        ({}, b'{"email":"alice@example.com"}', 415),
        (JSON, b'{"email":', 400),
        (JSON, b"{}", 400),
        (JSON, b'{"email":5}', 400),
    ],
    ids=["no content type", "bad json", "no email", "email not a string"],
)
async def test_reset_request_refuses_bad_requests(
    client: httpx.AsyncClient,
    service: UsersService,
    outbox: Path,
    headers: dict,
    content: bytes,
    status: int,
) -> None:
    response = await client.post("/password/reset-request", headers=headers, content=content)
    assert response.status_code == status
    assert "error" in response.json()
    await service.drain()
    assert mails(outbox) == []


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
    client: httpx.AsyncClient,
    service: UsersService,
    outbox: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    token = (await client.post("/tokens", json={"email": EMAIL, "password": PASSWORD})).json()
    await client.patch(
        "/password",
        headers={"Authorization": token["token"]},
        json={"password": "second-password", "old_password": PASSWORD},
    )
    await client.post("/password/reset-request", json={"email": EMAIL})
    recovery = await mailed_token(service, outbox)
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


async def login(client: httpx.AsyncClient, password: str = PASSWORD, mail: str = EMAIL) -> str:
    response = await client.post("/tokens", json={"email": mail, "password": password})
    assert response.status_code == 201, response.text
    return response.json()["token"]


async def api_key(keys: httpx.AsyncClient, token: str) -> str:
    response = await keys.post("/keys", headers={"Authorization": token, **JSON}, json={"type": 2})
    assert response.status_code == 201, response.text
    return response.json()["value"]


async def works_everywhere(
    client: httpx.AsyncClient, things: httpx.AsyncClient, token: str
) -> dict[str, int]:
    """The status a token gets from users, things and authn's key API."""
    headers = {"Authorization": token}
    return {
        "users": (await client.get("/users", headers=headers)).status_code,
        "things": (await things.get("/things", headers=headers)).status_code,
    }


OK = {"users": 200, "things": 200}
REFUSED = {"users": 403, "things": 403}


# 1. Reset links come from configuration, not from the request.


@ON_BOTH
@pytest.mark.parametrize(
    "headers",
    [JSON, {"Referer": "https://evil.example.net/", **JSON}],
    ids=["no referer", "foreign referer"],
)
async def test_the_reset_link_points_at_the_configured_page(
    client: httpx.AsyncClient, service: UsersService, outbox: Path, headers: dict
) -> None:
    response = await client.post("/password/reset-request", headers=headers, json={"email": EMAIL})
    assert response.status_code == 201
    await mailed_token(service, outbox)  # asserts the link's page is RESET_URL


async def test_the_default_page_serves_a_reset_form(client: httpx.AsyncClient) -> None:
    response = await client.get("/password/reset", params={"token": "abc"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert 'id="password"' in response.text and "confirm_password" in response.text
    script = response.text.split("<script>", 1)[1].split("</script>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = response.headers["content-security-policy"]
    assert f"script-src 'sha256-{digest}'" in policy and "default-src 'none'" in policy


# 2. A recovery token is good for a password reset only.


@ON_BOTH
async def test_a_recovery_token_is_no_api_or_login_token(
    client: httpx.AsyncClient,
    things: httpx.AsyncClient,
    keys: httpx.AsyncClient,
    service: UsersService,
    outbox: Path,
) -> None:
    await client.post("/password/reset-request", json={"email": EMAIL})
    recovery = await mailed_token(service, outbox)
    headers = {"Authorization": recovery, **JSON}
    assert await works_everywhere(client, things, recovery) == REFUSED
    assert (await client.put("/users", headers=headers, json={"metadata": {}})).status_code == 403
    change = {"password": "new-password", "old_password": PASSWORD}
    assert (await client.patch("/password", headers=headers, json=change)).status_code == 403
    assert (await keys.post("/keys", headers=headers, json={"type": 2})).status_code == 403
    assert (await things.post("/things", headers=headers, json={})).status_code == 403


@ON_BOTH
async def test_only_a_recovery_token_resets_a_password_and_only_once(
    client: httpx.AsyncClient, keys: httpx.AsyncClient, service: UsersService, outbox: Path
) -> None:
    token = await login(client)
    for other in (token, await api_key(keys, token)):
        reset = {
            "token": other,
            "password": "stolen-password",
            "confirm_password": "stolen-password",
        }
        assert (await client.put("/password/reset", json=reset)).status_code == 403
    await client.post("/password/reset-request", json={"email": EMAIL})
    recovery = await mailed_token(service, outbox)
    reset = {"token": recovery, "password": "reset-password", "confirm_password": "reset-password"}
    assert (await client.put("/password/reset", json=reset)).status_code == 201
    again = {**reset, "password": "again-password", "confirm_password": "again-password"}
    assert (await client.put("/password/reset", json=again)).status_code == 403
    await login(client, "reset-password")


# 3. A password change or reset revokes every key issued before it.


@ON_BOTH
async def test_a_password_change_revokes_earlier_tokens_and_api_keys_everywhere(
    client: httpx.AsyncClient, things: httpx.AsyncClient, keys: httpx.AsyncClient
) -> None:
    token = await login(client)
    key = await api_key(keys, token)
    assert await works_everywhere(client, things, token) == OK
    assert await works_everywhere(client, things, key) == OK
    change = {"password": "new-password", "old_password": PASSWORD}
    response = await client.patch("/password", headers={"Authorization": token}, json=change)
    assert response.status_code == 201
    fresh = await login(client, "new-password")  # most likely within the same second
    assert await works_everywhere(client, things, token) == REFUSED
    assert await works_everywhere(client, things, key) == REFUSED
    assert (
        await keys.post("/keys", headers={"Authorization": token, **JSON}, json={"type": 2})
    ).status_code == 403
    assert await works_everywhere(client, things, fresh) == OK
    assert await works_everywhere(client, things, await api_key(keys, fresh)) == OK


@ON_BOTH
async def test_a_password_reset_revokes_earlier_tokens_and_api_keys_everywhere(
    client: httpx.AsyncClient,
    things: httpx.AsyncClient,
    keys: httpx.AsyncClient,
    service: UsersService,
    outbox: Path,
) -> None:
    token = await login(client)
    key = await api_key(keys, token)
    await client.post("/password/reset-request", json={"email": EMAIL})
    recovery = await mailed_token(service, outbox)
    reset = {"token": recovery, "password": "reset-password", "confirm_password": "reset-password"}
    assert (await client.put("/password/reset", json=reset)).status_code == 201
    fresh = await login(client, "reset-password")
    assert await works_everywhere(client, things, token) == REFUSED
    assert await works_everywhere(client, things, key) == REFUSED
    assert await works_everywhere(client, things, fresh) == OK


# 4. No account enumeration; emails in any case; no silently cut passwords.


@ON_BOTH
async def test_login_answers_alike_for_an_unknown_email_and_a_wrong_password(
    client: httpx.AsyncClient,
) -> None:
    wrong = await client.post("/tokens", json={"email": EMAIL, "password": "wrong-password"})
    unknown = await client.post(
        "/tokens", json={"email": "nobody@example.com", "password": PASSWORD}
    )
    assert (wrong.status_code, wrong.content) == (unknown.status_code, unknown.content)
    assert wrong.status_code == 403
    assert wrong.headers["content-type"] == unknown.headers["content-type"]


@ON_BOTH
async def test_reset_request_answers_alike_for_an_unknown_email(
    client: httpx.AsyncClient, service: UsersService, outbox: Path
) -> None:
    known = await client.post("/password/reset-request", json={"email": EMAIL})
    unknown = await client.post("/password/reset-request", json={"email": "nobody@example.com"})
    assert (known.status_code, known.content) == (unknown.status_code, unknown.content)
    assert known.status_code == 201
    await service.drain()
    assert len(mails(outbox)) == 1


@ON_BOTH
async def test_emails_are_case_insensitive(
    client: httpx.AsyncClient, service: UsersService, outbox: Path
) -> None:
    taken = await client.post("/users", json={"email": "ALICE@Example.com", "password": PASSWORD})
    assert taken.status_code == 409
    token = await login(client, mail="Alice@EXAMPLE.com")
    assert (await client.get("/users", headers={"Authorization": token})).json() == {"email": EMAIL}
    await client.post("/users", json={"email": "Bob@Example.com", "password": PASSWORD})
    bob = await login(client, mail="bob@example.com")
    assert (await client.get("/users", headers={"Authorization": bob})).json() == {
        "email": "bob@example.com"
    }
    await client.post("/password/reset-request", json={"email": "ALICE@EXAMPLE.COM"})
    await mailed_token(service, outbox)  # sent to the stored, lower-case address


LONG_PASSWORDS = ["p" * 73, "é" * 37, "€" * 25]


@ON_BOTH
@pytest.mark.parametrize("password", LONG_PASSWORDS, ids=["73 ascii", "74 bytes", "75 bytes"])
async def test_passwords_over_72_bytes_are_400_on_register_change_and_reset(
    client: httpx.AsyncClient, authn: AuthnService, password: str
) -> None:
    register = await client.post("/users", json={"email": "bob@example.com", "password": password})
    assert register.status_code == 400 and "72 bytes" in register.json()["error"]
    token = await login(client)
    change = {"password": password, "old_password": PASSWORD}
    response = await client.patch("/password", headers={"Authorization": token}, json=change)
    assert response.status_code == 400
    recovery = await authn.issue(EMAIL, 1)
    reset = {"token": recovery, "password": password, "confirm_password": password}
    assert (await client.put("/password/reset", json=reset)).status_code == 400
    await login(client)  # nothing changed


async def test_a_72_byte_password_works(client: httpx.AsyncClient) -> None:
    password = "é" * 36
    assert (
        await client.post("/users", json={"email": "bob@example.com", "password": password})
    ).status_code == 201
    await login(client, password, "bob@example.com")
    wrong = await client.post(
        "/tokens", json={"email": "bob@example.com", "password": password + "tail"}
    )
    assert wrong.status_code == 403
