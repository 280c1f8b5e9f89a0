"""The users service's rules on in-memory ports (repository, hasher, mailer) and real authn."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from mainflux.authn.service import AuthnService
from mainflux.core.errors import (
    Conflict,
    MalformedEntity,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from mainflux.users.models import User
from mainflux.users.service import UsersService
from tests.unit.test_authn_service import FakeKeyRepository

EMAIL = "alice@example.com"
PASSWORD = "correct horse"


class FakeUserRepository:
    """Users in a dict keyed by email."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}

    async def save(self, user: User) -> None:
        if user.email in self.users:
            raise Conflict("email already taken")
        self.users[user.email] = user

    async def retrieve_by_email(self, email: str) -> User:
        try:
            return self.users[email]
        except KeyError:
            raise NotFound() from None

    async def update_metadata(self, email: str, metadata: dict[str, Any] | None) -> None:
        (await self.retrieve_by_email(email)).metadata = metadata

    async def update_password(self, email: str, password_hash: str) -> None:
        (await self.retrieve_by_email(email)).password = password_hash


class ReversingHasher:
    """A cheap, recognisable stand-in for bcrypt."""

    async def hash(self, password: str) -> str:
        return "hashed:" + password[::-1]

    async def compare(self, password: str, password_hash: str) -> bool:
        return password_hash == "hashed:" + password[::-1]


class RecordingEmailer:
    """Keeps the mails it was asked to send; fails on demand."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.fail = False

    async def send_password_reset(self, to: str, link: str) -> None:
        if self.fail:
            raise ServiceUnavailable("failed to send the reset email")
        self.sent.append((to, link))


@pytest.fixture
def repo() -> FakeUserRepository:
    return FakeUserRepository()


@pytest.fixture
def mailer() -> RecordingEmailer:
    return RecordingEmailer()


@pytest.fixture
def authn() -> AuthnService:
    return AuthnService(FakeKeyRepository(), "secret")


@pytest.fixture
async def service(
    repo: FakeUserRepository, mailer: RecordingEmailer, authn: AuthnService
) -> UsersService:
    users = UsersService(repo, ReversingHasher(), authn, mailer)
    await users.register(EMAIL, PASSWORD, {"team": "a"})
    return users


async def test_register_stores_a_hash_not_the_password(
    service: UsersService, repo: FakeUserRepository
) -> None:
    user = repo.users[EMAIL]
    assert user.password == "hashed:" + PASSWORD[::-1]
    assert user.metadata == {"team": "a"}
    assert PASSWORD not in repr(user)


async def test_register_twice_is_a_conflict(service: UsersService) -> None:
    with pytest.raises(Conflict):
        await service.register(EMAIL, "another password")


@pytest.mark.parametrize(
    ("email", "password"),
    [("not-an-email", PASSWORD), ("bob@example.com", "short"), ("", ""), ("a@b", PASSWORD)],
    ids=["bad email", "short password", "empty", "host without dot"],
)
async def test_register_and_login_refuse_invalid_input(
    service: UsersService, email: str, password: str
) -> None:
    with pytest.raises(MalformedEntity):
        await service.register(email, password)
    with pytest.raises(MalformedEntity):
        await service.login(email, password)


async def test_login_returns_a_token_for_the_user(
    service: UsersService, authn: AuthnService
) -> None:
    token = await service.login(EMAIL, PASSWORD)
    assert await authn.identify(token) == EMAIL


@pytest.mark.parametrize(
    ("email", "password"),
    [(EMAIL, "wrong password"), ("nobody@example.com", PASSWORD)],
    ids=["wrong password", "unknown user"],
)
async def test_login_refuses_wrong_credentials(
    service: UsersService, email: str, password: str
) -> None:
    with pytest.raises(Unauthorized):
        await service.login(email, password)


async def test_view_and_update_work_on_the_callers_account(service: UsersService) -> None:
    token = await service.login(EMAIL, PASSWORD)
    await service.update(token, {"x": 1})
    user = await service.view(token)
    assert (user.email, user.metadata) == (EMAIL, {"x": 1})


@pytest.mark.parametrize("token", ["", "garbage"], ids=["empty", "garbage"])
async def test_view_and_update_refuse_bad_tokens(service: UsersService, token: str) -> None:
    with pytest.raises(Unauthorized):
        await service.view(token)
    with pytest.raises(Unauthorized):
        await service.update(token, {})


async def test_a_valid_token_for_a_missing_account_is_unauthorized(
    service: UsersService, authn: AuthnService
) -> None:
    token = await authn.issue("ghost@example.com", 0)
    with pytest.raises(Unauthorized):
        await service.view(token)
    with pytest.raises(Unauthorized):
        await service.update(token, {})


async def test_change_password_checks_the_old_one(service: UsersService) -> None:
    token = await service.login(EMAIL, PASSWORD)
    with pytest.raises(Unauthorized):
        await service.change_password(token, "new password", "wrong old")
    with pytest.raises(Unauthorized):
        await service.change_password(token, "new password", "")
    with pytest.raises(MalformedEntity):
        await service.change_password(token, "short", PASSWORD)
    await service.change_password(token, "new password", PASSWORD)
    assert await service.login(EMAIL, "new password")
    with pytest.raises(Unauthorized):
        await service.login(EMAIL, PASSWORD)


async def test_reset_request_mails_a_link_with_a_recovery_token(
    service: UsersService, mailer: RecordingEmailer, authn: AuthnService
) -> None:
    await service.request_password_reset(EMAIL, "http://ui.example.com")
    [(to, link)] = mailer.sent
    parts = urlsplit(link)
    assert to == EMAIL
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "http://ui.example.com/reset-request"
    token = parse_qs(parts.query)["token"][0]
    assert await authn.identify(token) == EMAIL
    await service.reset_password(token, "brand new pass")
    assert await service.login(EMAIL, "brand new pass")


async def test_reset_endpoint_is_configurable(
    repo: FakeUserRepository, mailer: RecordingEmailer, authn: AuthnService
) -> None:
    users = UsersService(repo, ReversingHasher(), authn, mailer, reset_endpoint="/r")
    await users.register(EMAIL, PASSWORD)
    await users.request_password_reset(EMAIL, "https://host")
    assert mailer.sent[0][1].startswith("https://host/r?token=")


async def test_reset_request_refuses_unknown_email_and_missing_host(
    service: UsersService, mailer: RecordingEmailer
) -> None:
    with pytest.raises(MalformedEntity, match="non-existent user"):
        await service.request_password_reset("nobody@example.com", "http://ui")
    with pytest.raises(MalformedEntity):
        await service.request_password_reset(EMAIL, "")
    assert mailer.sent == []


async def test_reset_request_reports_a_mail_failure(
    service: UsersService, mailer: RecordingEmailer
) -> None:
    mailer.fail = True
    with pytest.raises(ServiceUnavailable):
        await service.request_password_reset(EMAIL, "http://ui")


@pytest.mark.parametrize(
    ("token", "password", "error"),
    [
        ("", "brand new pass", MalformedEntity),
        ("garbage", "brand new pass", Unauthorized),
        ("RECOVERY", "short", MalformedEntity),
    ],
    ids=["empty token", "bad token", "short password"],
)
async def test_reset_refuses_bad_input(
    service: UsersService, authn: AuthnService, token: str, password: str, error: type
) -> None:
    if token == "RECOVERY":
        token = await authn.issue(EMAIL, 1)
    with pytest.raises(error):
        await service.reset_password(token, password)
