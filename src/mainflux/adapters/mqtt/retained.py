"""Retained messages, bounded in count and bytes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from mainflux.adapters.mqtt.codec import Publish
from mainflux.adapters.mqtt.codec5 import Publish5
from mainflux.adapters.mqtt.topics import has_wildcard, matches


class RetainedStore:
    """The last retained message of each topic.

    A new topic beyond ``max_count`` messages or ``max_bytes`` of payload is refused
    (and counted in :attr:`refused`); replacing or clearing a topic always works. A
    version 5 message keeps its properties, and is dropped once its expiry passed.
    ``changed`` (when set) is told of every topic stored, cleared or dropped, and
    whether the topic had no message before."""

    def __init__(self, max_count: int, max_bytes: int) -> None:
        self.max_count = max_count
        self.max_bytes = max_bytes
        self.size = 0
        self.refused = 0
        self._messages: dict[str, Publish] = {}
        self.changed: Callable[[str, Publish | None, bool], None] | None = None

    def __len__(self) -> int:
        return len(self._messages)

    def put(self, message: Publish) -> bool:
        """Store (or, with an empty payload, clear) the topic's retained message."""
        topic = message.topic
        old = self._messages.get(topic)
        freed = len(old.payload) if old is not None else 0
        if not message.payload:
            if old is not None:
                del self._messages[topic]
                self.size -= freed
                if self.changed is not None:
                    self.changed(topic, None, False)
            return True
        added = len(message.payload)
        count = len(self._messages) + (0 if old is not None else 1)
        if count > self.max_count or self.size - freed + added > self.max_bytes:
            self.refused += 1
            return False
        if message.__class__ is Publish5:
            stored: Publish = message.retained_copy()  # type: ignore[attr-defined]
        else:
            stored = Publish(topic, bytes(message.payload), message.qos, True)
        self._messages[topic] = stored
        self.size += added - freed
        if self.changed is not None:
            self.changed(topic, stored, old is None)
        return True

    def drop(self, stale: Callable[[str], bool]) -> int:
        """Forget the messages whose topic is ``stale``; return how many."""
        topics = [topic for topic in self._messages if stale(topic)]
        for topic in topics:
            self.size -= len(self._messages.pop(topic).payload)
            if self.changed is not None:
                self.changed(topic, None, False)
        return len(topics)

    def matching(self, topic_filter: str) -> Iterator[Publish]:
        """Retained messages whose topic matches ``topic_filter``."""
        now = time.monotonic()
        if not has_wildcard(topic_filter):
            message = self._messages.get(topic_filter)
            if message is not None and not self._expired(message, now):
                yield message
            return
        for topic, message in list(self._messages.items()):
            if matches(topic_filter, topic) and not self._expired(message, now):
                yield message

    def _expired(self, message: Publish, now: float) -> bool:
        """Whether ``message`` expired (it is then forgotten)."""
        if message.__class__ is not Publish5 or not message.expired(now):  # type: ignore[attr-defined]
            return False
        if self._messages.get(message.topic) is message:
            del self._messages[message.topic]
            self.size -= len(message.payload)
            if self.changed is not None:
                self.changed(message.topic, None, False)
        return True
