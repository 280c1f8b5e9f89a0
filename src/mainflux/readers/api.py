"""The readers API: ``GET /channels/{id}/messages`` over the stored SenML records.

A caller is let in by a thing key connected to the channel (Mainflux's readers) or,
when an owner check is given, by the user token of the channel's owner. The caller is
checked first (403 before anything else: an unknown caller learns nothing about the
query and costs no parsing), then the query parameters, each a 400 when bad, all read
by :mod:`mainflux.core.query` before the database is asked: ``offset``, ``limit`` (1 to
1000), ``subtopic`` (``a/b`` or ``a.b``), ``publisher``, ``protocol``, ``name``, ``v`` with
``comparator`` (eq, lt, le, gt, ge), ``vs``, ``vb``, ``vd``, ``from`` and ``to`` (record
time in seconds, ``from`` inclusive, ``to`` exclusive)."""

from __future__ import annotations

from typing import Annotated, cast

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from mainflux.core import errors
from mainflux.core.auth import ChannelOwner, ThingAccess
from mainflux.core.endpoints import THING, USER, Endpoint, Reply
from mainflux.core.http import auth_header, json_response
from mainflux.core.http import create_app as create_http_app
from mainflux.core.query import MAX_OFFSET
from mainflux.readers.models import (
    MAX_LIMIT,
    Comparator,
    MessageReader,
    PageQuery,
)

SERVICE = "postgres-reader"


class MessagesQuery(msgspec.Struct, kw_only=True):
    """Paging and filters of a channel's messages."""

    offset: Annotated[int, msgspec.Meta(ge=0, le=MAX_OFFSET, description="Records to skip.")] = 0
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_LIMIT, description="Records per page.")] = 10
    subtopic: Annotated[str, msgspec.Meta(description="`a/b` or `a.b`.")] | None = None
    publisher: Annotated[str, msgspec.Meta(description="The publishing thing's id.")] | None = None
    protocol: Annotated[str, msgspec.Meta(description="http, mqtt, ws or coap.")] | None = None
    name: Annotated[str, msgspec.Meta(description="The record's full name.")] | None = None
    v: Annotated[float, msgspec.Meta(description="Compared with `value`.")] | None = None
    comparator: (
        Annotated[Comparator, msgspec.Meta(description="How `v` is compared (default eq).")] | None
    ) = None
    vs: Annotated[str, msgspec.Meta(description="Equal to `string_value`.")] | None = None
    vb: Annotated[bool, msgspec.Meta(description="Equal to `bool_value`.")] | None = None
    vd: Annotated[str, msgspec.Meta(description="Equal to `data_value`.")] | None = None
    from_: (
        Annotated[float, msgspec.Meta(description="Earliest record time (s), inclusive.")] | None
    ) = msgspec.field(default=None, name="from")
    to: Annotated[float, msgspec.Meta(description="Latest record time (s), exclusive.")] | None = (
        None
    )


class Record(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A stored SenML record (empty fields are left out)."""

    channel: str = ""
    subtopic: str = ""
    publisher: str = ""
    protocol: str = ""
    name: str = ""
    unit: str = ""
    time: float = 0.0
    update_time: float = 0.0
    value: float | None = None
    string_value: str | None = None
    data_value: str | None = None
    bool_value: bool | None = None
    sum: float | None = None


class MessagesPage(msgspec.Struct):
    """A page of a channel's records, newest first."""

    total: int
    offset: int
    limit: int
    messages: list[Record]


def parse_query(query: MessagesQuery) -> PageQuery:
    """Check the filters together. Raises ``MalformedEntity``."""
    if query.from_ is not None and query.to is not None and query.from_ > query.to:
        raise errors.MalformedEntity("from must not be after to")
    return PageQuery(
        offset=query.offset,
        limit=query.limit,
        subtopic=_subtopic(query.subtopic),
        publisher=query.publisher,
        protocol=query.protocol,
        name=query.name,
        value=query.v,
        comparator=cast(Comparator, query.comparator or "eq"),
        string_value=query.vs,
        bool_value=query.vb,
        data_value=query.vd,
        from_time=query.from_,
        to_time=query.to,
    )


def _subtopic(raw: str | None) -> str | None:
    """``a/b``, ``/a//b/`` and ``a.b`` all mean the stored subtopic ``a.b``."""
    if not raw:
        return None
    parts = [p for p in raw.replace("/", ".").split(".") if p]
    return ".".join(parts) or None


async def authorize(
    access: ThingAccess, owner: ChannelOwner | None, channel: str, credential: str
) -> None:
    """Let in a thing key connected to the channel, or the channel owner's user token
    (when ``owner`` is given).

    Raises ``Unauthorized`` when neither holds, and ``ServiceUnavailable`` when no
    check could be made and the other one failed."""
    if not credential:
        raise errors.Unauthorized()
    unavailable: errors.ServiceUnavailable | None = None
    try:
        await access.can_access_by_key(channel, credential)
        return
    except errors.ServiceUnavailable as exc:
        unavailable = exc
    except (errors.Unauthorized, errors.NotFound, errors.MalformedEntity):
        pass
    if owner is None:
        if unavailable is not None:
            raise unavailable
        raise errors.Unauthorized()
    try:
        await owner.authorize_owner(credential, channel)
        return
    except errors.ServiceUnavailable as exc:
        unavailable = unavailable or exc
    except (errors.Unauthorized, errors.NotFound, errors.MalformedEntity):
        pass
    if unavailable is not None:
        raise unavailable
    raise errors.Unauthorized()


def create_app(repo: MessageReader, access: ThingAccess, owner: ChannelOwner | None) -> Starlette:
    """The ``postgres-reader`` app: the messages route plus /version, /health, /metrics.

    Without ``owner`` only thing keys are let in."""

    async def caller(request: Request) -> None:
        await authorize(access, owner, request.path_params["channel"], auth_header(request))

    async def list_messages(request: Request, query: MessagesQuery) -> Response:
        """The channel's stored records, newest first; every filter narrows the page and
        `total`. The caller is checked before the query."""
        page = await repo.read(request.path_params["channel"], parse_query(query))
        records = msgspec.convert(page.messages, list[Record])
        return json_response(MessagesPage(page.total, page.offset, page.limit, records))

    routes = [
        Endpoint(
            "GET",
            "/channels/{channel}/messages",
            list_messages,
            summary="Read a channel's messages",
            tags=("messages",),
            before=caller,
            query=MessagesQuery,
            security=THING + USER if owner is not None else THING,
            ok=Reply(200, "A page of records.", MessagesPage),
            errors={503: "The things service or the message store cannot be reached."},
        )
    ]
    return create_http_app(SERVICE, routes, title="Mainflux reader")
