"""The message envelope every adapter puts on the bus.

Wire-identical to Mainflux 0.11's ``messaging.Message`` protobuf; subjects are
``channels.<channel>[.<subtopic>]``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from mainflux.proto import message_pb2

SUBJECT_PREFIX = "channels"
ALL_CHANNELS = "channels.>"


def now_ns() -> int:
    """The current Unix time in nanoseconds, the envelope's ``created`` unit."""
    return time.time_ns()


@dataclass(slots=True)
class Message:
    """One message as it travels the bus; ``payload`` is never touched by adapters."""

    channel: str
    subtopic: str = ""
    publisher: str = ""
    protocol: str = ""
    payload: bytes = b""
    created: int = field(default_factory=now_ns)

    @property
    def subject(self) -> str:
        """The NATS subject this message is published on."""
        return subject_of(self.channel, self.subtopic)

    def encode(self) -> bytes:
        """Serialize as the Mainflux protobuf envelope."""
        return message_pb2.Message(
            channel=self.channel,
            subtopic=self.subtopic,
            publisher=self.publisher,
            protocol=self.protocol,
            payload=self.payload,
            created=self.created,
        ).SerializeToString()

    @classmethod
    def decode(cls, data: bytes) -> Message:
        """Parse a protobuf envelope; raises ``ValueError`` when it is not one."""
        pb = message_pb2.Message()
        try:
            pb.ParseFromString(data)
        except Exception as exc:  # protobuf raises its own DecodeError
            raise ValueError(f"not a message envelope: {exc}") from None
        return cls(pb.channel, pb.subtopic, pb.publisher, pb.protocol, pb.payload, pb.created)


def subject_of(channel: str, subtopic: str = "") -> str:
    """``channels.<channel>`` or ``channels.<channel>.<subtopic>``."""
    if subtopic:
        return f"{SUBJECT_PREFIX}.{channel}.{subtopic}"
    return f"{SUBJECT_PREFIX}.{channel}"
