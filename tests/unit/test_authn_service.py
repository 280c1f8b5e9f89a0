"""The authn service's rules on an in-memory key repository and a controllable clock."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from mainflux.authn.models import API, LOGIN, RECOVERY, Key
from mainflux.authn.service import AuthnService
from mainflux.core.errors import Conflict, MalformedEntity, NotFound, Unauthorized

SECRET = "authn"
EMAIL = "alice@example.com"
START = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


class FakeKeyRepository:
    """Keys in a dict keyed by (issuer, id); revocation moments in a dict by issuer."""

    def __init__(self) -> None:
        self.keys: dict[tuple[str, str], Key] = {}
        self.revoked: dict[str, datetime] = {}

    async def save(self, key: Key) -> None:
        if (key.issuer, key.id) in self.keys:
            raise Conflict()
        self.keys[(key.issuer, key.id)] = key

    async def retrieve(self, issuer: str, key_id: str) -> Key:
        try:
            return self.keys[(issuer, key_id)]
        except KeyError:
            raise NotFound() from None

    async def remove(self, issuer: str, key_id: str) -> None:
        self.keys.pop((issuer, key_id), None)

    async def revoke_all(self, issuer: str, moment: datetime) -> None:
        self.revoked[issuer] = moment
        for owner, key_id in list(self.keys):
            if owner == issuer and self.keys[(owner, key_id)].issued_at <= moment:
                del self.keys[(owner, key_id)]

    async def revoked_until(self, issuer: str) -> datetime | None:
        return self.revoked.get(issuer)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def repo() -> FakeKeyRepository:
    return FakeKeyRepository()


@pytest.fixture
def service(repo: FakeKeyRepository, clock: Clock) -> AuthnService:
    return AuthnService(repo, SECRET, clock=clock)


def go_token(claims: dict, secret: str = SECRET) -> str:
    """A token built by hand the way Go Mainflux's jwt-go signs one."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return jwt.encode(claims, secret, algorithm="HS256")


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


async def test_login_token_carries_mainflux_claims(service: AuthnService) -> None:
    token = await service.issue(EMAIL, LOGIN)
    header = jwt.get_unverified_header(token)
    claims = claims_of(token)
    assert header == {"alg": "HS256", "typ": "JWT"}
    iat = int(START.timestamp())
    assert claims == {
        "iss": "mainflux.authn",
        "sub": EMAIL,
        "iat": iat,
        "exp": iat + 36000,
        "type": 0,
        "iat_us": iat * 1_000_000,
    }


async def test_iat_us_carries_the_microseconds_and_iat_rounds_down(
    service: AuthnService, clock: Clock
) -> None:
    clock.advance(seconds=1.999999)
    claims = claims_of(await service.issue(EMAIL, LOGIN))
    iat = int(START.timestamp()) + 1
    assert (claims["iat"], claims["exp"], claims["iat_us"]) == (
        iat,
        iat + 36000,
        iat * 1_000_000 + 999_999,
    )


async def test_recovery_token_lives_five_minutes(service: AuthnService, clock: Clock) -> None:
    token = await service.issue(EMAIL, RECOVERY)
    claims = claims_of(token)
    assert claims["type"] == 1
    assert claims["exp"] - claims["iat"] == 300
    assert await service.identify_recovery(token) == EMAIL
    clock.advance(minutes=5, seconds=1)
    with pytest.raises(Unauthorized):
        await service.identify_recovery(token)


async def test_a_recovery_token_is_no_login_or_api_token(service: AuthnService) -> None:
    recovery = await service.issue(EMAIL, RECOVERY)
    with pytest.raises(Unauthorized):
        await service.identify(recovery)
    go_recovery = go_token({"iss": "mainflux.authn", "sub": EMAIL, "type": 1})
    with pytest.raises(Unauthorized):
        await service.identify(go_recovery)


async def test_only_a_recovery_token_identifies_for_a_reset(service: AuthnService) -> None:
    login = await service.issue(EMAIL, LOGIN)
    _, api_token = await service.issue_api_key(login)
    for token in (login, api_token, "", "garbage"):
        with pytest.raises(Unauthorized):
            await service.identify_recovery(token)
    foreign = go_token({"iss": "someone.else", "sub": EMAIL, "type": 1})
    with pytest.raises(Unauthorized):
        await service.identify_recovery(foreign)


async def test_identify_accepts_a_token_minted_by_go_with_the_same_secret(
    service: AuthnService,
) -> None:
    iat = int(START.timestamp())
    go_claims = {"exp": iat + 36000, "iat": iat, "iss": "mainflux.authn", "sub": EMAIL, "type": 0}
    assert await service.identify(go_token(go_claims)) == EMAIL
    ours = claims_of(await service.issue(EMAIL, LOGIN))
    assert {name: ours[name] for name in go_claims} == go_claims


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "mainflux.authn", "sub": EMAIL},
        {"iss": "mainflux.authn", "sub": EMAIL, "type": 3},
        {"iss": "mainflux.authn", "sub": EMAIL, "type": "0"},
        {"iss": "mainflux.authn", "sub": EMAIL, "type": True},
        {"iss": "someone.else", "sub": EMAIL, "type": 0},
        {"iss": "mainflux.authn", "sub": "", "type": 0},
        {"iss": "mainflux.authn", "sub": 5, "type": 0},
        {"iss": "mainflux.authn", "sub": EMAIL, "type": 0, "exp": "never"},
        {"iss": "mainflux.authn", "sub": EMAIL, "type": 0, "iat": 4102444800},
        {"iss": "mainflux.authn", "sub": EMAIL, "type": 0, "iat_us": "soon"},
        {"iss": "mainflux.authn", "sub": EMAIL, "type": 0, "iat_us": 1.5},
        {"iss": EMAIL, "jti": "not-a-uuid", "type": 2},
        {"iss": EMAIL, "jti": "0c65e353-7059-45b2-a3d8-564dce6c7900", "type": 2},
    ],
    ids=[
        "no type",
        "type above 2",
        "type as string",
        "type as bool",
        "foreign issuer",
        "empty subject",
        "subject not a string",
        "exp not a number",
        "issued in the future",
        "iat_us not a number",
        "iat_us not an integer",
        "api key id not a uuid",
        "api key not stored",
    ],
)
async def test_identify_refuses_bad_claims(service: AuthnService, claims: dict) -> None:
    with pytest.raises(Unauthorized):
        await service.identify(go_token(claims))


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJ0eXBlIjowfQ."],
    ids=["empty", "garbage", "three dots", "alg none"],
)
async def test_identify_refuses_malformed_tokens(service: AuthnService, token: str) -> None:
    with pytest.raises(Unauthorized):
        await service.identify(token)


async def test_identify_refuses_a_token_signed_with_another_secret(service: AuthnService) -> None:
    token = go_token({"iss": "mainflux.authn", "sub": EMAIL, "type": 0}, secret="other")
    with pytest.raises(Unauthorized):
        await service.identify(token)


async def test_expired_login_token_is_refused(service: AuthnService, clock: Clock) -> None:
    token = await service.issue(EMAIL, LOGIN)
    clock.advance(hours=10)
    assert await service.identify(token) == EMAIL
    clock.advance(seconds=1)
    with pytest.raises(Unauthorized):
        await service.identify(token)


async def test_issue_refuses_empty_issuer_and_unknown_type(service: AuthnService) -> None:
    with pytest.raises(Unauthorized):
        await service.issue("", LOGIN)
    with pytest.raises(MalformedEntity):
        await service.issue(EMAIL, 7)


async def test_api_key_is_stored_and_identifies_its_issuer(
    service: AuthnService, repo: FakeKeyRepository
) -> None:
    login = await service.issue(EMAIL, LOGIN)
    key, token = await service.issue_api_key(login, 3600)
    assert repo.keys[(EMAIL, key.id)] == key
    assert key.type == API and key.issuer == EMAIL
    assert key.expires_at == START + timedelta(hours=1)
    claims = claims_of(token)
    assert claims == {
        "exp": int(START.timestamp()) + 3600,
        "jti": key.id,
        "iat": int(START.timestamp()),
        "iss": EMAIL,
        "type": 2,
    }
    assert await service.identify(token) == EMAIL


async def test_api_key_without_duration_never_expires(service: AuthnService, clock: Clock) -> None:
    key, token = await service.issue_api_key(await service.issue(EMAIL, LOGIN))
    assert key.expires_at is None
    assert "exp" not in claims_of(token)
    clock.advance(days=3650)
    assert await service.identify(token) == EMAIL


async def test_expired_api_key_is_deleted_on_use(
    service: AuthnService, repo: FakeKeyRepository, clock: Clock
) -> None:
    key, token = await service.issue_api_key(await service.issue(EMAIL, LOGIN), 60)
    clock.advance(seconds=61)
    with pytest.raises(Unauthorized, match="expired"):
        await service.identify(token)
    assert (EMAIL, key.id) not in repo.keys


async def test_revoked_api_key_is_refused(service: AuthnService) -> None:
    login = await service.issue(EMAIL, LOGIN)
    key, token = await service.issue_api_key(login)
    await service.revoke_key(login, key.id)
    with pytest.raises(Unauthorized):
        await service.identify(token)
    with pytest.raises(NotFound):
        await service.retrieve_key(login, key.id)


@pytest.mark.parametrize("kind", ["recovery", "api", "expired login", "empty"])
async def test_key_management_needs_a_valid_login_token(
    service: AuthnService, clock: Clock, kind: str
) -> None:
    login = await service.issue(EMAIL, LOGIN)
    key, api_token = await service.issue_api_key(login)
    credential = {
        "recovery": await service.issue(EMAIL, RECOVERY),
        "api": api_token,
        "expired login": login,
        "empty": "",
    }[kind]
    if kind == "expired login":
        clock.advance(hours=11)
    with pytest.raises(Unauthorized):
        await service.issue_api_key(credential)
    with pytest.raises(Unauthorized):
        await service.retrieve_key(credential, key.id)
    with pytest.raises(Unauthorized):
        await service.revoke_key(credential, key.id)


async def test_one_user_cannot_see_or_revoke_another_users_key(service: AuthnService) -> None:
    alice = await service.issue(EMAIL, LOGIN)
    bob = await service.issue("bob@example.com", LOGIN)
    key, token = await service.issue_api_key(alice)
    with pytest.raises(NotFound):
        await service.retrieve_key(bob, key.id)
    await service.revoke_key(bob, key.id)
    assert await service.identify(token) == EMAIL


async def test_issue_key_renews_a_login_token(service: AuthnService, clock: Clock) -> None:
    login = await service.issue(EMAIL, LOGIN)
    clock.advance(hours=1)
    key, renewed = await service.issue_key(login, LOGIN)
    assert key.id == "" and key.expires_at == clock.now + timedelta(hours=10)
    assert await service.identify(renewed) == EMAIL


@pytest.mark.parametrize(
    ("key_type", "duration"),
    [(RECOVERY, None), (5, None), (API, -1), (API, 10**12)],
    ids=["recovery type", "unknown type", "negative duration", "duration too long"],
)
async def test_issue_key_refuses_bad_requests(
    service: AuthnService, key_type: int, duration: int | None
) -> None:
    login = await service.issue(EMAIL, LOGIN)
    with pytest.raises(MalformedEntity):
        await service.issue_key(login, key_type, duration)


async def test_retrieve_with_a_non_uuid_id_is_not_found(service: AuthnService) -> None:
    with pytest.raises(NotFound):
        await service.retrieve_key(await service.issue(EMAIL, LOGIN), "nope")


async def test_key_id_clash_is_a_conflict(repo: FakeKeyRepository, clock: Clock) -> None:
    service = AuthnService(
        repo, SECRET, id_provider=lambda: "0c65e353-7059-45b2-a3d8-564dce6c7900", clock=clock
    )
    login = await service.issue(EMAIL, LOGIN)
    await service.issue_api_key(login)
    with pytest.raises(Conflict):
        await service.issue_api_key(login)


async def test_grpc_style_issue_of_type_2_takes_a_login_token(service: AuthnService) -> None:
    token = await service.issue(await service.issue(EMAIL, LOGIN), API)
    assert await service.identify(token) == EMAIL
    with pytest.raises(Unauthorized):
        await service.issue(EMAIL, API)


def test_the_secret_does_not_show_in_repr(repo: FakeKeyRepository) -> None:
    service = AuthnService(repo, "s3cr3t-value")
    assert "s3cr3t-value" not in repr(service)
    assert "s3cr3t-value" not in repr(service._tokens)


async def test_revoking_voids_every_key_issued_before(
    service: AuthnService, repo: FakeKeyRepository, clock: Clock
) -> None:
    login = await service.issue(EMAIL, LOGIN)
    recovery = await service.issue(EMAIL, RECOVERY)
    key, api_token = await service.issue_api_key(login)
    clock.advance(seconds=1)
    await service.revoke_all_keys(EMAIL)
    for token in (login, api_token):
        with pytest.raises(Unauthorized):
            await service.identify(token)
    with pytest.raises(Unauthorized):
        await service.identify_recovery(recovery)
    with pytest.raises(Unauthorized):
        await service.issue_api_key(login)
    assert (EMAIL, key.id) not in repo.keys


async def test_keys_issued_in_the_same_second_after_a_revocation_are_good(
    service: AuthnService, clock: Clock
) -> None:
    clock.advance(seconds=0.2)
    before = await service.issue(EMAIL, LOGIN)
    clock.advance(seconds=0.1)
    await service.revoke_all_keys(EMAIL)
    clock.advance(seconds=0.2)
    after = await service.issue(EMAIL, LOGIN)
    recovery = await service.issue(EMAIL, RECOVERY)
    _, api_token = await service.issue_api_key(after)
    assert claims_of(before)["iat"] == claims_of(after)["iat"]
    with pytest.raises(Unauthorized):
        await service.identify(before)
    assert await service.identify(after) == EMAIL
    assert await service.identify(api_token) == EMAIL
    assert await service.identify_recovery(recovery) == EMAIL


async def test_a_revocation_voids_a_recovery_token_once_used(
    service: AuthnService, clock: Clock
) -> None:
    recovery = await service.issue(EMAIL, RECOVERY)
    clock.advance(microseconds=1)
    assert await service.identify_recovery(recovery) == EMAIL
    await service.revoke_all_keys(EMAIL)
    with pytest.raises(Unauthorized):
        await service.identify_recovery(recovery)


async def test_a_go_token_without_microseconds_counts_from_the_start_of_its_second(
    service: AuthnService, clock: Clock
) -> None:
    clock.advance(seconds=10.5)
    await service.revoke_all_keys(EMAIL)
    second = int(START.timestamp()) + 10
    same_second = go_token({"iat": second, "iss": "mainflux.authn", "sub": EMAIL, "type": 0})
    next_second = go_token({"iat": second + 1, "iss": "mainflux.authn", "sub": EMAIL, "type": 0})
    no_iat = go_token({"iss": "mainflux.authn", "sub": EMAIL, "type": 0})
    clock.advance(seconds=1)
    for token in (same_second, no_iat):
        with pytest.raises(Unauthorized):
            await service.identify(token)
    assert await service.identify(next_second) == EMAIL


async def test_a_revocation_is_per_user_and_ignores_case(
    service: AuthnService, clock: Clock
) -> None:
    alice = await service.issue(EMAIL, LOGIN)
    mixed_case = await service.issue("Alice@Example.COM", LOGIN)
    bob = await service.issue("bob@example.com", LOGIN)
    clock.advance(microseconds=1)
    await service.revoke_all_keys("ALICE@example.com")
    for token in (alice, mixed_case):
        with pytest.raises(Unauthorized):
            await service.identify(token)
    assert await service.identify(bob) == "bob@example.com"


async def test_revoking_needs_an_email(service: AuthnService) -> None:
    with pytest.raises(Unauthorized):
        await service.revoke_all_keys("")
