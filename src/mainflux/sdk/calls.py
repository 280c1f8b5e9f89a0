"""Every request the SDK makes, described once: method, URL, body, the statuses that
mean success and how to read the answer. :class:`~mainflux.sdk.Client` runs these
descriptions with a blocking httpx client, :class:`~mainflux.sdk.AsyncClient` with an
async one, so both clients have the same methods with the same arguments."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote

import httpx

from mainflux.bootstrap import crypto
from mainflux.sdk.config import Config, Service
from mainflux.sdk.models import (
    ApiKey,
    BootstrapConfig,
    Channel,
    Health,
    KeyInfo,
    Message,
    Metadata,
    Page,
    PlatformInfo,
    Provisioned,
    Thing,
    UnknownConfig,
    User,
    Version,
)

T = TypeVar("T")
JSON_TYPE = "application/json"
Comparator = Literal["eq", "lt", "le", "gt", "ge"]
#: What a thing or channel to create may be: a model, or a mapping with its JSON fields.
Spec = Thing | Channel | Mapping[str, Any]


class UnexpectedBody(ValueError):
    """A successful status whose body is not what the endpoint answers."""


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One HTTP request and how to read its answer."""

    method: str
    url: str
    ok: tuple[int, ...]
    parse: Callable[[httpx.Response], T]
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] | None = None
    json: Any = None
    content: bytes | None = None


def segment(value: str) -> str:
    """``value`` quoted as one URL path segment (an id cannot escape its place)."""
    return quote(value, safe="")


def _nothing(response: httpx.Response) -> None:
    return None


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise UnexpectedBody("the answer is not JSON") from None


def _object(response: httpx.Response) -> dict[str, Any]:
    body = _body(response)
    if not isinstance(body, dict):
        raise UnexpectedBody("the answer is not a JSON object")
    return body


def _location(response: httpx.Response) -> str:
    """The new entity's id: the last segment of the ``Location`` header."""
    location = response.headers.get("location", "")
    if not location.strip("/"):
        raise UnexpectedBody("the answer has no Location header")
    return location.rstrip("/").rsplit("/", 1)[-1]


def _of(build: Callable[[dict[str, Any]], T]) -> Callable[[httpx.Response], T]:
    return lambda response: build(_object(response))


def _items(body: dict[str, Any], items: str, build: Callable[[dict[str, Any]], T]) -> list[T]:
    listed = body.get(items) or []
    if not isinstance(listed, list):
        raise UnexpectedBody(f"{items} is not a list")
    return [build(item) for item in listed]


def _page(items: str, build: Callable[[dict[str, Any]], T]) -> Callable[[httpx.Response], Page[T]]:
    def parse(response: httpx.Response) -> Page[T]:
        body = _object(response)
        listed = _items(body, items, build)
        return Page(
            total=int(body.get("total", len(listed))),
            offset=int(body.get("offset", 0)),
            limit=int(body.get("limit", len(listed))),
            items=listed,
        )

    return parse


def _list(items: str, build: Callable[[dict[str, Any]], T]) -> Callable[[httpx.Response], list[T]]:
    return lambda response: _items(_object(response), items, build)


def _spec(item: Spec, fields: tuple[str, ...]) -> dict[str, Any]:
    data = item.to_json() if isinstance(item, Thing | Channel) else dict(item)
    return {k: v for k, v in data.items() if k in fields and v is not None}


def _params(**values: object) -> dict[str, str]:
    """Query parameters: ``None`` left out, booleans as ``true``/``false``, dicts as JSON."""
    out: dict[str, str] = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, dict):
            out[key] = json.dumps(value, separators=(",", ":"))
        else:
            out[key] = str(value)
    return out


def _payload(payload: bytes | str | Any) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode()
    return json.dumps(payload, separators=(",", ":")).encode()


#: The status that means success, by method, unless an endpoint says otherwise.
_OK: dict[str, int] = {"GET": 200, "POST": 201, "PUT": 200, "PATCH": 200, "DELETE": 204}


@dataclass(frozen=True, slots=True)
class _Kind(Generic[T]):
    """Things or channels: the same endpoints under another path."""

    path: str  # also the field that lists them in an answer
    build: Callable[[dict[str, Any]], T]
    fields: tuple[str, ...]  # what a create request may carry


_THINGS: _Kind[Thing] = _Kind("things", Thing.from_json, ("name", "key", "metadata"))
_CHANNELS: _Kind[Channel] = _Kind("channels", Channel.from_json, ("name", "metadata"))


class Api:
    """Builds the :class:`Call` of every endpoint from a :class:`Config`."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def _url(self, service: Service, path: str) -> str:
        return self.config.url(service, path)

    @staticmethod
    def _auth(token: str) -> dict[str, str]:
        return {"Authorization": token}

    def _call(
        self,
        method: str,
        service: Service,
        path: str,
        parse: Callable[[httpx.Response], T],
        token: str | None = None,
        *,
        ok: int | None = None,
        json: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> Call[T]:
        """A request with the usual success status of its method (or ``ok``), sent with
        ``token`` as its ``Authorization`` when one is given."""
        headers = self._auth(token) if token is not None else {}
        status = ok if ok is not None else _OK[method]
        return Call(
            method, self._url(service, path), (status,), parse, headers, params=params, json=json
        )

    # -- things and channels: one set of requests for both ---------------------------

    def _create(self, kind: _Kind[Any], token: str, spec: Spec) -> Call[str]:
        body = _spec(spec, kind.fields)
        return self._call("POST", "things", f"/{kind.path}", _location, token, json=body)

    def _create_many(self, kind: _Kind[T], token: str, specs: Sequence[Spec]) -> Call[list[T]]:
        body = [_spec(s, kind.fields) for s in specs]
        parse = _list(kind.path, kind.build)
        return self._call("POST", "things", f"/{kind.path}/bulk", parse, token, json=body)

    def _view(self, kind: _Kind[T], token: str, entity_id: str) -> Call[T]:
        path = f"/{kind.path}/{segment(entity_id)}"
        return self._call("GET", "things", path, _of(kind.build), token)

    def _list_page(
        self,
        kind: _Kind[T],
        token: str,
        offset: int,
        limit: int,
        name: str | None,
        metadata: Metadata | None,
    ) -> Call[Page[T]]:
        params = _params(offset=offset, limit=limit, name=name or None, metadata=metadata)
        parse = _page(kind.path, kind.build)
        return self._call("GET", "things", f"/{kind.path}", parse, token, params=params)

    def _update(
        self,
        kind: _Kind[Any],
        token: str,
        entity_id: str,
        name: str | None,
        metadata: Metadata | None,
    ) -> Call[None]:
        body = _spec({"name": name, "metadata": metadata}, ("name", "metadata"))
        path = f"/{kind.path}/{segment(entity_id)}"
        return self._call("PUT", "things", path, _nothing, token, json=body)

    def _delete(self, kind: _Kind[Any], token: str, entity_id: str) -> Call[None]:
        path = f"/{kind.path}/{segment(entity_id)}"
        return self._call("DELETE", "things", path, _nothing, token)

    def _connected(
        self,
        of: _Kind[Any],
        listed: _Kind[T],
        token: str,
        entity_id: str,
        offset: int,
        limit: int,
    ) -> Call[Page[T]]:
        path = f"/{of.path}/{segment(entity_id)}/{listed.path}"
        parse = _page(listed.path, listed.build)
        params = _params(offset=offset, limit=limit)
        return self._call("GET", "things", path, parse, token, params=params)

    # -- users -----------------------------------------------------------------------

    def create_user(
        self, email: str, password: str, metadata: Metadata | None = None
    ) -> Call[None]:
        """Register an account (``POST /users``). Raises ``Conflict`` when the email is
        taken, ``BadRequest`` for an invalid email or a password under 8 characters."""
        body: dict[str, Any] = {"email": email, "password": password}
        if metadata is not None:
            body["metadata"] = metadata
        return self._call("POST", "users", "/users", _nothing, json=body)

    def create_token(self, email: str, password: str) -> Call[str]:
        """Log in (``POST /tokens``); return the user token. Raises ``Unauthorized``
        for wrong credentials."""

        def token(response: httpx.Response) -> str:
            value = _object(response).get("token")
            if not isinstance(value, str):
                raise UnexpectedBody("no token in the answer")
            return value

        body = {"email": email, "password": password}
        return self._call("POST", "users", "/tokens", token, json=body)

    def user(self, token: str) -> Call[User]:
        """The account the token belongs to (``GET /users``)."""
        return self._call("GET", "users", "/users", _of(User.from_json), token)

    def update_user(self, token: str, metadata: Metadata) -> Call[None]:
        """Replace the account's metadata (``PUT /users``)."""
        return self._call("PUT", "users", "/users", _nothing, token, json={"metadata": metadata})

    def update_password(self, token: str, old_password: str, password: str) -> Call[None]:
        """Change the password (``PATCH /password``). Raises ``Unauthorized`` when the old
        password is wrong, ``BadRequest`` when the new one is under 8 characters."""
        body = {"old_password": old_password, "password": password}
        return self._call("PATCH", "users", "/password", _nothing, token, ok=201, json=body)

    def request_password_reset(self, email: str, referer: str | None = None) -> Call[None]:
        """Have a reset link mailed (``POST /password/reset-request``). ``referer`` is the
        host the link points at on Go Mainflux (default: the users service URL)."""
        headers = {"Referer": referer or self._url("users", "")}
        return Call(
            "POST",
            self._url("users", "/password/reset-request"),
            (201,),
            _nothing,
            headers,
            json={"email": email},
        )

    def reset_password(self, reset_token: str, password: str) -> Call[None]:
        """Set a new password with the token of a reset link (``PUT /password/reset``)."""
        body = {"token": reset_token, "password": password, "confirm_password": password}
        return self._call("PUT", "users", "/password/reset", _nothing, ok=201, json=body)

    # -- API keys (authn) ------------------------------------------------------------

    def create_key(self, token: str, duration: int | None = None) -> Call[ApiKey]:
        """Issue an API key (``POST /keys``, type 2) valid for ``duration`` seconds, or
        until revoked. ``token`` must be a login token."""
        body: dict[str, Any] = {"type": 2}
        if duration is not None:
            body["duration"] = duration
        return self._call("POST", "authn", "/keys", _of(ApiKey.from_json), token, json=body)

    def key(self, token: str, key_id: str) -> Call[KeyInfo]:
        """What is known of an API key (``GET /keys/{id}``)."""
        path = f"/keys/{segment(key_id)}"
        return self._call("GET", "authn", path, _of(KeyInfo.from_json), token)

    def revoke_key(self, token: str, key_id: str) -> Call[None]:
        """Revoke an API key (``DELETE /keys/{id}``)."""
        return self._call("DELETE", "authn", f"/keys/{segment(key_id)}", _nothing, token)

    # -- things ----------------------------------------------------------------------

    def create_thing(
        self,
        token: str,
        name: str | None = None,
        key: str | None = None,
        metadata: Metadata | None = None,
    ) -> Call[str]:
        """Create a thing (``POST /things``); return its id. Raises ``Conflict`` when
        ``key`` is taken."""
        return self._create(_THINGS, token, {"name": name, "key": key, "metadata": metadata})

    def create_things(self, token: str, things: Sequence[Spec]) -> Call[list[Thing]]:
        """Create several things in one request (``POST /things/bulk``; at most 100)."""
        return self._create_many(_THINGS, token, things)

    def thing(self, token: str, thing_id: str) -> Call[Thing]:
        """One thing, with its key (``GET /things/{id}``)."""
        return self._view(_THINGS, token, thing_id)

    def things(
        self,
        token: str,
        offset: int = 0,
        limit: int = 10,
        name: str | None = None,
        metadata: Metadata | None = None,
    ) -> Call[Page[Thing]]:
        """A page of the user's things (``GET /things``), filtered by a name substring
        and metadata containment; ``limit`` 1 to 100."""
        return self._list_page(_THINGS, token, offset, limit, name, metadata)

    def update_thing(
        self, token: str, thing_id: str, name: str | None = None, metadata: Metadata | None = None
    ) -> Call[None]:
        """Replace a thing's name and metadata (``PUT /things/{id}``)."""
        return self._update(_THINGS, token, thing_id, name, metadata)

    def update_thing_key(self, token: str, thing_id: str, key: str) -> Call[None]:
        """Change a thing's key (``PATCH /things/{id}/key``)."""
        path = f"/things/{segment(thing_id)}/key"
        return self._call("PATCH", "things", path, _nothing, token, json={"key": key})

    def delete_thing(self, token: str, thing_id: str) -> Call[None]:
        """Remove a thing (``DELETE /things/{id}``)."""
        return self._delete(_THINGS, token, thing_id)

    def channels_by_thing(
        self, token: str, thing_id: str, offset: int = 0, limit: int = 10
    ) -> Call[Page[Channel]]:
        """A page of the channels a thing is connected to (``GET /things/{id}/channels``)."""
        return self._connected(_THINGS, _CHANNELS, token, thing_id, offset, limit)

    # -- channels --------------------------------------------------------------------

    def create_channel(
        self, token: str, name: str | None = None, metadata: Metadata | None = None
    ) -> Call[str]:
        """Create a channel (``POST /channels``); return its id."""
        return self._create(_CHANNELS, token, {"name": name, "metadata": metadata})

    def create_channels(self, token: str, channels: Sequence[Spec]) -> Call[list[Channel]]:
        """Create several channels in one request (``POST /channels/bulk``; at most 100)."""
        return self._create_many(_CHANNELS, token, channels)

    def channel(self, token: str, channel_id: str) -> Call[Channel]:
        """One channel (``GET /channels/{id}``)."""
        return self._view(_CHANNELS, token, channel_id)

    def channels(
        self,
        token: str,
        offset: int = 0,
        limit: int = 10,
        name: str | None = None,
        metadata: Metadata | None = None,
    ) -> Call[Page[Channel]]:
        """A page of the user's channels (``GET /channels``), filtered like ``things``."""
        return self._list_page(_CHANNELS, token, offset, limit, name, metadata)

    def update_channel(
        self,
        token: str,
        channel_id: str,
        name: str | None = None,
        metadata: Metadata | None = None,
    ) -> Call[None]:
        """Replace a channel's name and metadata (``PUT /channels/{id}``)."""
        return self._update(_CHANNELS, token, channel_id, name, metadata)

    def delete_channel(self, token: str, channel_id: str) -> Call[None]:
        """Remove a channel (``DELETE /channels/{id}``)."""
        return self._delete(_CHANNELS, token, channel_id)

    def things_by_channel(
        self, token: str, channel_id: str, offset: int = 0, limit: int = 10
    ) -> Call[Page[Thing]]:
        """A page of the things connected to a channel, keys included
        (``GET /channels/{id}/things``)."""
        return self._connected(_CHANNELS, _THINGS, token, channel_id, offset, limit)

    # -- connections -----------------------------------------------------------------

    def connect(
        self, token: str, channel_ids: Sequence[str], thing_ids: Sequence[str]
    ) -> Call[None]:
        """Connect every thing to every channel in one transaction (``POST /connect``).
        Raises ``NotFound`` for an unknown id, ``Conflict`` when a pair is connected."""
        body = {"channel_ids": list(channel_ids), "thing_ids": list(thing_ids)}
        return self._call("POST", "things", "/connect", _nothing, token, ok=200, json=body)

    def connect_thing(self, token: str, channel_id: str, thing_id: str) -> Call[None]:
        """Connect one thing to one channel (``PUT /channels/{c}/things/{t}``)."""
        path = f"/channels/{segment(channel_id)}/things/{segment(thing_id)}"
        return self._call("PUT", "things", path, _nothing, token)

    def disconnect(self, token: str, channel_id: str, thing_id: str) -> Call[None]:
        """Disconnect a thing from a channel (``DELETE /channels/{c}/things/{t}``).
        Raises ``NotFound`` when they are not connected."""
        path = f"/channels/{segment(channel_id)}/things/{segment(thing_id)}"
        return self._call("DELETE", "things", path, _nothing, token)

    # -- messages --------------------------------------------------------------------

    def send_message(
        self,
        key: str,
        channel_id: str,
        payload: bytes | str | Any,
        subtopic: str | None = None,
        content_type: str | None = None,
    ) -> Call[None]:
        """Publish a message as the thing with ``key`` (HTTP adapter,
        ``POST /channels/{id}/messages[/subtopic]``). ``payload`` is sent as is when it
        is bytes or str, else encoded as JSON. ``subtopic`` may use ``/`` or ``.``."""
        path = f"/channels/{segment(channel_id)}/messages"
        if subtopic:
            parts = [p for p in subtopic.replace(".", "/").split("/") if p]
            path += "".join(f"/{segment(p)}" for p in parts)
        headers = {
            "Authorization": key,
            "Content-Type": content_type or self.config.content_type,
        }
        return Call(
            "POST", self._url("http", path), (202,), _nothing, headers, content=_payload(payload)
        )

    def read_messages(
        self,
        credential: str,
        channel_id: str,
        offset: int = 0,
        limit: int = 10,
        *,
        subtopic: str | None = None,
        publisher: str | None = None,
        protocol: str | None = None,
        name: str | None = None,
        value: float | None = None,
        comparator: Comparator | None = None,
        string_value: str | None = None,
        bool_value: bool | None = None,
        data_value: str | None = None,
        from_time: float | None = None,
        to_time: float | None = None,
    ) -> Call[Page[Message]]:
        """A page of a channel's stored messages, newest first (reader,
        ``GET /channels/{id}/messages``). ``credential`` is a thing key connected to the
        channel, or (on this platform) the channel owner's user token. ``value`` with
        ``comparator`` filters numbers; ``from_time`` (inclusive) and ``to_time``
        (exclusive) are record times in seconds."""
        params = _params(
            offset=offset,
            limit=limit,
            subtopic=subtopic,
            publisher=publisher,
            protocol=protocol,
            name=name,
            v=value,
            comparator=comparator,
            vs=string_value,
            vb=bool_value,
            vd=data_value,
            **{"from": from_time, "to": to_time},
        )
        path = f"/channels/{segment(channel_id)}/messages"
        parse = _page("messages", Message.from_json)
        return self._call("GET", "reader", path, parse, credential, params=params)

    def watch_url(self, key: str, channel_id: str, subtopic: str | None = None) -> str:
        """The WebSocket URL that follows a channel (the key in ``?authorization=``)."""
        path = f"/channels/{segment(channel_id)}/messages"
        if subtopic:
            parts = [p for p in subtopic.replace(".", "/").split("/") if p]
            path += "".join(f"/{quote(p, safe='*>')}" for p in parts)
        return self._url("ws", path) + "?" + httpx.QueryParams(authorization=key).__str__()

    # -- service information ---------------------------------------------------------

    def version(self, service: Service = "things") -> Call[Version]:
        """A service's name and version (``GET /version``)."""
        return self._call("GET", service, "/version", _of(Version.from_json))

    def health(self, service: Service = "things") -> Call[Health]:
        """A service's health (``GET /health``); a 503 answer (a dependency is down)
        is returned too, with ``status`` ``fail``."""
        return Call("GET", self._url(service, "/health"), (200, 503), _of(Health.from_json))

    def platform_info(self) -> Call[PlatformInfo | None]:
        """Where an all-in-one platform's other protocols listen
        (``GET /.well-known/mainflux``); ``None`` when the platform does not say
        (microservices, Go Mainflux)."""

        def parse(response: httpx.Response) -> PlatformInfo | None:
            if response.status_code == 404:
                return None
            return PlatformInfo.from_json(_object(response))

        return Call("GET", self._url("things", "/.well-known/mainflux"), (200, 404), parse)

    # -- bootstrap -------------------------------------------------------------------

    def add_bootstrap(
        self,
        token: str,
        external_id: str,
        external_key: str,
        thing_id: str | None = None,
        channels: Sequence[str] | None = None,
        name: str | None = None,
        content: str | None = None,
        client_cert: str | None = None,
        client_key: str | None = None,
        ca_cert: str | None = None,
    ) -> Call[str]:
        """Add a bootstrap config (``POST /things/configs``); return its thing id (a new
        thing is created when ``thing_id`` is not given)."""
        body = {
            k: v
            for k, v in {
                "external_id": external_id,
                "external_key": external_key,
                "thing_id": thing_id,
                "channels": list(channels) if channels is not None else None,
                "name": name,
                "content": content,
                "client_cert": client_cert,
                "client_key": client_key,
                "ca_cert": ca_cert,
            }.items()
            if v is not None
        }
        return self._call("POST", "bootstrap", "/things/configs", _location, token, json=body)

    def view_bootstrap(self, token: str, thing_id: str) -> Call[BootstrapConfig]:
        """One bootstrap config (``GET /things/configs/{id}``)."""
        path = f"/things/configs/{segment(thing_id)}"
        return self._call("GET", "bootstrap", path, _of(BootstrapConfig.from_json), token)

    def bootstrap_configs(
        self,
        token: str,
        offset: int = 0,
        limit: int = 10,
        *,
        state: int | None = None,
        external_id: str | None = None,
        mainflux_key: str | None = None,
        name: str | None = None,
    ) -> Call[Page[BootstrapConfig]]:
        """A page of the user's bootstrap configs (``GET /things/configs``)."""
        params = _params(
            offset=offset,
            limit=limit,
            state=state,
            external_id=external_id,
            mainflux_key=mainflux_key,
            name=name,
        )
        parse = _page("configs", BootstrapConfig.from_json)
        return self._call("GET", "bootstrap", "/things/configs", parse, token, params=params)

    def update_bootstrap(
        self, token: str, thing_id: str, name: str | None = None, content: str | None = None
    ) -> Call[None]:
        """Replace a config's name and content (``PUT /things/configs/{id}``)."""
        body = {"name": name or "", "content": content or ""}
        path = f"/things/configs/{segment(thing_id)}"
        return self._call("PUT", "bootstrap", path, _nothing, token, json=body)

    def update_bootstrap_certs(
        self,
        token: str,
        thing_id: str,
        client_cert: str = "",
        client_key: str = "",
        ca_cert: str = "",
    ) -> Call[None]:
        """Replace a config's certificates (``PATCH /things/configs/certs/{id}``)."""
        body = {"client_cert": client_cert, "client_key": client_key, "ca_cert": ca_cert}
        path = f"/things/configs/certs/{segment(thing_id)}"
        return self._call("PATCH", "bootstrap", path, _nothing, token, json=body)

    def update_bootstrap_connections(
        self, token: str, thing_id: str, channels: Sequence[str]
    ) -> Call[None]:
        """Replace a config's channels (``PUT /things/configs/connections/{id}``)."""
        path = f"/things/configs/connections/{segment(thing_id)}"
        body = {"channels": list(channels)}
        return self._call("PUT", "bootstrap", path, _nothing, token, json=body)

    def remove_bootstrap(self, token: str, thing_id: str) -> Call[None]:
        """Remove a bootstrap config (``DELETE /things/configs/{id}``)."""
        path = f"/things/configs/{segment(thing_id)}"
        return self._call("DELETE", "bootstrap", path, _nothing, token)

    def whitelist(self, token: str, thing_id: str, state: int) -> Call[None]:
        """Activate (1) or deactivate (0) a config: connect its thing to its channels or
        disconnect it (``PUT /things/state/{id}``)."""
        path = f"/things/state/{segment(thing_id)}"
        return self._call("PUT", "bootstrap", path, _nothing, token, json={"state": state})

    def unknown_bootstrap_configs(
        self, token: str, offset: int = 0, limit: int = 10
    ) -> Call[list[UnknownConfig]]:
        """Devices that asked for a config nobody added (``GET /things/unknown/configs``)."""
        parse = _list("configs", UnknownConfig.from_json)
        params = _params(offset=offset, limit=limit)
        return self._call(
            "GET", "bootstrap", "/things/unknown/configs", parse, token, params=params
        )

    def bootstrap(
        self, external_id: str, external_key: str, secure_key: str | bytes | None = None
    ) -> Call[BootstrapConfig]:
        """What a device fetches with its external credentials
        (``GET /things/bootstrap/{external_id}``). Raises ``NotFound`` for an unknown id
        or a wrong key.

        With ``secure_key`` (the service's ``MF_BOOTSTRAP_ENCRYPT_KEY``: hex text or the
        raw 16, 24 or 32 bytes) it is secure bootstrap
        (``GET /things/bootstrap/secure/{external_id}``): the external key is sent
        AES-CFB encrypted and the answer decrypted. A malformed key raises ``ValueError``
        before any request; an answer that does not decrypt to JSON (another key on the
        service) raises ``UnexpectedBody``."""
        if secure_key is None:
            path = f"/things/bootstrap/{segment(external_id)}"
            return self._call(
                "GET", "bootstrap", path, _of(BootstrapConfig.from_json), external_key
            )
        key = crypto.parse_key(secure_key) if isinstance(secure_key, str) else secure_key
        if len(key) not in crypto.KEY_SIZES:
            raise ValueError(f"expected a key of 16, 24 or 32 bytes, got {len(key)}")

        def parse(response: httpx.Response) -> BootstrapConfig:
            if len(response.content) < crypto.IV_SIZE:
                raise UnexpectedBody("the answer is shorter than its IV")
            plain = crypto.decrypt(key, response.content)
            try:
                body = json.loads(plain)
            except ValueError:
                raise UnexpectedBody(
                    "the answer does not decrypt to JSON: is secure_key the service's key?"
                ) from None
            if not isinstance(body, dict):
                raise UnexpectedBody("the answer is not a JSON object")
            return BootstrapConfig.from_json(body)

        header = crypto.encrypt(key, external_key.encode()).hex()
        path = f"/things/bootstrap/secure/{segment(external_id)}"
        return self._call("GET", "bootstrap", path, parse, header)

    # -- provision -------------------------------------------------------------------

    def provision(
        self, token: str, external_id: str, external_key: str, name: str | None = None
    ) -> Call[Provisioned]:
        """Onboard a gateway in one call (provision's ``POST /mapping``): the things,
        channels, bootstrap config and whitelisting its template says."""

        def parse(response: httpx.Response) -> Provisioned:
            body = _object(response)
            if body.get("error"):  # Go Mainflux answers 201 with an error field
                raise UnexpectedBody(str(body["error"]))
            return Provisioned.from_json(body)

        body: dict[str, Any] = {"external_id": external_id, "external_key": external_key}
        if name is not None:
            body["name"] = name
        return Call(
            "POST",
            self._url("provision", "/mapping"),
            (201,),
            parse,
            {**self._auth(token), "Content-Type": JSON_TYPE},
            content=json.dumps(body).encode(),
        )
