"""bcrypt hashing: round trip, Go compatibility, the 72-byte limit, malformed hashes."""

from __future__ import annotations

import bcrypt
import pytest

from mainflux.users.hasher import BcryptHasher


@pytest.fixture
def hasher() -> BcryptHasher:
    return BcryptHasher(cost=4)


async def test_a_hash_matches_its_password_only(hasher: BcryptHasher) -> None:
    hashed = await hasher.hash("12345678")
    assert len(hashed) == 60 and hashed.startswith("$2b$04$")
    assert await hasher.compare("12345678", hashed)
    assert not await hasher.compare("12345679", hashed)


async def test_a_go_style_2a_hash_verifies(hasher: BcryptHasher) -> None:
    go_hash = bcrypt.hashpw(b"12345678", bcrypt.gensalt(4, prefix=b"2a")).decode()
    assert go_hash.startswith("$2a$")
    assert await hasher.compare("12345678", go_hash)


@pytest.mark.parametrize(
    "password", ["p" * 73, "é" * 37, "€" * 25], ids=["73 ascii", "74 bytes of é", "75 bytes of €"]
)
async def test_a_password_over_72_bytes_is_never_hashed(
    hasher: BcryptHasher, password: str
) -> None:
    with pytest.raises(ValueError):
        await hasher.hash(password)


async def test_72_bytes_hash_and_verify(hasher: BcryptHasher) -> None:
    hashed = await hasher.hash("é" * 36)
    assert await hasher.compare("é" * 36, hashed)
    assert not await hasher.compare("é" * 35 + "e", hashed)


async def test_a_go_hash_of_a_longer_password_still_verifies(hasher: BcryptHasher) -> None:
    go_hash = bcrypt.hashpw(b"p" * 72, bcrypt.gensalt(4, prefix=b"2a")).decode()  # Go cut at 72
    assert await hasher.compare("p" * 100, go_hash)


async def test_a_longer_password_never_matches_a_hash_made_here(hasher: BcryptHasher) -> None:
    hashed = await hasher.hash("p" * 72)
    assert await hasher.compare("p" * 72, hashed)
    assert not await hasher.compare("p" * 72 + "tail", hashed)


@pytest.mark.parametrize("stored", ["", "not a hash", "$2b$04$short", "é" * 60])
async def test_a_malformed_stored_hash_matches_nothing(hasher: BcryptHasher, stored: str) -> None:
    assert not await hasher.compare("12345678", stored)


def test_the_default_cost_is_mainflux_s_and_silly_costs_are_refused() -> None:
    assert BcryptHasher()._cost == 10
    with pytest.raises(ValueError):
        BcryptHasher(cost=3)
