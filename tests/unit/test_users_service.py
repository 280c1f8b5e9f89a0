"""The users service's rules on in-memory ports (repository, hasher, mailer) and real authn."""

from __future__ import annotations

import asyncio
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
from mainflux.users.service import MAX_PENDING_MAILS, UsersService
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
    await service.request_password_reset(EMAIL)
    await service.drain()
    [(to, link)] = mailer.sent
    parts = urlsplit(link)
    assert to == EMAIL
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "http://localhost:8180/password/reset"
    token = parse_qs(parts.query)["token"][0]
    assert await authn.identify_recovery(token) == EMAIL
    await service.reset_password(token, "brand new pass")
    assert await service.login(EMAIL, "brand new pass")


@pytest.mark.parametrize(
    ("reset_url", "prefix"),
    [
        ("https://ui.example.com/reset", "https://ui.example.com/reset?token="),
        ("https://ui.example.com/#/reset?lang=en", "https://ui.example.com/#/reset?lang=en&token="),
    ],
    ids=["plain", "with a query"],
)
async def test_the_reset_url_is_configured_not_taken_from_the_request(
    repo: FakeUserRepository,
    mailer: RecordingEmailer,
    authn: AuthnService,
    reset_url: str,
    prefix: str,
) -> None:
    users = UsersService(repo, ReversingHasher(), authn, mailer, reset_url=reset_url)
    await users.register(EMAIL, PASSWORD)
    await users.request_password_reset(EMAIL.upper())
    await users.drain()
    assert mailer.sent[0][1].startswith(prefix)


async def test_reset_request_answers_alike_for_an_unknown_email(
    service: UsersService, mailer: RecordingEmailer
) -> None:
    assert await service.request_password_reset("nobody@example.com") is None
    assert await service.request_password_reset("not an email") is None
    await service.drain()
    assert mailer.sent == []
    with pytest.raises(MalformedEntity):
        await service.request_password_reset("")


async def test_a_mail_failure_is_logged_not_answered(
    service: UsersService, mailer: RecordingEmailer, caplog: pytest.LogCaptureFixture
) -> None:
    mailer.fail = True
    await service.request_password_reset(EMAIL)
    await service.drain()
    assert f"reset mail for {EMAIL} not sent: ServiceUnavailable" in caplog.text


async def test_pending_reset_mails_are_bounded(
    repo: FakeUserRepository, authn: AuthnService, caplog: pytest.LogCaptureFixture
) -> None:
    class StuckEmailer:
        def __init__(self) -> None:
            self.release = asyncio.Event()
            self.sent = 0

        async def send_password_reset(self, to: str, link: str) -> None:
            await self.release.wait()
            self.sent += 1

    emailer = StuckEmailer()
    users = UsersService(repo, ReversingHasher(), authn, emailer)
    await users.register(EMAIL, PASSWORD)
    for _ in range(MAX_PENDING_MAILS + 5):
        await users.request_password_reset(EMAIL)
    emailer.release.set()
    await users.drain()
    assert emailer.sent == MAX_PENDING_MAILS
    assert "too many mails pending" in caplog.text


@pytest.mark.parametrize(
    ("token", "password", "error"),
    [
        ("", "brand new pass", MalformedEntity),
        ("garbage", "brand new pass", Unauthorized),
        ("RECOVERY", "short", MalformedEntity),
        ("RECOVERY", "p" * 73, MalformedEntity),
        ("LOGIN", "brand new pass", Unauthorized),
    ],
    ids=["empty token", "bad token", "short password", "long password", "login token"],
)
async def test_reset_refuses_bad_input(
    service: UsersService, authn: AuthnService, token: str, password: str, error: type
) -> None:
    if token == "RECOVERY":
        token = await authn.issue(EMAIL, 1)
    elif token == "LOGIN":
        token = await service.login(EMAIL, PASSWORD)
    with pytest.raises(error):
        await service.reset_password(token, password)


class CountingHasher(ReversingHasher):
    """Counts the comparisons it is asked for."""

    def __init__(self) -> None:
        self.compared: list[str] = []

    async def compare(self, password: str, password_hash: str) -> bool:
        self.compared.append(password_hash)
        return await super().compare(password, password_hash)


async def test_an_unknown_email_costs_a_hash_check_like_a_wrong_password(
    repo: FakeUserRepository, mailer: RecordingEmailer, authn: AuthnService
) -> None:
    hasher = CountingHasher()
    users = UsersService(repo, hasher, authn, mailer)
    await users.register(EMAIL, PASSWORD)
    await users.prepare()
    with pytest.raises(Unauthorized):
        await users.login(EMAIL, "wrong password")
    with pytest.raises(Unauthorized):
        await users.login("nobody@example.com", PASSWORD)
    known, unknown = hasher.compared
    assert known == repo.users[EMAIL].password
    assert unknown.startswith("hashed:") and unknown != known


async def test_the_stand_in_hash_is_made_once(
    repo: FakeUserRepository, mailer: RecordingEmailer, authn: AuthnService
) -> None:
    hasher = CountingHasher()
    users = UsersService(repo, hasher, authn, mailer)
    for _ in range(3):
        with pytest.raises(Unauthorized):
            await users.login("nobody@example.com", PASSWORD)
    assert len(set(hasher.compared)) == 1


async def test_emails_are_stored_and_found_in_lower_case(
    service: UsersService, repo: FakeUserRepository
) -> None:
    await service.register("Bob@Example.COM", PASSWORD)
    assert "bob@example.com" in repo.users
    with pytest.raises(Conflict):
        await service.register("BOB@example.com", PASSWORD)
    token = await service.login("bOb@eXample.com", PASSWORD)
    assert (await service.view(token)).email == "bob@example.com"


@pytest.mark.parametrize(
    "password", ["p" * 73, "é" * 37, "€" * 25], ids=["73 ascii", "74 bytes of é", "75 bytes of €"]
)
async def test_new_passwords_over_72_bytes_are_refused(
    service: UsersService, password: str
) -> None:
    with pytest.raises(MalformedEntity, match="72 bytes"):
        await service.register("bob@example.com", password)
    token = await service.login(EMAIL, PASSWORD)
    with pytest.raises(MalformedEntity, match="72 bytes"):
        await service.change_password(token, password, PASSWORD)


async def test_a_72_byte_password_is_fine(service: UsersService) -> None:
    await service.register("bob@example.com", "é" * 36)
    assert await service.login("bob@example.com", "é" * 36)


async def test_a_password_change_revokes_earlier_tokens(
    service: UsersService, authn: AuthnService
) -> None:
    token = await service.login(EMAIL, PASSWORD)
    recovery = await authn.issue(EMAIL, 1)
    await service.change_password(token, "new password", PASSWORD)
    with pytest.raises(Unauthorized):
        await service.view(token)
    with pytest.raises(Unauthorized):
        await service.reset_password(recovery, "another password")
    fresh = await service.login(EMAIL, "new password")
    assert (await service.view(fresh)).email == EMAIL


async def test_a_recovery_token_resets_once_and_logs_nobody_in(
    service: UsersService, authn: AuthnService
) -> None:
    recovery = await authn.issue(EMAIL, 1)
    with pytest.raises(Unauthorized):
        await service.view(recovery)
    with pytest.raises(Unauthorized):
        await service.change_password(recovery, "new password", PASSWORD)
    await service.reset_password(recovery, "new password")
    with pytest.raises(Unauthorized):
        await service.reset_password(recovery, "third password")
    assert await service.login(EMAIL, "new password")


class RevocationDown:
    """The real authn service, except that revoking keys fails as an unreachable one does."""

    def __init__(self, authn: AuthnService) -> None:
        self._authn = authn

    async def identify(self, token: str) -> str:
        return await self._authn.identify(token)

    async def issue(self, issuer: str, key_type: int) -> str:
        return await self._authn.issue(issuer, key_type)

    async def identify_recovery(self, token: str) -> str:
        return await self._authn.identify_recovery(token)

    async def revoke_all_keys(self, email: str) -> None:
        raise ServiceUnavailable("authn service: unavailable")


async def test_a_failed_revocation_leaves_the_password_unchanged(
    repo: FakeUserRepository, mailer: RecordingEmailer, authn: AuthnService
) -> None:
    users = UsersService(repo, ReversingHasher(), RevocationDown(authn), mailer)
    await users.register(EMAIL, PASSWORD)
    token = await users.login(EMAIL, PASSWORD)
    with pytest.raises(ServiceUnavailable):
        await users.change_password(token, "new password", PASSWORD)
    recovery = await authn.issue(EMAIL, 1)
    with pytest.raises(ServiceUnavailable):
        await users.reset_password(recovery, "new password")
    assert await users.login(EMAIL, PASSWORD)
    assert (await users.view(token)).email == EMAIL
