"""Route declarations that validate requests and describe themselves.

Every HTTP route of the platform is an :class:`Endpoint`: a Starlette ``Route`` that
also carries its :class:`Spec`, what the OpenAPI document says about it. The request
body and query models of a spec are msgspec Structs, and they are the very types the
request is decoded with before the handler runs, so the document
(:mod:`mainflux.core.openapi`) cannot say one thing while the code checks another.

A handler takes the request, plus ``body=`` and ``query=`` when its spec declares
them::

    Endpoint("POST", "/things", create_thing, summary="Create a thing",
             body=NewThing, ok=Reply(201, "Created", headers={"Location": "..."}),
             security=USER, errors={422: "the key is taken"})

    async def create_thing(request: Request, body: NewThing) -> Response: ...

Statuses that follow from the declaration are added by themselves: 400 and 413 with a
body (415 too when its ``Content-Type`` is checked), 400 with a query, 403 with a
security requirement. Every error answer carries :class:`ErrorBody`."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mainflux.core import errors
from mainflux.core.query import query_float, query_int, query_value

JSON: Final = "application/json"

#: Security requirements (any one scheme suffices): a user's login token or API key.
USER: Final = ("userToken", "apiKey")
#: A login token only (managing API keys).
LOGIN: Final = ("userToken",)
#: A thing key.
THING: Final = ("thingKey",)
#: A user's login token or API key, or none (the service then uses its own credentials).
OPTIONAL_USER: Final = ("userToken", "apiKey", "")
#: A device's bootstrap external key.
DEVICE: Final = ("externalKey",)
#: A device's bootstrap external key, encrypted and hex-encoded (secure bootstrap).
SECURE_DEVICE: Final = ("encryptedExternalKey",)

Handler = Callable[..., Awaitable[Response]]
Guard = Callable[[Request], Awaitable[None]]


class ErrorBody(msgspec.Struct):
    """The body of every error answer."""

    error: str


@dataclass(frozen=True, slots=True)
class Reply:
    """The success answer of an endpoint: status, body type (``None``: no body),
    media type, headers (name to description) and an example body. ``opaque`` is a
    body no schema describes (bytes the description explains)."""

    status: int
    description: str
    model: Any = None
    media_type: str = JSON
    headers: Mapping[str, str] = field(default_factory=dict)
    example: Any = None
    opaque: bool = False


@dataclass(frozen=True, slots=True)
class Spec:
    """What the OpenAPI document says about one operation (see the module doc).

    ``security`` names the schemes of which any one suffices; ``""`` among them means
    the credentials are optional."""

    method: str
    path: str
    summary: str
    ok: Reply
    operation_id: str
    description: str = ""
    body: Any = None
    body_example: Any = None
    body_media_type: str = JSON
    check_content_type: bool = True
    query: type[msgspec.Struct] | None = None
    security: tuple[str, ...] = ()
    errors: Mapping[int, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    #: The body of an error status that is not :class:`ErrorBody` (``/health``'s 503).
    error_models: Mapping[int, Any] = field(default_factory=dict)

    def error_statuses(self) -> dict[int, str]:
        """Every error status the operation can answer, with its description."""
        found: dict[int, str] = {}
        if self.body is not None or self.query is not None:
            found[400] = (
                "Malformed request: "
                + (
                    "the body is not JSON of the documented shape, or "
                    if self.body is not None
                    else ""
                )
                + "a parameter is out of its documented bounds."
            )
        if self.body is not None:
            found[413] = "The body is larger than the server's bound."
            if self.check_content_type:
                found[415] = "The Content-Type header does not contain application/json."
        if self.security:
            found[403] = "Missing or invalid credentials, or no access to the entity."
        found.update(self.errors)
        return dict(sorted(found.items()))


class Endpoint(Route):
    """A Starlette route declared with its :class:`Spec`; the body and query it
    declares are decoded (400/415 on a mismatch) before ``handler`` is called.

    ``before`` runs first of all, for a check that must precede decoding (the
    reader checks its caller before it looks at the query)."""

    def __init__(
        self,
        method: str,
        path: str,
        handler: Handler,
        *,
        summary: str,
        ok: Reply,
        body: Any = None,
        body_example: Any = None,
        check_content_type: bool = True,
        query: type[msgspec.Struct] | None = None,
        security: tuple[str, ...] = (),
        errors: Mapping[int, str] | None = None,
        error_models: Mapping[int, Any] | None = None,
        tags: tuple[str, ...] = (),
        operation_id: str | None = None,
        description: str | None = None,
        before: Guard | None = None,
    ) -> None:
        self.spec = Spec(
            method=method,
            path=path,
            summary=summary,
            ok=ok,
            operation_id=operation_id or handler.__name__,
            description=description if description is not None else _doc(handler),
            body=body,
            body_example=body_example,
            check_content_type=check_content_type,
            query=query,
            security=security,
            errors=dict(errors or {}),
            tags=tags,
            error_models=dict(error_models or {}),
        )
        super().__init__(
            path,
            _decoding(handler, self.spec, before),
            methods=[method],
            name=self.spec.operation_id,
        )


def _doc(handler: Handler) -> str:
    return " ".join((handler.__doc__ or "").split())


def _decoding(handler: Handler, spec: Spec, before: Guard | None) -> Handler:
    body_type, query_type = spec.body, spec.query
    if body_type is None and query_type is None and before is None:
        return handler
    check = spec.check_content_type

    async def endpoint(request: Request) -> Response:
        if before is not None:
            await before(request)
        kwargs: dict[str, Any] = {}
        if body_type is not None:
            kwargs["body"] = await decode_body(request, body_type, check_content_type=check)
        if query_type is not None:
            kwargs["query"] = decode_query(request, query_type)
        return await handler(request, **kwargs)

    return endpoint


async def decode_body(request: Request, model: Any, *, check_content_type: bool = True) -> Any:
    """The JSON body decoded as ``model`` (a msgspec Struct, ``list[...]``, ...).

    Raises ``UnsupportedContentType`` when the ``Content-Type`` header does not contain
    ``application/json`` (a substring test, like Mainflux) and ``check_content_type``
    is set, and ``MalformedEntity`` when the body is not JSON or not of the model's
    shape (the message says where)."""
    if check_content_type and JSON not in request.headers.get("content-type", ""):
        raise errors.UnsupportedContentType()
    raw = await request.body()
    try:
        data = orjson.loads(raw)  # bounded nesting (1024) whatever the stack depth
    except orjson.JSONDecodeError:
        raise errors.MalformedEntity("malformed JSON body") from None
    try:
        return msgspec.convert(data, model)
    except msgspec.ValidationError as exc:
        raise errors.MalformedEntity(str(exc)) from None


def decode_query(request: Request, model: type[msgspec.Struct]) -> Any:
    """The query parameters as ``model``, a Struct of optional fields.

    Each field is read by :mod:`mainflux.core.query` by its type: a whole number
    within the field's ``ge``/``le`` (its default when absent or empty), a finite
    decimal number, ``true``/``false``/``1``/``0``, one of a ``Literal``'s values, or a
    string of at most ``max_length`` characters. A repeated key is malformed.
    Raises ``MalformedEntity`` naming the parameter."""
    info = msgspec.inspect.type_info(model)
    assert isinstance(info, msgspec.inspect.StructType)
    values: dict[str, Any] = {}
    for f in info.fields:
        present, value = _query_field(request, f)
        if present:
            values[f.name] = value
    return model(**values)


def _query_field(request: Request, f: msgspec.inspect.Field) -> tuple[bool, Any]:
    kind = f.type
    if isinstance(kind, msgspec.inspect.UnionType):
        kind = next(t for t in kind.types if not isinstance(t, msgspec.inspect.NoneType))
    if isinstance(kind, msgspec.inspect.Metadata):
        kind = kind.type
    key = f.encode_name
    if isinstance(kind, msgspec.inspect.IntType):
        low = kind.ge if kind.ge is not None else 0
        high = kind.le if kind.le is not None else 2**63 - 1
        default = f.default if isinstance(f.default, int) else low
        return True, query_int(request, key, default, low, high)
    if isinstance(kind, msgspec.inspect.FloatType):
        number = query_float(request, key)
        assert number is None or math.isfinite(number)
        return number is not None, number
    raw = query_value(request, key)
    if raw is None or raw == "":
        return False, None
    if isinstance(kind, msgspec.inspect.BoolType):
        if raw in ("true", "1"):
            return True, True
        if raw in ("false", "0"):
            return True, False
        raise errors.MalformedEntity(f"query parameter {key!r} must be true or false")
    if isinstance(kind, msgspec.inspect.LiteralType):
        if raw not in kind.values:
            allowed = ", ".join(str(v) for v in kind.values)
            raise errors.MalformedEntity(f"query parameter {key!r} must be one of {allowed}")
        return True, raw
    if isinstance(kind, msgspec.inspect.StrType):
        if kind.max_length is not None and len(raw) > kind.max_length:
            raise errors.MalformedEntity(
                f"query parameter {key!r} longer than {kind.max_length} characters"
            )
        return True, raw
    raise TypeError(f"query field {f.name!r}: unsupported type {kind!r}")
