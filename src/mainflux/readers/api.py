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

from typing import cast

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mainflux.core import errors
from mainflux.core.auth import ChannelOwner, ThingAccess
from mainflux.core.http import auth_header, json_response
from mainflux.core.http import create_app as create_http_app
from mainflux.core.query import query_float, query_page, query_value
from mainflux.readers.models import (
    COMPARATORS,
    MAX_LIMIT,
    Comparator,
    MessageReader,
    PageQuery,
)

SERVICE = "postgres-reader"


def parse_query(request: Request) -> PageQuery:
    """Read and check the page parameters. Raises ``MalformedEntity``."""
    offset, limit = query_page(request, 10, MAX_LIMIT)
    comparator = query_value(request, "comparator") or "eq"
    if comparator not in COMPARATORS:
        raise errors.MalformedEntity("comparator must be one of eq, lt, le, gt, ge")
    from_time = query_float(request, "from")
    to_time = query_float(request, "to")
    if from_time is not None and to_time is not None and from_time > to_time:
        raise errors.MalformedEntity("from must not be after to")
    return PageQuery(
        offset=offset,
        limit=limit,
        subtopic=_subtopic(query_value(request, "subtopic")),
        publisher=_text(request, "publisher"),
        protocol=_text(request, "protocol"),
        name=_text(request, "name"),
        value=query_float(request, "v"),
        comparator=cast(Comparator, comparator),
        string_value=_text(request, "vs"),
        bool_value=_bool(request, "vb"),
        data_value=_text(request, "vd"),
        from_time=from_time,
        to_time=to_time,
    )


def _text(request: Request, key: str) -> str | None:
    value = query_value(request, key)
    return value if value else None


def _subtopic(raw: str | None) -> str | None:
    """``a/b``, ``/a//b/`` and ``a.b`` all mean the stored subtopic ``a.b``."""
    if not raw:
        return None
    parts = [p for p in raw.replace("/", ".").split(".") if p]
    return ".".join(parts) or None


def _bool(request: Request, key: str) -> bool | None:
    raw = query_value(request, key)
    if raw is None or raw == "":
        return None
    if raw in ("true", "1"):
        return True
    if raw in ("false", "0"):
        return False
    raise errors.MalformedEntity(f"query parameter {key!r} must be true or false")


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

    async def list_messages(request: Request) -> Response:
        channel = request.path_params["channel"]
        await authorize(access, owner, channel, auth_header(request))
        query = parse_query(request)
        page = await repo.read(channel, query)
        return json_response(
            {
                "total": page.total,
                "offset": page.offset,
                "limit": page.limit,
                "messages": page.messages,
            }
        )

    routes = [Route("/channels/{channel}/messages", list_messages, methods=["GET"])]
    return create_http_app(SERVICE, routes)
