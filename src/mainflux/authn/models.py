"""The authn domain: keys, their types and lifetimes (the ports are in :mod:`.ports`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

#: A login key: a JWT for a user session, never stored.
LOGIN: Final = 0
#: A recovery key: a short-lived JWT mailed for a password reset, never stored.
RECOVERY: Final = 1
#: An API key: a JWT whose id is stored, so it can be listed, expired and revoked.
API: Final = 2
KEY_TYPES: Final = (LOGIN, RECOVERY, API)

#: The ``iss`` claim of login and recovery keys.
ISSUER_NAME: Final = "mainflux.authn"
LOGIN_DURATION: Final = timedelta(hours=10)
RECOVERY_DURATION: Final = timedelta(minutes=5)

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)


def unix_micros(moment: datetime) -> int:
    """``moment`` (timezone-aware) as whole microseconds since the Unix epoch."""
    return (moment - _EPOCH) // _MICROSECOND


@dataclass(frozen=True, slots=True)
class Key:
    """A key the service issued.

    ``issuer`` is the email of the user the key speaks for; ``id`` is empty for
    login and recovery keys. Times are timezone-aware UTC with microseconds (JWT
    claims and API views round them down to whole seconds)."""

    id: str
    type: int
    issuer: str
    issued_at: datetime
    expires_at: datetime | None = None

    def expired(self, now: datetime) -> bool:
        """Whether the key has an expiry time that lies before ``now``."""
        return self.expires_at is not None and self.expires_at < now
