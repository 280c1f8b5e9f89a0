from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class AccessByKeyReq(_message.Message):
    __slots__ = ("token", "chanID")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    CHANID_FIELD_NUMBER: _ClassVar[int]
    token: str
    chanID: str
    def __init__(self, token: _Optional[str] = ..., chanID: _Optional[str] = ...) -> None: ...

class AccessByIDReq(_message.Message):
    __slots__ = ("thingID", "chanID")
    THINGID_FIELD_NUMBER: _ClassVar[int]
    CHANID_FIELD_NUMBER: _ClassVar[int]
    thingID: str
    chanID: str
    def __init__(self, thingID: _Optional[str] = ..., chanID: _Optional[str] = ...) -> None: ...

class ThingID(_message.Message):
    __slots__ = ("value",)
    VALUE_FIELD_NUMBER: _ClassVar[int]
    value: str
    def __init__(self, value: _Optional[str] = ...) -> None: ...

class Token(_message.Message):
    __slots__ = ("value",)
    VALUE_FIELD_NUMBER: _ClassVar[int]
    value: str
    def __init__(self, value: _Optional[str] = ...) -> None: ...

class UserID(_message.Message):
    __slots__ = ("value",)
    VALUE_FIELD_NUMBER: _ClassVar[int]
    value: str
    def __init__(self, value: _Optional[str] = ...) -> None: ...

class IssueReq(_message.Message):
    __slots__ = ("issuer", "type")
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    issuer: str
    type: int
    def __init__(self, issuer: _Optional[str] = ..., type: _Optional[int] = ...) -> None: ...
