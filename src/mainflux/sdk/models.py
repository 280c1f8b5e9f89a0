"""What the SDK returns: plain, typed dataclasses built from the platform's JSON.

Field names are the API's (``mainflux_id``, ``string_value``); a field the platform
leaves out is ``None`` (or empty for collections). :meth:`to_json` gives back the API's
JSON shape, without the empty fields."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")
Metadata = dict[str, Any]


class _Json:
    """``to_json``: the dataclass as the API's JSON object, empty fields left out."""

    def to_json(self) -> dict[str, Any]:
        """This value as the API writes it (``None`` and empty fields omitted)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, _Json):
                value = value.to_json()
            elif isinstance(value, list):
                value = [v.to_json() if isinstance(v, _Json) else v for v in value]
            if value is None or value == [] or value == {}:
                continue
            out[f.name] = value
        return out


def _str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def _meta(data: dict[str, Any]) -> Metadata | None:
    value = data.get("metadata")
    return value if isinstance(value, dict) else None


@dataclass(frozen=True, slots=True)
class User(_Json):
    """An account: its email and free-form metadata."""

    email: str
    metadata: Metadata | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> User:
        return cls(email=str(data.get("email", "")), metadata=_meta(data))


@dataclass(frozen=True, slots=True)
class Thing(_Json):
    """A device or application: its id, name, secret key and metadata."""

    id: str
    name: str | None = None
    key: str | None = None
    metadata: Metadata | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Thing:
        return cls(
            id=str(data.get("id", "")),
            name=_str(data, "name"),
            key=_str(data, "key"),
            metadata=_meta(data),
        )


@dataclass(frozen=True, slots=True)
class Channel(_Json):
    """A message topic things publish and subscribe to."""

    id: str
    name: str | None = None
    metadata: Metadata | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Channel:
        return cls(id=str(data.get("id", "")), name=_str(data, "name"), metadata=_meta(data))


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list: ``items`` from ``offset``, at most ``limit``, of ``total``."""

    total: int
    offset: int
    limit: int
    items: list[T] = field(default_factory=list)

    def to_json(self, field_name: str = "items") -> dict[str, Any]:
        """The page as the API writes it, the items under ``field_name``."""
        return {
            "total": self.total,
            "offset": self.offset,
            "limit": self.limit,
            field_name: [i.to_json() if isinstance(i, _Json) else i for i in self.items],
        }


@dataclass(frozen=True, slots=True)
class ApiKey(_Json):
    """A key issued by ``POST /keys``: ``value`` is the token to send."""

    id: str | None
    value: str
    issued_at: str | None = None
    expires_at: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ApiKey:
        return cls(
            id=_str(data, "id"),
            value=str(data.get("value", "")),
            issued_at=_str(data, "issued_at"),
            expires_at=_str(data, "expires_at"),
        )


@dataclass(frozen=True, slots=True)
class KeyInfo(_Json):
    """What ``GET /keys/{id}`` tells about an API key (never its value)."""

    id: str
    type: int | None = None
    issuer: str | None = None
    issued_at: str | None = None
    expires_at: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeyInfo:
        # snake_case (this platform, the API spec) or Go's field names (Mainflux 0.11).
        def pick(snake: str, go: str) -> Any:
            return data.get(snake, data.get(go))

        expires = pick("expires_at", "ExpiresAt")
        return cls(
            id=str(pick("id", "ID") or ""),
            type=pick("type", "Type"),
            issuer=pick("issuer", "Issuer"),
            issued_at=pick("issued_at", "IssuedAt"),
            expires_at=None if expires == "0001-01-01T00:00:00Z" else expires,
        )


@dataclass(frozen=True, slots=True)
class Message(_Json):
    """One stored SenML record, as the reader returns it (time in seconds)."""

    channel: str | None = None
    subtopic: str | None = None
    publisher: str | None = None
    protocol: str | None = None
    name: str | None = None
    unit: str | None = None
    time: float | None = None
    update_time: float | None = None
    value: float | None = None
    string_value: str | None = None
    data_value: str | None = None
    bool_value: bool | None = None
    sum: float | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Message:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True, slots=True)
class Version(_Json):
    """A service's name and version (``GET /version``)."""

    service: str
    version: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Version:
        return cls(service=str(data.get("service", "")), version=str(data.get("version", "")))


@dataclass(frozen=True, slots=True)
class Health(_Json):
    """A service's ``GET /health`` answer: ``status`` is ``pass`` when it and every
    dependency it watches are up, ``fail`` otherwise; ``checks`` maps each dependency
    (``database``, ``nats``, ...) to ``None`` when up or the reason it is down."""

    status: str
    service: str | None = None
    version: str | None = None
    checks: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Health:
        raw = data.get("checks")
        checks = {
            str(name): None
            if isinstance(check, dict) and check.get("status") == "pass"
            else str(check.get("error", "down") if isinstance(check, dict) else "down")
            for name, check in (raw.items() if isinstance(raw, dict) else ())
        }
        return cls(
            status=str(data.get("status", "")),
            service=_str(data, "service"),
            version=_str(data, "version"),
            checks=checks,
        )


@dataclass(frozen=True, slots=True)
class PlatformInfo(_Json):
    """Where an all-in-one platform listens besides HTTP (``GET /.well-known/mainflux``).

    A port is ``None`` when that adapter is not running."""

    version: str | None = None
    mqtt_port: int | None = None
    coap_port: int | None = None
    http_prefix: str | None = None
    ws_prefix: str | None = None
    mqtt_ws_path: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlatformInfo:
        def port(key: str) -> int | None:
            value = data.get(key)
            return value if type(value) is int else None

        return cls(
            version=_str(data, "version"),
            mqtt_port=port("mqtt_port"),
            coap_port=port("coap_port"),
            http_prefix=_str(data, "http_prefix"),
            ws_prefix=_str(data, "ws_prefix"),
            mqtt_ws_path=_str(data, "mqtt_ws_path"),
        )


@dataclass(frozen=True, slots=True)
class BootstrapConfig(_Json):
    """A bootstrap config: the thing it binds, its channels, external credentials and
    the content a device fetches. ``state`` is 0 (inactive) or 1 (active)."""

    mainflux_id: str
    mainflux_key: str | None = None
    mainflux_channels: list[Channel] = field(default_factory=list)
    external_id: str | None = None
    external_key: str | None = None
    name: str | None = None
    content: str | None = None
    state: int | None = None
    client_cert: str | None = None
    client_key: str | None = None
    ca_cert: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BootstrapConfig:
        channels = data.get("mainflux_channels") or []
        state = data.get("state")
        return cls(
            mainflux_id=str(data.get("mainflux_id", "")),
            mainflux_key=_str(data, "mainflux_key"),
            mainflux_channels=[
                Channel.from_json(c) if isinstance(c, dict) else Channel(id=str(c))
                for c in channels
            ],
            external_id=_str(data, "external_id"),
            external_key=_str(data, "external_key"),
            name=_str(data, "name"),
            content=_str(data, "content"),
            state=state if type(state) is int else None,
            client_cert=_str(data, "client_cert"),
            client_key=_str(data, "client_key"),
            ca_cert=_str(data, "ca_cert"),
        )


@dataclass(frozen=True, slots=True)
class UnknownConfig(_Json):
    """A device that asked for its config before one was added for it."""

    external_id: str
    external_key: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UnknownConfig:
        return cls(
            external_id=str(data.get("external_id", "")),
            external_key=str(data.get("external_key", "")),
        )


@dataclass(frozen=True, slots=True)
class Provisioned(_Json):
    """What ``POST /mapping`` created: things, channels, whitelisting and certificates."""

    things: list[Thing] = field(default_factory=list)
    channels: list[Channel] = field(default_factory=list)
    whitelisted: dict[str, bool] = field(default_factory=dict)
    client_cert: dict[str, str] = field(default_factory=dict)
    client_key: dict[str, str] = field(default_factory=dict)
    ca_cert: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Provisioned:
        def mapping(key: str) -> dict[str, Any]:
            value = data.get(key)
            return value if isinstance(value, dict) else {}

        return cls(
            things=[Thing.from_json(t) for t in data.get("things") or []],
            channels=[Channel.from_json(c) for c in data.get("channels") or []],
            whitelisted=mapping("whitelisted"),
            client_cert=mapping("client_cert"),
            client_key=mapping("client_key"),
            ca_cert=_str(data, "ca_cert"),
        )
