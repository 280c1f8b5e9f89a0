"""OpenAPI 3.1 documents built from the endpoint declarations, and their reference page.

:func:`build_document` turns the :class:`~mainflux.core.endpoints.Spec` of every route
of a service into its document: schemas come from the same msgspec types the requests
are decoded with (``msgspec.json.schema_components``), so the document follows the
code. :func:`merge` joins several services' documents (the all-in-one gateway).
:func:`docs_routes` serves ``/openapi.json`` and ``/docs``, a Swagger UI page whose
files come from the installed ``swagger-ui-bundle-v2`` package (nothing is fetched
from the network)."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import msgspec
import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from mainflux import __version__
from mainflux.core.endpoints import JSON, Endpoint, ErrorBody, Spec

Document = dict[str, Any]

OPENAPI_VERSION: Final = "3.1.0"
_REF: Final = "#/components/schemas/{name}"
_PARAM: Final = re.compile(r"{([^}:]+)(?::[^}]*)?}")

SECURITY_SCHEMES: Final[Mapping[str, Any]] = {
    "userToken": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "A user's login token: the `token` answered by `POST /tokens`, "
        "sent as it is (no `Bearer` prefix).",
    },
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "An API key: the `value` answered by `POST /keys` with `type` 2, "
        "sent as it is.",
    },
    "thingKey": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "A thing's key: the `key` of `GET /things/{id}`, sent as it is.",
    },
    "externalKey": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "A device's external key: the `external_key` of its bootstrap "
        "config, sent as it is.",
    },
    "encryptedExternalKey": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "A device's external key encrypted for secure bootstrap: "
        "hex(IV(16) ‖ AES-CFB(external_key)) with the key `MF_BOOTSTRAP_ENCRYPT_KEY`.",
    },
}

#: Tags in the order the reference page shows them, with their descriptions.
TAGS: Final[Mapping[str, str]] = {
    "users": "Accounts, login tokens and passwords.",
    "keys": "API keys: long-lived user credentials.",
    "things": "Devices and applications; each has a secret key.",
    "channels": "Message topics, and which things are connected to them.",
    "messages": "Sending and reading messages (thing keys).",
    "access": "Internal: may a thing key use a channel?",
    "bootstrap": "Device configs, and the call a device fetches its config with.",
    "provision": "One call that sets a gateway up: things, channels, bootstrap config.",
    "service": "Version, health and metrics of the service.",
}


def _tags(paths: Mapping[str, Any]) -> list[dict[str, str]]:
    used = {t for ops in paths.values() for op in ops.values() for t in op.get("tags", [])}
    ordered = [t for t in TAGS if t in used] + sorted(used - set(TAGS))
    return [{"name": t, "description": TAGS[t]} if t in TAGS else {"name": t} for t in ordered]


#: The files of the reference page, served from the installed Swagger UI.
_ASSETS: Final[Mapping[str, str]] = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
}

_PAGE: Final = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({{
  url: "openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  tryItOutEnabled: false,
  persistAuthorization: true
}});
</script>
</body>
</html>
"""


def path_parameters(path: str) -> list[str]:
    """The parameter names of a route path (``/things/{id}`` gives ``["id"]``)."""
    return _PARAM.findall(path)


def openapi_path(path: str) -> str:
    """A Starlette path as OpenAPI writes it (``{name:path}`` becomes ``{name}``)."""
    return _PARAM.sub(r"{\1}", path)


def specs_of(routes: Iterable[BaseRoute]) -> list[Spec]:
    """The specs of the :class:`Endpoint` routes among ``routes``."""
    return [route.spec for route in routes if isinstance(route, Endpoint)]


def undocumented(routes: Iterable[BaseRoute]) -> list[str]:
    """``METHOD path`` of every route that is in the schema but no :class:`Endpoint`."""
    found = []
    for route in routes:
        if isinstance(route, Route) and route.include_in_schema and not isinstance(route, Endpoint):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                found.append(f"{method} {route.path}")
    return found


def build_document(title: str, specs: Iterable[Spec], description: str = "") -> Document:
    """The OpenAPI 3.1 document of ``specs``.

    Raises ``ValueError`` when two specs declare the same method and path or the same
    operation id."""
    specs = list(specs)
    models: list[Any] = [ErrorBody]
    for spec in specs:
        models.extend(m for m in (spec.body, spec.query, spec.ok.model) if m is not None)
        models.extend(spec.error_models.values())
    unique = list(dict.fromkeys(models))
    refs, components = msgspec.json.schema_components(unique, ref_template=_REF)
    schema_of = dict(zip(unique, refs, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    ids: set[str] = set()
    for spec in specs:
        path = openapi_path(spec.path)
        method = spec.method.lower()
        if method in paths.get(path, {}):
            raise ValueError(f"{spec.method} {path} declared twice")
        if spec.operation_id in ids:
            raise ValueError(f"operation id {spec.operation_id!r} declared twice")
        ids.add(spec.operation_id)
        paths.setdefault(path, {})[method] = _operation(spec, schema_of, components)
    for spec in specs:  # query models are inlined as parameters, not kept as schemas
        if spec.query is not None:
            components.pop(spec.query.__name__, None)
    document: Document = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": __version__},
        "tags": _tags(paths),
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": dict(SECURITY_SCHEMES),
        },
    }
    if description:
        document["info"]["description"] = description
    return document


def _operation(
    spec: Spec, schema_of: Mapping[Any, Any], components: Mapping[str, Any]
) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": spec.operation_id, "summary": spec.summary}
    if spec.description:
        operation["description"] = spec.description
    if spec.tags:
        operation["tags"] = list(spec.tags)
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in path_parameters(spec.path)
    ]
    if spec.query is not None:
        query = components[spec.query.__name__]
        for name, schema in query.get("properties", {}).items():
            schema = _not_null(schema)
            parameter = {"name": name, "in": "query", "required": False, "schema": schema}
            if "description" in schema:
                parameter["description"] = schema["description"]
            parameters.append(parameter)
    if parameters:
        operation["parameters"] = parameters
    if spec.body is not None:
        media: dict[str, Any] = {"schema": schema_of[spec.body]}
        if spec.body_example is not None:
            media["example"] = spec.body_example
        operation["requestBody"] = {"required": True, "content": {spec.body_media_type: media}}
    responses: dict[str, Any] = {str(spec.ok.status): _reply(spec, schema_of)}
    error = {JSON: {"schema": schema_of[ErrorBody]}}
    for status, text in spec.error_statuses().items():
        model = spec.error_models.get(status)
        content = {JSON: {"schema": schema_of[model]}} if model is not None else error
        responses[str(status)] = {"description": text, "content": content}
    operation["responses"] = responses
    if spec.security:
        operation["security"] = [{name: []} if name else {} for name in spec.security]
    return operation


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema without the ``null`` of an optional field (a query
    value is never null: an absent one is)."""
    options = schema.get("anyOf")
    if not options:
        return schema
    kept = [o for o in options if o != {"type": "null"}]
    if len(kept) != 1:
        return schema
    extra = {k: v for k, v in schema.items() if k != "anyOf" and v is not None}
    return {**kept[0], **extra}


def _reply(spec: Spec, schema_of: Mapping[Any, Any]) -> dict[str, Any]:
    ok = spec.ok
    reply: dict[str, Any] = {"description": ok.description}
    if ok.headers:
        reply["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in ok.headers.items()
        }
    if ok.model is not None:
        media: dict[str, Any] = {"schema": schema_of[ok.model]}
        if ok.example is not None:
            media["example"] = ok.example
        reply["content"] = {ok.media_type: media}
    elif ok.opaque:
        reply["content"] = {ok.media_type: {}}
    return reply


def document_of(app: Any) -> Document | None:
    """The OpenAPI document an app built by ``core.http.create_app`` (or an adapter
    wrapping one, which shares its ``state``) serves, or ``None``."""
    build = getattr(getattr(app, "state", None), "openapi", None)
    return build() if callable(build) else None


def merge(
    title: str, parts: Iterable[tuple[str, str, Document]], description: str = ""
) -> Document:
    """One document of several services' ``(name, path prefix, document)`` parts.

    An operation id already taken by an earlier part gets the part's name as a prefix
    (``http_version``). Schemas of the same name must be equal (they come from the same
    types). Raises ``ValueError`` when two parts declare the same operation or
    different schemas under one name."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    ids: set[str] = set()
    for name, prefix, document in parts:
        for path, operations in document["paths"].items():
            target = paths.setdefault(prefix + path, {})
            for method, operation in operations.items():
                if method in target:
                    raise ValueError(f"{method.upper()} {prefix}{path} in two documents")
                if operation["operationId"] in ids:
                    operation = {**operation, "operationId": f"{name}_{operation['operationId']}"}
                ids.add(operation["operationId"])
                target[method] = operation
        for name, schema in document["components"]["schemas"].items():
            if schemas.setdefault(name, schema) != schema:
                raise ValueError(f"two different schemas named {name!r}")
    kept = {p: paths[p] for p in sorted(paths) if paths[p]}
    merged: Document = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": __version__},
        "tags": _tags(kept),
        "paths": kept,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": dict(SECURITY_SCHEMES),
        },
    }
    if description:
        merged["info"]["description"] = description
    return merged


def docs_routes(document: Callable[[], Document], title: str) -> list[BaseRoute]:
    """``GET /openapi.json`` (the document, built once) and ``GET /docs`` (its reference
    page, with the renderer's files under ``/docs/``); none of them is in the document.

    The document's ``servers`` entry is the prefix the app is served under (the
    request's ``root_path``), so its "try it out" requests reach the same service."""
    built: dict[str, bytes] = {}

    async def openapi_json(request: Request) -> Response:
        root = request.scope.get("root_path", "") or "/"
        if root not in built:
            doc = copy.deepcopy(document())
            doc["servers"] = [{"url": root}]
            built[root] = orjson.dumps(doc)
        return Response(built[root], media_type=JSON)

    page = _PAGE.format(title=title)

    async def docs(request: Request) -> Response:
        return HTMLResponse(page)

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        media_type = _ASSETS.get(name)
        if media_type is None:
            return Response(b'{"error":"non-existent entity"}\n', 404, media_type=JSON)
        return Response(
            _asset(name), media_type=media_type, headers={"cache-control": "max-age=86400"}
        )

    return [
        Route("/openapi.json", openapi_json, methods=["GET"], include_in_schema=False),
        Route("/docs", docs, methods=["GET"], include_in_schema=False),
        Route("/docs/{name}", asset, methods=["GET"], include_in_schema=False),
    ]


_asset_cache: dict[str, bytes] = {}


def _asset(name: str) -> bytes:
    if name not in _asset_cache:
        from swagger_ui_bundle import swagger_ui_path  # installed with the package

        _asset_cache[name] = (swagger_ui_path / name).read_bytes()
    return _asset_cache[name]
