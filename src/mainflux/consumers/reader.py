"""The readers API: ``GET /channels/{id}/messages`` over the stored SenML records.

A caller is let in by a thing key connected to the channel (Mainflux's readers) or by
the user token of the channel's owner. Query parameters are checked before the
caller is (a bad value is 400 whoever asks): ``offset``, ``limit`` (1 to 1000),
``subtopic`` (``a/b`` or ``a.b``), ``publisher``, ``protocol``, ``name``, ``v`` with
``comparator`` (eq, lt, le, gt, ge), ``vs``, ``vb``, ``vd``, ``from`` and ``to`` (record
time in seconds, ``from`` inclusive, ``to`` exclusive)."""

from __future__ import annotations

import math
from typing import cast

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mainflux.consumers.models import (
    COMPARATORS,
    MAX_LIMIT,
    Comparator,
    MessageReader,
    PageQuery,
)
from mainflux.core import errors
from mainflux.core.auth import ChannelOwner, ThingAccess
from mainflux.core.http import auth_header, json_response, query_uint, query_value
from mainflux.core.http import create_app as create_http_app

SERVICE = "postgres-reader"


def parse_query(request: Request) -> PageQuery:
    """Read and check the page parameters. Raises ``MalformedEntity``."""
    limit = query_uint(request, "limit", 10)
    if not 1 <= limit <= MAX_LIMIT:
        raise errors.MalformedEntity(f"limit must be between 1 and {MAX_LIMIT}")
    comparator = query_value(request, "comparator") or "eq"
    if comparator not in COMPARATORS:
        raise errors.MalformedEntity("comparator must be one of eq, lt, le, gt, ge")
    from_time = _number(request, "from")
    to_time = _number(request, "to")
    if from_time is not None and to_time is not None and from_time > to_time:
        raise errors.MalformedEntity("from must not be after to")
    return PageQuery(
        offset=query_uint(request, "offset", 0),
        limit=limit,
        subtopic=_subtopic(query_value(request, "subtopic")),
        publisher=_text(request, "publisher"),
        protocol=_text(request, "protocol"),
        name=_text(request, "name"),
        value=_number(request, "v"),
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


def _number(request: Request, key: str) -> float | None:
    raw = query_value(request, key)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise errors.MalformedEntity(f"query parameter {key!r} must be a number") from None
    if not math.isfinite(value):
        raise errors.MalformedEntity(f"query parameter {key!r} must be a finite number")
    return value


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
    access: ThingAccess, owner: ChannelOwner, channel: str, credential: str
) -> None:
    """Let in a thing key connected to the channel, or the channel owner's user token.

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


def create_app(repo: MessageReader, access: ThingAccess, owner: ChannelOwner) -> Starlette:
    """The ``postgres-reader`` app: the messages route plus /version, /health, /metrics."""

    async def list_messages(request: Request) -> Response:
        channel = request.path_params["channel"]
        query = parse_query(request)
        await authorize(access, owner, channel, auth_header(request))
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
