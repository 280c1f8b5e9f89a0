"""The blocking :class:`Client` and the asyncio :class:`AsyncClient`.

Both have one method per endpoint of :class:`~mainflux.sdk.calls.Api` (same names, same
arguments, same results; the async ones are coroutines), ``iter_*`` methods that walk
every page of a list, and ``watch`` that follows a channel over WebSocket::

    with Client("http://localhost:8080") as mf:
        token = mf.create_token("me@example.com", "12345678")
        for thing in mf.iter_things(token):
            print(thing.id, thing.name)
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Coroutine,
    Generator,
    Iterator,
)
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

import httpx

from mainflux.sdk import errors
from mainflux.sdk.calls import Api, Call, UnexpectedBody
from mainflux.sdk.config import Config
from mainflux.sdk.models import Channel, Message, Page, Thing

P = ParamSpec("P")
T = TypeVar("T")

#: Items per request when walking pages (the things API allows at most 100).
PAGE_SIZE = 100
#: The largest message ``watch`` accepts by default (the platform's own bound is 1 MiB).
MAX_FRAME = 16 * 1024 * 1024


def _result(call: Call[T], response: httpx.Response) -> T:
    if response.status_code not in call.ok:
        raise errors.from_response(response)
    try:
        return call.parse(response)
    except (UnexpectedBody, ValueError, TypeError, KeyError) as exc:
        raise errors.ServerError(
            f"unexpected answer: {exc}", status=response.status_code, url=call.url
        ) from None


def _unsendable(exc: Exception, url: str) -> errors.BadRequest:
    """A request this client refuses to send: a header value (a token, a key) that HTTP
    cannot carry, such as a line break or a non-ASCII character."""
    reason = "a token or key holds a character HTTP headers cannot carry"
    return errors.BadRequest(f"{reason} ({exc})", url=url)


@contextlib.contextmanager
def _sending(url: str) -> Iterator[None]:
    """Turns what httpx raises while sending a request into the SDK's errors."""
    try:
        yield
    except (httpx.LocalProtocolError, UnicodeEncodeError) as exc:
        raise _unsendable(exc, url) from None
    except httpx.TransportError as exc:
        raise errors.from_transport(exc, url) from None
    except httpx.InvalidURL as exc:
        raise errors.Unreachable(f"invalid URL: {exc}", url=url) from None


def _options(call: Call[Any]) -> dict[str, Any]:
    """The keyword arguments of ``httpx`` ``request`` that send ``call``."""
    return {
        "headers": dict(call.headers),
        "params": call.params,
        "json": call.json,
        "content": call.content,
    }


def _sync(build: Callable[Concatenate[Api, P], Call[T]]) -> Callable[Concatenate[Client, P], T]:
    @functools.wraps(build)
    def method(self: Client, *args: P.args, **kwargs: P.kwargs) -> T:
        return self.run(build(self.api, *args, **kwargs))

    return method


def _async(
    build: Callable[Concatenate[Api, P], Call[T]],
) -> Callable[Concatenate[AsyncClient, P], Coroutine[Any, Any, T]]:
    @functools.wraps(build)
    async def method(self: AsyncClient, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.run(build(self.api, *args, **kwargs))

    return method


class _Endpoint(Generic[P, T]):
    """An endpoint of :class:`Api` as a method of both clients, declared once: on a
    :class:`Client` it runs the request and returns the result, on an
    :class:`AsyncClient` it is a coroutine. Either way it is a plain method with the
    endpoint's name, arguments and docstring (``help()``, ``inspect``), and mypy sees
    its arguments and result through the overloads of ``__get__``."""

    def __init__(self, build: Callable[Concatenate[Api, P], Call[T]]) -> None:
        self._sync = _sync(build)
        self._async = _async(build)

    @overload
    def __get__(self, client: None, owner: type[Client]) -> Callable[Concatenate[Client, P], T]: ...
    @overload
    def __get__(
        self, client: None, owner: type[AsyncClient]
    ) -> Callable[Concatenate[AsyncClient, P], Coroutine[Any, Any, T]]: ...
    @overload
    def __get__(self, client: Client, owner: type[Any]) -> Callable[P, T]: ...
    @overload
    def __get__(
        self, client: AsyncClient, owner: type[Any]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...
    def __get__(self, client: object, owner: type[Any]) -> Callable[..., Any]:
        method: Callable[..., Any] = self._sync if issubclass(owner, Client) else self._async
        return method.__get__(client, owner)  # type: ignore[attr-defined,no-any-return]


class _Endpoints:
    """The methods of both clients that run one request of :class:`Api` each."""

    # users
    create_user = _Endpoint(Api.create_user)
    create_token = _Endpoint(Api.create_token)
    user = _Endpoint(Api.user)
    update_user = _Endpoint(Api.update_user)
    update_password = _Endpoint(Api.update_password)
    request_password_reset = _Endpoint(Api.request_password_reset)
    reset_password = _Endpoint(Api.reset_password)
    # API keys
    create_key = _Endpoint(Api.create_key)
    key = _Endpoint(Api.key)
    revoke_key = _Endpoint(Api.revoke_key)
    # things and channels
    create_thing = _Endpoint(Api.create_thing)
    create_things = _Endpoint(Api.create_things)
    thing = _Endpoint(Api.thing)
    things = _Endpoint(Api.things)
    update_thing = _Endpoint(Api.update_thing)
    update_thing_key = _Endpoint(Api.update_thing_key)
    delete_thing = _Endpoint(Api.delete_thing)
    channels_by_thing = _Endpoint(Api.channels_by_thing)
    create_channel = _Endpoint(Api.create_channel)
    create_channels = _Endpoint(Api.create_channels)
    channel = _Endpoint(Api.channel)
    channels = _Endpoint(Api.channels)
    update_channel = _Endpoint(Api.update_channel)
    delete_channel = _Endpoint(Api.delete_channel)
    things_by_channel = _Endpoint(Api.things_by_channel)
    connect = _Endpoint(Api.connect)
    connect_thing = _Endpoint(Api.connect_thing)
    disconnect = _Endpoint(Api.disconnect)
    # messages
    send_message = _Endpoint(Api.send_message)
    read_messages = _Endpoint(Api.read_messages)
    # service information
    version = _Endpoint(Api.version)
    health = _Endpoint(Api.health)
    platform_info = _Endpoint(Api.platform_info)
    # bootstrap
    add_bootstrap = _Endpoint(Api.add_bootstrap)
    view_bootstrap = _Endpoint(Api.view_bootstrap)
    bootstrap_configs = _Endpoint(Api.bootstrap_configs)
    update_bootstrap = _Endpoint(Api.update_bootstrap)
    update_bootstrap_certs = _Endpoint(Api.update_bootstrap_certs)
    update_bootstrap_connections = _Endpoint(Api.update_bootstrap_connections)
    remove_bootstrap = _Endpoint(Api.remove_bootstrap)
    whitelist = _Endpoint(Api.whitelist)
    unknown_bootstrap_configs = _Endpoint(Api.unknown_bootstrap_configs)
    bootstrap = _Endpoint(Api.bootstrap)
    # provision
    provision = _Endpoint(Api.provision)


def _config(config: Config | str | None, options: dict[str, Any]) -> Config:
    if isinstance(config, Config):
        return config.replace(**options) if options else config
    if config is not None:
        options = {"base_url": config, **options}
    return Config(**options)


def _ws_error(exc: Exception, url: str) -> errors.MainfluxError:
    """The SDK error for a WebSocket that could not open or was closed by the platform."""
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    where = url.split("?", 1)[0]
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        body = exc.response.body.decode("utf-8", "replace").strip() if exc.response.body else ""
        cls = errors._BY_STATUS.get(status, errors.ServerError)
        return cls(body or exc.response.reason_phrase or f"HTTP {status}", status=status, url=where)
    if isinstance(exc, ConnectionClosed):
        if exc.sent is not None and exc.sent.code == 1009:
            return errors.PayloadTooLarge(
                f"a message was larger than the bound: {exc.sent.reason}", url=where
            )
        code = exc.rcvd.code if exc.rcvd else 1006
        reason = (exc.rcvd.reason if exc.rcvd else "") or "connection closed"
        if code == 1008:
            return errors.Unauthorized(reason, url=where)
        return errors.Unreachable(f"closed with code {code}: {reason}", url=where)
    return errors.Unreachable(str(exc) or type(exc).__name__, url=where)


class Client(_Endpoints):
    """A blocking client of every HTTP API of the platform.

    ``Client("http://host:8080")`` talks to an all-in-one gateway; pass a
    :class:`Config` (or its fields as keywords) for other layouts. Use it as a context
    manager, or call :meth:`close`. Every method raises a
    :class:`~mainflux.sdk.errors.MainfluxError` subclass on failure."""

    def __init__(
        self,
        config: Config | str | None = None,
        *,
        http: httpx.Client | None = None,
        **options: Any,
    ) -> None:
        self.config = _config(config, options)
        self.api = Api(self.config)
        self._http = http or httpx.Client(verify=self.config.verify, timeout=self.config.timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def run(self, call: Call[T]) -> T:
        """Send one described request and read its answer."""
        with _sending(call.url):
            response = self._http.request(call.method, call.url, **_options(call))
        return _result(call, response)

    def walk(self, page: Callable[[int], Call[Page[T]]]) -> Iterator[T]:
        """Every item of a paged list; ``page(offset)`` describes one page's request."""
        offset = 0
        while True:
            current = self.run(page(offset))
            yield from current.items
            offset += len(current.items)
            if not current.items or offset >= current.total:
                return

    def iter_things(
        self, token: str, *, name: str | None = None, metadata: dict[str, Any] | None = None
    ) -> Iterator[Thing]:
        """Every thing of the user (every page of ``things``)."""
        return self.walk(lambda o: self.api.things(token, o, PAGE_SIZE, name, metadata))

    def iter_channels(
        self, token: str, *, name: str | None = None, metadata: dict[str, Any] | None = None
    ) -> Iterator[Channel]:
        """Every channel of the user (every page of ``channels``)."""
        return self.walk(lambda o: self.api.channels(token, o, PAGE_SIZE, name, metadata))

    def iter_channels_by_thing(self, token: str, thing_id: str) -> Iterator[Channel]:
        """Every channel a thing is connected to."""
        return self.walk(lambda o: self.api.channels_by_thing(token, thing_id, o, PAGE_SIZE))

    def iter_things_by_channel(self, token: str, channel_id: str) -> Iterator[Thing]:
        """Every thing connected to a channel."""
        return self.walk(lambda o: self.api.things_by_channel(token, channel_id, o, PAGE_SIZE))

    def iter_messages(self, credential: str, channel_id: str, **filters: Any) -> Iterator[Message]:
        """Every stored message of a channel matching ``filters`` (those of
        ``read_messages``), newest first."""
        return self.walk(
            lambda o: self.api.read_messages(credential, channel_id, o, PAGE_SIZE, **filters)
        )

    def watch(
        self,
        key: str,
        channel_id: str,
        subtopic: str | None = None,
        on_open: Callable[[], None] | None = None,
        max_size: int | None = MAX_FRAME,
    ) -> Generator[bytes | str, None, None]:
        """Follow a channel live over WebSocket as the thing with ``key``: yield each
        message's payload (``str`` for text frames, ``bytes`` for binary ones) until the
        loop stops. ``on_open`` is called once the socket is open. Raises
        ``Unauthorized`` when the key is refused or the access is revoked,
        ``Unreachable`` when the socket cannot open or drops, or a message is larger
        than ``max_size`` bytes (``None``: no bound)."""
        from websockets.exceptions import ConnectionClosedOK, WebSocketException
        from websockets.sync.client import connect

        url = self.api.watch_url(key, channel_id, subtopic)
        try:
            with connect(url, open_timeout=self.config.timeout, max_size=max_size) as socket:
                if on_open is not None:
                    on_open()
                while True:
                    try:
                        yield socket.recv()
                    except ConnectionClosedOK:
                        return
        except (WebSocketException, OSError, TimeoutError) as exc:
            raise _ws_error(exc, url) from None


class AsyncClient(_Endpoints):
    """The asyncio twin of :class:`Client`: the same methods, as coroutines, and
    ``iter_*``/``watch`` as async iterators. Use ``async with``, or ``await aclose()``."""

    def __init__(
        self,
        config: Config | str | None = None,
        *,
        http: httpx.AsyncClient | None = None,
        **options: Any,
    ) -> None:
        self.config = _config(config, options)
        self.api = Api(self.config)
        self._http = http or httpx.AsyncClient(
            verify=self.config.verify, timeout=self.config.timeout
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def run(self, call: Call[T]) -> T:
        """Send one described request and read its answer."""
        with _sending(call.url):
            response = await self._http.request(call.method, call.url, **_options(call))
        return _result(call, response)

    async def walk(self, page: Callable[[int], Call[Page[T]]]) -> AsyncIterator[T]:
        """Every item of a paged list; ``page(offset)`` describes one page's request."""
        offset = 0
        while True:
            current = await self.run(page(offset))
            for item in current.items:
                yield item
            offset += len(current.items)
            if not current.items or offset >= current.total:
                return

    def iter_things(
        self, token: str, *, name: str | None = None, metadata: dict[str, Any] | None = None
    ) -> AsyncIterator[Thing]:
        """Every thing of the user (every page of ``things``)."""
        return self.walk(lambda o: self.api.things(token, o, PAGE_SIZE, name, metadata))

    def iter_channels(
        self, token: str, *, name: str | None = None, metadata: dict[str, Any] | None = None
    ) -> AsyncIterator[Channel]:
        """Every channel of the user (every page of ``channels``)."""
        return self.walk(lambda o: self.api.channels(token, o, PAGE_SIZE, name, metadata))

    def iter_channels_by_thing(self, token: str, thing_id: str) -> AsyncIterator[Channel]:
        """Every channel a thing is connected to."""
        return self.walk(lambda o: self.api.channels_by_thing(token, thing_id, o, PAGE_SIZE))

    def iter_things_by_channel(self, token: str, channel_id: str) -> AsyncIterator[Thing]:
        """Every thing connected to a channel."""
        return self.walk(lambda o: self.api.things_by_channel(token, channel_id, o, PAGE_SIZE))

    def iter_messages(
        self, credential: str, channel_id: str, **filters: Any
    ) -> AsyncIterator[Message]:
        """Every stored message of a channel matching ``filters``, newest first."""
        return self.walk(
            lambda o: self.api.read_messages(credential, channel_id, o, PAGE_SIZE, **filters)
        )

    async def watch(
        self,
        key: str,
        channel_id: str,
        subtopic: str | None = None,
        on_open: Callable[[], None] | None = None,
        max_size: int | None = MAX_FRAME,
    ) -> AsyncGenerator[bytes | str, None]:
        """Follow a channel live over WebSocket (see :meth:`Client.watch`)."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosedOK, WebSocketException

        url = self.api.watch_url(key, channel_id, subtopic)
        try:
            async with connect(url, open_timeout=self.config.timeout, max_size=max_size) as socket:
                if on_open is not None:
                    on_open()
                while True:
                    try:
                        yield await socket.recv()
                    except ConnectionClosedOK:
                        return
        except (WebSocketException, OSError, TimeoutError) as exc:
            raise _ws_error(exc, url) from None
