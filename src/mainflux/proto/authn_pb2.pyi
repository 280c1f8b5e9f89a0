from typing import ClassVar as _ClassVar

from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message

DESCRIPTOR: _descriptor.FileDescriptor

class AccessByKeyReq(_message.Message):
    __slots__ = ("chanID", "token")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    CHANID_FIELD_NUMBER: _ClassVar[int]
    token: str
    chanID: str
    def __init__(self, token: str | None = ..., chanID: str | None = ...) -> None: ...

class AccessByIDReq(_message.Message):
    __slots__ = ("chanID", "thingID")
    THINGID_FIELD_NUMBER: _ClassVar[int]
    CHANID_FIELD_NUMBER: _ClassVar[int]
    thingID: str
    chanID: str
    def __init__(self, thingID: str | None = ..., chanID: str | None = ...) -> None: ...

class ThingID(_message.Message):
    __slots__ = ("value",)
    VALUE_FIELD_NUMBER: _ClassVar[int]
    value: str
    def __init__(self, value: str | None = ...) -> None: ...

class Token(_message.Message):
    __slots__ = ("value",)
    VALUE_FIELD_NUMBER: _ClassVar[int]
    value: str
    def __init__(self, value: str | None = ...) -> None: ...

class UserID(_message.Message):
    __slots__ = ("value",)
    VALUE_FIELD_NUMBER: _ClassVar[int]
    value: str
    def __init__(self, value: str | None = ...) -> None: ...

class IssueReq(_message.Message):
    __slots__ = ("issuer", "type")
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    issuer: str
    type: int
    def __init__(self, issuer: str | None = ..., type: int | None = ...) -> None: ...
