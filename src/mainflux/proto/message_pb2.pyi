from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class Message(_message.Message):
    __slots__ = ("channel", "subtopic", "publisher", "protocol", "payload", "created")
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
    def __init__(self, channel: _Optional[str] = ..., subtopic: _Optional[str] = ..., publisher: _Optional[str] = ..., protocol: _Optional[str] = ..., payload: _Optional[bytes] = ..., created: _Optional[int] = ...) -> None: ...
