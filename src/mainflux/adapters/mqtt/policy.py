"""Mainflux's rules for the broker: things authenticate, channels authorize.

- CONNECT: user name = thing id, password = thing key; ``identify(key)`` must return
  the user name. An unknown key is CONNACK 4, another thing's key CONNACK 5, an
  unreachable things service CONNACK 3.
- SUBSCRIBE: each filter must be ``channels/<id>/messages[/...]`` (wildcards allowed
  after ``messages``) and the thing connected to the channel; else SUBACK 0x80.
- PUBLISH: the topic must be ``channels/<id>/messages[/...]`` and the thing connected
  to the channel; else the message is dropped and the client disconnected.

Answers come from a :class:`~mainflux.adapters.access.CachedThingAccess`; a cached
answer is used synchronously (see :mod:`mainflux.adapters.mqtt.eager`)."""

from __future__ import annotations

import logging
import re
from typing import Any, Final

from mainflux.adapters.mqtt import codec
from mainflux.adapters.mqtt.broker import Answer
from mainflux.adapters.mqtt.eager import PENDING, run_eagerly
from mainflux.core.auth import ThingAccess
from mainflux.core.errors import ServiceUnavailable, Unauthorized

log = logging.getLogger("mainflux.mqtt")

_CHANNEL: Final = re.compile(r"^/?channels/([A-Za-z0-9_\-]+)/messages(?:/.*)?$")
_MEMO_LIMIT: Final = 10_000


def channel_of(topic: str) -> str | None:
    """The channel id of a ``channels/<id>/messages[/...]`` topic or filter, else ``None``."""
    match = _CHANNEL.match(topic)
    return match.group(1) if match else None


class MainfluxPolicy:
    """The broker :class:`~mainflux.adapters.mqtt.broker.Policy` of the Mainflux adapter."""

    def __init__(self, access: ThingAccess) -> None:
        self._access = access
        self._channels: dict[str, str | None] = {}

    async def authenticate(
        self, client_id: str, username: str | None, password: bytes | None
    ) -> Any:
        """The thing id, or CONNACK 4 (bad key), 5 (not this thing's key), 3 (unavailable)."""
        if not username or not password:
            return codec.BAD_CREDENTIALS
        try:
            key = password.decode()
        except UnicodeDecodeError:
            return codec.BAD_CREDENTIALS
        try:
            thing_id = await self._access.identify(key)
        except Unauthorized:
            return codec.BAD_CREDENTIALS
        except ServiceUnavailable:  # logged by the broker, sparingly
            return codec.SERVER_UNAVAILABLE
        if thing_id != username:
            return codec.NOT_AUTHORIZED
        return thing_id

    def authorize_subscribe(self, principal: Any, topic_filter: str) -> Answer:
        """Whether the thing may subscribe to ``topic_filter``."""
        return self._authorize(principal, topic_filter)

    def authorize_publish(self, principal: Any, topic: str) -> Answer:
        """Whether the thing may publish on ``topic``."""
        return self._authorize(principal, topic)

    async def recheck(self, thing_id: str, topic_filter: str) -> bool | None:
        """Whether the thing may still subscribe to ``topic_filter`` (a subscription
        read back after a restart); ``None`` when the things service cannot tell now."""
        channel = channel_of(topic_filter)
        if channel is None:
            return False
        try:
            await self._access.can_access_by_id(channel, thing_id)
        except Unauthorized:
            return False
        except ServiceUnavailable:
            return None
        return True

    def _authorize(self, thing_id: str, topic: str) -> Answer:
        channels = self._channels
        channel = channels.get(topic, PENDING)
        if channel is PENDING:
            channel = channel_of(topic)
            if len(channels) >= _MEMO_LIMIT:
                channels.clear()
            channels[topic] = channel
        if channel is None:
            return False
        try:
            _, rest = run_eagerly(self._access.can_access_by_id(channel, thing_id))
        except Unauthorized:
            return False
        except ServiceUnavailable:
            log.warning("mqtt: things service unavailable; refusing %s on %s", thing_id, topic)
            return False
        if rest is None:
            return True
        return _finish(rest)


async def _finish(rest: Any) -> bool:
    try:
        await rest
    except Unauthorized:
        return False
    except ServiceUnavailable:
        log.warning("mqtt: things service unavailable; refusing an authorization")
        return False
    return True
