"""JWT encoding of keys, with Mainflux's claims so Go- and Python-minted tokens interoperate.

Tokens are HS256 JWTs carrying ``exp``, ``jti``, ``iat``, ``iss``, ``sub`` and ``type``,
laid out in the order Go's ``jwt-go`` writes them. Login and recovery tokens add
``iat_us``, the issue time in microseconds, so a password change can void the tokens
issued before it even within the same second (Go ignores the extra claim). Expiry is
*not* checked here: an expired API key must still parse so that the service can delete
its row.

The secret's length is the operator's choice (Mainflux's default is ``authn``), so
PyJWT's short-key warning is switched off for our own signer."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import jwt
import orjson
from jwt.algorithms import HMACAlgorithm

from mainflux.authn.models import API, ISSUER_NAME, KEY_TYPES, Key, unix_micros
from mainflux.core.errors import Unauthorized

ALGORITHM: Final = "HS256"
#: Clock skew tolerated on ``iat`` and ``nbf`` between token issuers.
LEEWAY_SECONDS: Final = 60


class _HS256(HMACAlgorithm):
    """HMAC-SHA256 without the minimum-key-length warning."""

    def check_key_length(self, key: bytes) -> str | None:
        return None


@dataclass(frozen=True, slots=True)
class Claims:
    """The claims of a token whose signature was verified."""

    type: int
    issuer: str
    subject: str
    key_id: str
    issued_at: int | None
    expires_at: int | None
    issued_at_us: int | None = None

    @property
    def issued_micros(self) -> int | None:
        """The issue time in microseconds: ``iat_us``, else the start of ``iat``'s second."""
        if self.issued_at_us is not None:
            return self.issued_at_us
        return None if self.issued_at is None else self.issued_at * 1_000_000

    def expired(self, now: int) -> bool:
        """Whether the token has an ``exp`` that lies before ``now`` (Unix seconds)."""
        return self.expires_at is not None and now > self.expires_at


class Tokenizer:
    """Signs keys into JWTs and verifies JWTs with one shared secret."""

    __slots__ = ("_jws", "_secret")

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode("utf-8")
        self._jws = jwt.PyJWS(algorithms=[])
        self._jws.register_algorithm(ALGORITHM, _HS256(HMACAlgorithm.SHA256))

    def __repr__(self) -> str:
        return "Tokenizer(secret=<hidden>)"

    def encode(self, key: Key) -> str:
        """The JWT of ``key``.

        Login and recovery keys say ``iss=mainflux.authn`` and ``sub=<email>``; API
        keys say ``iss=<email>`` and ``jti=<key id>``."""
        claims: dict[str, Any] = {}
        if key.expires_at is not None:
            claims["exp"] = unix_micros(key.expires_at) // 1_000_000
        if key.id:
            claims["jti"] = key.id
        issued_us = unix_micros(key.issued_at)
        claims["iat"] = issued_us // 1_000_000
        if key.type == API:
            claims["iss"] = key.issuer
        else:
            claims["iss"] = ISSUER_NAME
            claims["sub"] = key.issuer
        claims["type"] = key.type
        if key.type != API:  # an API key's stored row carries its precise issue time
            claims["iat_us"] = issued_us
        return self._jws.encode(orjson.dumps(claims), self._secret, algorithm=ALGORITHM)

    def decode(self, token: str, now: int) -> Claims:
        """Verify ``token``'s signature and claims and return them.

        ``now`` (Unix seconds) bounds ``iat`` and ``nbf``. Raises ``Unauthorized`` for
        anything that is not a well-formed token signed with our secret and carrying a
        known ``type``."""
        try:
            payload = self._jws.decode(token, self._secret, algorithms=[ALGORITHM])
            raw = orjson.loads(payload)
        except (jwt.PyJWTError, orjson.JSONDecodeError, ValueError, TypeError):
            raise Unauthorized() from None
        if not isinstance(raw, dict):
            raise Unauthorized()
        key_type = raw.get("type")
        if type(key_type) is not int or key_type not in KEY_TYPES:
            raise Unauthorized()
        issuer, subject, key_id = raw.get("iss", ""), raw.get("sub", ""), raw.get("jti", "")
        if not all(isinstance(v, str) for v in (issuer, subject, key_id)):
            raise Unauthorized()
        issued_at = _seconds(raw.get("iat"))
        issued_at_us = raw.get("iat_us")
        if issued_at_us is not None and type(issued_at_us) is not int:
            raise Unauthorized()
        not_before = _seconds(raw.get("nbf"))
        for moment in (issued_at, not_before):
            if moment is not None and moment > now + LEEWAY_SECONDS:
                raise Unauthorized()
        return Claims(
            type=key_type,
            issuer=issuer,
            subject=subject,
            key_id=key_id,
            issued_at=issued_at,
            expires_at=_seconds(raw.get("exp")),
            issued_at_us=issued_at_us,
        )


def _seconds(value: object) -> int | None:
    """A numeric date claim as whole seconds."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Unauthorized()
    return int(value)
