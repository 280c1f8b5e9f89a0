from typing import ClassVar as _ClassVar

from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message

DESCRIPTOR: _descriptor.FileDescriptor

class Message(_message.Message):
    __slots__ = ("channel", "created", "payload", "protocol", "publisher", "subtopic")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SUBTOPIC_FIELD_NUMBER: _ClassVar[int]
    PUBLISHER_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    channel: str
    subtopic: str
    publisher: str
    protocol: str
    payload: bytes
    created: int
    def __init__(self, channel: str | None = ..., subtopic: str | None = ..., publisher: str | None = ..., protocol: str | None = ..., payload: bytes | None = ..., created: int | None = ...) -> None: ...
