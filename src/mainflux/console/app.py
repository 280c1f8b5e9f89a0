"""The console's pages: Starlette routes rendering Jinja2 templates.

Every page talks to the platform through :class:`~mainflux.console.client.PlatformClient`
with the user's own token, so the console can do nothing the user could not do with the
HTTP APIs. Forms post back to their page; a success redirects (303) to a page that says
so, a mistake renders the form again with the message next to the field that caused it."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

import orjson
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from mainflux.console import chart, forms
from mainflux.console.client import ApiError, Page, PlatformClient
from mainflux.console.commands import Endpoints, commands
from mainflux.console.feed import EventFeed, following
from mainflux.console.session import (
    CSRF_FIELD,
    CsrfRefused,
    checked_form,
    csrf_token,
    end_session,
    finish,
    session_token,
    start_session,
)
from mainflux.core import errors
from mainflux.core.http import BodyLimitMiddleware, service_routes

HERE: Final = Path(__file__).parent
PAGE_SIZE: Final = 10
#: Entities offered in a "connect" list, and counted on the home page.
PICK_LIMIT: Final = 100
#: Largest request body the console reads (a CSV upload and the form around it).
MAX_BODY: Final = forms.MAX_CSV_BYTES + 64 * 1024
KINDS: Final = {"things": "thing", "channels": "channel"}
#: Messages shown after a redirect, by code (never text taken from the URL).
NOTICES: Final = {
    "created": "Created.",
    "saved": "Saved.",
    "deleted": "Deleted.",
    "connected": "Connected.",
    "disconnected": "Disconnected.",
    "key": "The thing has a new key; devices must use it from now on.",
    "password": "Password changed.",
    "revoked": "API key revoked.",
    "welcome": "Account created. Welcome!",
    "whitelisted": "Whitelisted: the thing is connected to the config's channels.",
    "unlisted": "Off the whitelist: the thing is disconnected from the config's channels.",
}
#: The reader's filters offered on a channel's page.
FILTERS: Final = ("subtopic", "publisher", "protocol", "name", "v", "comparator", "from", "to")


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    """What the console needs: its client, the public endpoints devices use, the feed."""

    client: PlatformClient
    endpoints: Callable[[Request], Endpoints]
    feed: EventFeed | None = None
    #: ``Secure`` cookies: ``None`` sets them when the request came over HTTPS.
    secure_cookies: bool | None = None
    #: Whether this deployment stores messages (a reader is configured).
    has_reader: bool = True


class _LoggedOut(Exception):
    """The request has no valid session."""


Handler = Callable[[Request], Awaitable[Response]]


def create_app(config: ConsoleConfig, *, own_lifespan: bool = True) -> Starlette:
    """The console app. With ``own_lifespan`` it starts its event feed and closes its
    client itself (``mainflux-ui``); otherwise the caller runs :func:`running`."""
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["timestamp"] = _timestamp
    client = config.client

    def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        notice = NOTICES.get(request.query_params.get("done", ""))
        base = {
            "request": request,
            "base": request.scope.get("root_path", ""),
            "csrf": Markup(
                f'<input type="hidden" name="{CSRF_FIELD}" value="{csrf_token(request)}">'
            ),
            "notice": notice,
            "errors": {},
            "values": {},
            "error": None,
            "user": getattr(request.state, "user", None),
            "active": _route_path(request).split("/")[1] or "home",
            "has_bootstrap": client.has_bootstrap,
        }
        base.update(context)
        response = templates.TemplateResponse(request, name, base, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = _policy(config.endpoints(request).ws)
        response.headers["Referrer-Policy"] = "same-origin"
        return finish(request, response, config.secure_cookies)

    def go(request: Request, path: str, done: str = "", **params: str) -> Response:
        query = {k: v for k, v in params.items() if v}
        if done:
            query["done"] = done
        root = request.scope.get("root_path", "")
        target = f"{root}{path}" + (f"?{urlencode(query)}" if query else "")
        return RedirectResponse(target, status_code=303)

    async def form(request: Request) -> FormData:
        return await checked_form(request, max_part_size=forms.MAX_CSV_BYTES + 1024)

    async def login_required(request: Request) -> str:
        token = session_token(request)
        if not token:
            raise _LoggedOut()
        try:
            request.state.user = await client.user(token)
        except ApiError as exc:
            if exc.status in (401, 403):
                raise _LoggedOut() from None
            raise
        return token

    def page(handler: Callable[[Request, str], Awaitable[Response]]) -> Handler:
        async def run(request: Request) -> Response:
            return await handler(request, await login_required(request))

        return run

    # --- session pages -------------------------------------------------------------

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return render(request, "login.html", {})
        data = await form(request)
        values = {"email": str(data.get("email", ""))}
        try:
            email = forms.email(values["email"])
            password = forms.password(str(data.get("password", "")))
            token = await client.login(email, password)
        except forms.FieldError as exc:
            return render(
                request, "login.html", {"errors": {exc.field: exc.message}, "values": values}, 400
            )
        except ApiError as exc:
            message = "wrong e-mail or password" if exc.status in (401, 403, 404) else exc.message
            return render(request, "login.html", {"error": message, "values": values}, exc.status)
        response = go(request, "/")
        start_session(request, response, token, config.secure_cookies)
        return response

    async def signup(request: Request) -> Response:
        if request.method == "GET":
            return render(request, "signup.html", {})
        data = await form(request)
        values = {"email": str(data.get("email", ""))}
        try:
            email = forms.email(values["email"])
            password = forms.password(str(data.get("password", "")))
            if password != data.get("confirm"):
                raise forms.FieldError("confirm", "the passwords differ")
            await client.register(email, password)
            token = await client.login(email, password)
        except forms.FieldError as exc:
            return render(
                request, "signup.html", {"errors": {exc.field: exc.message}, "values": values}, 400
            )
        except ApiError as exc:
            field = "email" if exc.status == 409 else "password" if exc.status == 400 else None
            context: dict[str, Any] = {"values": values}
            if field:
                context["errors"] = {field: exc.message}
            else:
                context["error"] = exc.message
            return render(request, "signup.html", context, exc.status)
        response = go(request, "/", "welcome")
        start_session(request, response, token, config.secure_cookies)
        return response

    async def logout(request: Request) -> Response:
        await form(request)
        response = go(request, "/login")
        end_session(request, response)
        return response

    # --- home and account ----------------------------------------------------------

    async def home(request: Request, token: str) -> Response:
        things, channels = await asyncio.gather(
            client.page(token, "things", 0, PICK_LIMIT),
            client.page(token, "channels", 0, PICK_LIMIT),
        )
        connections = await _sum(
            client.connections(token, "things", t["id"], 0, 1) for t in things.items
        )
        stored: int | None = None
        if config.has_reader:
            stored = await _sum(_total_messages(client, token, c["id"]) for c in channels.items)
        events = []
        if config.feed is not None:
            events = config.feed.recent(request.state.user["email"], 15)
        context = {
            "things": things,
            "channels": channels,
            "connections": connections,
            "partial": things.total > PICK_LIMIT or channels.total > PICK_LIMIT,
            "stored": stored,
            "events": events,
            "has_feed": config.feed is not None,
        }
        return render(request, "home.html", context)

    async def account(request: Request, token: str, **context: Any) -> Response:
        status = context.pop("status", 200)
        return render(request, "account.html", context, status)

    async def account_page(request: Request, token: str) -> Response:
        key_id = request.query_params.get("key_id", "").strip()
        context: dict[str, Any] = {}
        if key_id:
            try:
                context["key"] = await client.api_key(token, key_id)
            except ApiError as exc:
                context["errors"] = {"key_id": exc.message}
                context["values"] = {"key_id": key_id}
        return await account(request, token, **context)

    async def change_password(request: Request, token: str) -> Response:
        data = await form(request)
        try:
            old = forms.password(str(data.get("old_password", "")), "old_password")
            new = forms.password(str(data.get("password", "")))
            if new != data.get("confirm"):
                raise forms.FieldError("confirm", "the passwords differ")
            await client.change_password(token, old, new)
        except forms.FieldError as exc:
            return await account(request, token, errors={exc.field: exc.message}, status=400)
        except ApiError as exc:
            field = "old_password" if exc.status in (401, 403) else "password"
            return await account(request, token, errors={field: exc.message}, status=exc.status)
        response = go(request, "/account", "password")
        # A new password may end the old token's life: log in again with it.
        fresh = await client.login(request.state.user["email"], new)
        start_session(request, response, fresh, config.secure_cookies)
        return response

    async def issue_key(request: Request, token: str) -> Response:
        data = await form(request)
        try:
            duration = forms.duration(str(data.get("duration", "")))
            issued = await client.issue_api_key(token, duration)
        except forms.FieldError as exc:
            return await account(request, token, errors={exc.field: exc.message}, status=400)
        except ApiError as exc:
            return await account(
                request, token, errors={"duration": exc.message}, status=exc.status
            )
        return await account(request, token, issued=issued)

    async def revoke_key(request: Request, token: str) -> Response:
        data = await form(request)
        key_id = str(data.get("key_id", "")).strip()
        try:
            if not key_id:
                raise forms.FieldError("revoke_id", "required")
            await client.revoke_api_key(token, key_id)
        except forms.FieldError as exc:
            return await account(request, token, errors={exc.field: exc.message}, status=400)
        except ApiError as exc:
            return await account(
                request, token, errors={"revoke_id": exc.message}, status=exc.status
            )
        return go(request, "/account", "revoked")

    # --- things and channels -------------------------------------------------------

    def listing(kind: str) -> tuple[Handler, Handler]:
        async def show(request: Request, token: str, **context: Any) -> Response:
            status = context.pop("status", 200)
            name = request.query_params.get("name", "")[: forms.MAX_NAME]
            offset = _int(request.query_params.get("offset"), 0)
            try:
                items = await client.page(token, kind, offset, PAGE_SIZE, name)
            except ApiError as exc:
                items = Page([], 0, 0, PAGE_SIZE)
                context.setdefault("error", exc.message)
            context.update(kind=kind, one=KINDS[kind], items=items, name=name, page_size=PAGE_SIZE)
            return render(request, "list.html", context, status)

        async def handle(request: Request, token: str) -> Response:
            if request.method == "GET":
                return await show(request, token)
            data = await form(request)
            values = {"name": str(data.get("name", "")), "metadata": str(data.get("metadata", ""))}
            try:
                spec: dict[str, Any] = {"name": forms.name(values["name"])}
                meta = forms.metadata(values["metadata"])
                if meta is not None:
                    spec["metadata"] = meta
                (created,) = await client.create(token, kind, [spec])
            except forms.FieldError as exc:
                return await show(
                    request, token, errors={exc.field: exc.message}, values=values, status=400
                )
            except ApiError as exc:
                return await show(
                    request, token, error=exc.message, values=values, status=exc.status
                )
            return go(request, f"/{kind}/{created['id']}", "created")

        async def bulk(request: Request, token: str) -> Response:
            data = await form(request)
            upload = data.get("file")
            try:
                if not isinstance(upload, UploadFile):
                    await data.close()
                    raise forms.FieldError("file", "choose a CSV file")
                try:
                    content = await upload.read(forms.MAX_CSV_BYTES + 1)
                finally:
                    await data.close()
                specs = forms.csv_entities(content)
                created = await client.create(token, kind, specs)
            except forms.FieldError as exc:
                return await show(request, token, errors={exc.field: exc.message}, status=400)
            except ApiError as exc:
                return await show(request, token, errors={"file": exc.message}, status=exc.status)
            return (
                go(request, f"/{kind}", "created", name="", offset="")
                if created
                else go(request, f"/{kind}")
            )

        return page(handle), page(bulk)

    def detail(kind: str) -> tuple[Handler, Handler, Handler]:
        other = "channels" if kind == "things" else "things"

        async def show(request: Request, token: str, **context: Any) -> Response:
            status = context.pop("status", 200)
            entity_id = request.path_params["id"]
            try:
                entity = await client.view(token, kind, entity_id)
            except ApiError as exc:
                if exc.status in (400, 404):
                    return render(request, "error.html", {"error": f"No such {KINDS[kind]}."}, 404)
                raise
            connected, candidates = await asyncio.gather(
                client.connections(token, kind, entity_id, 0, PICK_LIMIT),
                client.page(token, other, 0, PICK_LIMIT),
            )
            linked = {item["id"] for item in connected.items}
            context.update(
                kind=kind,
                one=KINDS[kind],
                other=other,
                entity=entity,
                connected=connected,
                candidates=[c for c in candidates.items if c["id"] not in linked],
            )
            context.setdefault(
                "values",
                {
                    "name": entity.get("name", ""),
                    "metadata": orjson.dumps(
                        entity["metadata"], option=orjson.OPT_INDENT_2
                    ).decode()
                    if entity.get("metadata")
                    else "",
                },
            )
            if kind == "things":
                context.update(_thing_context(request, entity, connected))
            else:
                context.update(await _channel_context(request, token, entity, connected))
            return render(request, f"{KINDS[kind]}.html", context, status)

        def _thing_context(request: Request, thing: dict, connected: Page) -> dict[str, Any]:
            chosen = request.query_params.get("channel", "")
            ids = [c["id"] for c in connected.items]
            channel = chosen if chosen in ids else (ids[0] if ids else "")
            snippets = (
                commands(config.endpoints(request), thing["id"], thing["key"], channel)
                if channel
                else {}
            )
            return {"channel": channel, "commands": snippets}

        async def _channel_context(
            request: Request, token: str, channel: dict, connected: Page
        ) -> dict[str, Any]:
            where = config.endpoints(request)
            live = ""
            if connected.items:
                key = connected.items[0]["key"]
                live = f"{where.ws}/channels/{channel['id']}/messages?" + urlencode(
                    {"authorization": key}
                )
            filters = {k: request.query_params.get(k, "")[:256] for k in FILTERS}
            params = {k: v for k, v in filters.items() if v}
            if params.get("from"):
                params["from"] = _epoch(params["from"])
            if params.get("to"):
                params["to"] = _epoch(params["to"])
            params["offset"] = str(_int(request.query_params.get("offset"), 0))
            params["limit"] = str(min(max(_int(request.query_params.get("limit"), 50), 1), 1000))
            history: dict[str, Any] = {"messages": [], "total": 0, "offset": 0, "limit": 50}
            history_error = None
            if config.has_reader:
                try:
                    history = await client.messages(token, channel["id"], params)
                except ApiError as exc:
                    history_error = exc.message
            drawn = chart.svg(chart.series(history["messages"]))
            return {
                "live_url": live,
                "filters": filters,
                "history": history,
                "history_error": history_error,
                "chart": Markup(drawn),
                "has_reader": config.has_reader,
            }

        async def handle(request: Request, token: str) -> Response:
            if request.method == "GET":
                return await show(request, token)
            entity_id = request.path_params["id"]
            data = await form(request)
            values = {"name": str(data.get("name", "")), "metadata": str(data.get("metadata", ""))}
            try:
                name = forms.name(values["name"])
                meta = forms.metadata(values["metadata"])
                await client.update(token, kind, entity_id, name, meta)
            except forms.FieldError as exc:
                return await show(
                    request, token, errors={exc.field: exc.message}, values=values, status=400
                )
            except ApiError as exc:
                return await show(
                    request, token, error=exc.message, values=values, status=exc.status
                )
            return go(request, f"/{kind}/{entity_id}", "saved")

        async def delete(request: Request, token: str) -> Response:
            entity_id = request.path_params["id"]
            if request.method == "GET":
                try:
                    entity = await client.view(token, kind, entity_id)
                except ApiError as exc:
                    if exc.status in (400, 404):
                        return render(
                            request, "error.html", {"error": f"No such {KINDS[kind]}."}, 404
                        )
                    raise
                return render(
                    request, "confirm.html", {"kind": kind, "one": KINDS[kind], "entity": entity}
                )
            await form(request)
            try:
                await client.remove(token, kind, entity_id)
            except ApiError as exc:
                return render(request, "error.html", {"error": exc.message}, exc.status)
            return go(request, f"/{kind}", "deleted")

        async def link(request: Request, token: str) -> Response:
            entity_id = request.path_params["id"]
            data = await form(request)
            target = str(data.get("id", "")).strip()
            action = "connect" if request.url.path.endswith("/connect") else "disconnect"
            if not target:
                return await show(request, token, errors={"connect": "choose one"}, status=400)
            channel, thing = (target, entity_id) if kind == "things" else (entity_id, target)
            try:
                if action == "connect":
                    await client.connect(token, channel, thing)
                else:
                    await client.disconnect(token, channel, thing)
            except ApiError as exc:
                return await show(
                    request, token, errors={"connect": exc.message}, status=exc.status
                )
            return go(request, f"/{kind}/{entity_id}", f"{action}ed")

        return page(handle), page(delete), page(link)

    async def _regenerate(request: Request, token: str) -> Response:
        thing_id = request.path_params["id"]
        await form(request)
        try:
            await client.update_key(token, thing_id, str(uuid.uuid4()))
        except ApiError as exc:
            return render(request, "error.html", {"error": exc.message}, exc.status)
        return go(request, f"/things/{thing_id}", "key")

    # --- bootstrap configs ----------------------------------------------------------

    def bootstrap_required(handler: Callable[[Request, str], Awaitable[Response]]) -> Handler:
        async def run(request: Request, token: str) -> Response:
            if not client.has_bootstrap:
                message = "This deployment has no bootstrap service."
                return render(request, "error.html", {"error": message}, 404)
            return await handler(request, token)

        return page(run)

    async def configs_page(request: Request, token: str, **context: Any) -> Response:
        status = context.pop("status", 200)
        name = request.query_params.get("name", "")[: forms.MAX_NAME]
        offset = _int(request.query_params.get("offset"), 0)
        try:
            items = await client.configs(token, offset, PAGE_SIZE, name)
        except ApiError as exc:
            items = Page([], 0, 0, PAGE_SIZE)
            context.setdefault("error", exc.message)
        channels = await client.page(token, "channels", 0, PICK_LIMIT)
        context.update(items=items, name=name, page_size=PAGE_SIZE, channels=channels.items)
        context.setdefault("chosen", [])
        return render(request, "configs.html", context, status)

    async def configs(request: Request, token: str) -> Response:
        if request.method == "GET":
            return await configs_page(request, token)
        data = await form(request)
        keys = ("external_id", "external_key", "name", "content")
        values = {k: str(data.get(k, "")) for k in keys}
        chosen = [str(c) for c in data.getlist("channels")]
        try:
            spec = {
                "external_id": forms.required(values["external_id"], "external_id"),
                "external_key": forms.required(values["external_key"], "external_key"),
                "name": forms.name(values["name"]),
                "content": forms.content(values["content"]),
                "channels": chosen,
            }
            thing_id = await client.add_config(token, spec)
        except forms.FieldError as exc:
            errors_ = {exc.field: exc.message}
            return await configs_page(
                request, token, errors=errors_, values=values, chosen=chosen, status=400
            )
        except ApiError as exc:
            context = _config_error(exc)
            return await configs_page(
                request, token, values=values, chosen=chosen, status=exc.status, **context
            )
        return go(request, f"/bootstrap/{thing_id}", "created")

    async def config_page(request: Request, token: str, **context: Any) -> Response:
        status = context.pop("status", 200)
        try:
            config = await client.config(token, request.path_params["id"])
        except ApiError as exc:
            if exc.status in (400, 404):
                return render(request, "error.html", {"error": "No such config."}, 404)
            raise
        channels = await client.page(token, "channels", 0, PICK_LIMIT)
        mine = config.get("mainflux_channels") or []
        known = {c["id"] for c in channels.items}
        context.update(
            config=config, channels=channels.items + [c for c in mine if c["id"] not in known]
        )
        context.setdefault("chosen", [c["id"] for c in mine])
        context.setdefault(
            "values", {"name": config.get("name", ""), "content": config.get("content", "")}
        )
        return render(request, "config.html", context, status)

    async def config_edit(request: Request, token: str) -> Response:
        if request.method == "GET":
            return await config_page(request, token)
        thing_id = request.path_params["id"]
        data = await form(request)
        values = {k: str(data.get(k, "")) for k in ("name", "content")}
        chosen = [str(c) for c in data.getlist("channels")]
        try:
            name = forms.name(values["name"])
            text = forms.content(values["content"])
            await client.update_config(token, thing_id, name, text)
            await client.update_config_channels(token, thing_id, chosen)
        except forms.FieldError as exc:
            errors_ = {exc.field: exc.message}
            return await config_page(
                request, token, errors=errors_, values=values, chosen=chosen, status=400
            )
        except ApiError as exc:
            context = _config_error(exc)
            return await config_page(
                request, token, values=values, chosen=chosen, status=exc.status, **context
            )
        return go(request, f"/bootstrap/{thing_id}", "saved")

    async def config_state(request: Request, token: str) -> Response:
        thing_id = request.path_params["id"]
        data = await form(request)
        try:
            state = forms.state(str(data.get("state", "")))
            await client.change_state(token, thing_id, state)
        except forms.FieldError as exc:
            return await config_page(request, token, errors={exc.field: exc.message}, status=400)
        except ApiError as exc:
            errors_ = {"state": exc.message}
            return await config_page(request, token, errors=errors_, status=exc.status)
        return go(request, f"/bootstrap/{thing_id}", "whitelisted" if state else "unlisted")

    # --- errors --------------------------------------------------------------------

    async def logged_out(request: Request, exc: Exception) -> Response:
        response = go(request, "/login")
        if session_token(request):
            end_session(request, response)
        return response

    async def csrf_refused(request: Request, exc: Exception) -> Response:
        message = (
            "This form could not be verified: it is older than this browser's session "
            "or was sent from another site. Reload the page and try again."
        )
        return render(request, "error.html", {"error": message}, 403)

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        status = exc.status if 400 <= exc.status < 600 else 502
        return render(request, "error.html", {"error": exc.message}, status)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = exc.detail if exc.status_code != 404 else "No such page."
        return render(request, "error.html", {"error": message}, exc.status_code)

    async def domain_error(request: Request, exc: Exception) -> Response:
        status = 413 if isinstance(exc, errors.PayloadTooLarge) else 400
        return render(request, "error.html", {"error": str(exc)}, status)

    routes: list[Any] = [
        Route("/", page(home), methods=["GET"]),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/signup", signup, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/account", page(account_page), methods=["GET"]),
        Route("/account/password", page(change_password), methods=["POST"]),
        Route("/account/keys", page(issue_key), methods=["POST"]),
        Route("/account/keys/revoke", page(revoke_key), methods=["POST"]),
        Route("/things/{id}/key", page(_regenerate), methods=["POST"]),
        Route("/bootstrap", bootstrap_required(configs), methods=["GET", "POST"]),
        Route("/bootstrap/{id}", bootstrap_required(config_edit), methods=["GET", "POST"]),
        Route("/bootstrap/{id}/state", bootstrap_required(config_state), methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    for kind in KINDS:
        handle, bulk = listing(kind)
        one, delete, link = detail(kind)
        routes += [
            Route(f"/{kind}", handle, methods=["GET", "POST"]),
            Route(f"/{kind}/bulk", bulk, methods=["POST"]),
            Route(f"/{kind}/{{id}}", one, methods=["GET", "POST"]),
            Route(f"/{kind}/{{id}}/delete", delete, methods=["GET", "POST"]),
            Route(f"/{kind}/{{id}}/connect", link, methods=["POST"]),
            Route(f"/{kind}/{{id}}/disconnect", link, methods=["POST"]),
        ]

    if own_lifespan:  # its own process: /version, /health and /metrics like every service
        routes.extend(service_routes("ui"))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with running(config):
            yield

    app = Starlette(
        routes=routes,
        lifespan=lifespan if own_lifespan else None,
        exception_handlers={
            _LoggedOut: logged_out,
            CsrfRefused: csrf_refused,
            ApiError: api_error,
            HTTPException: http_error,
            errors.MainfluxError: domain_error,
        },
    )
    app.add_middleware(BodyLimitMiddleware, max_body=MAX_BODY)
    return app


@contextlib.asynccontextmanager
async def running(config: ConsoleConfig) -> AsyncIterator[None]:
    """Follow the event feed while the console runs; close the client after."""
    try:
        async with following(config.feed):
            yield
    finally:
        await config.client.close()


async def _sum(calls: Any) -> int:
    pages = await asyncio.gather(*calls)
    return sum(p.total if isinstance(p, Page) else int(p) for p in pages)


async def _total_messages(client: PlatformClient, token: str, channel_id: str) -> int:
    try:
        body = await client.messages(token, channel_id, {"limit": "1"})
    except ApiError:
        return 0
    return int(body.get("total", 0))


def _config_error(exc: ApiError) -> dict[str, Any]:
    """Where a refused config goes on the page: a taken external id next to that field,
    a bad channel next to the channels, anything else at the top."""
    if exc.status == 409:
        return {"errors": {"external_id": exc.message}}
    if "channel" in exc.message.lower():
        return {"errors": {"channels": exc.message}}
    return {"error": exc.message}


def _int(raw: str | None, default: int) -> int:
    if raw is None or not raw.isdigit():
        return default
    return min(int(raw), 10**9)


def _policy(ws_url: str) -> str:
    """Scripts, styles and images from the console only; sockets to it and the WebSocket
    adapter; no framing; forms post back to the console."""
    origin = "/".join(ws_url.split("/", 3)[:3])
    return (
        f"default-src 'self'; connect-src 'self' {origin}; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    )


def _route_path(request: Request) -> str:
    """The request's path inside the console (without the ``/ui`` it is served under)."""
    path, root = request.scope["path"], request.scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root + "/") else path


def _timestamp(moment: Any) -> str:
    """Seconds since the epoch as ``YYYY-MM-DD HH:MM:SS`` (UTC)."""
    try:
        return datetime.fromtimestamp(float(moment), UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError, OverflowError, OSError):
        return str(moment)


def _epoch(raw: str) -> str:
    """A ``datetime-local`` value (UTC) or seconds, as seconds since the epoch."""
    try:
        return str(float(raw))
    except ValueError:
        pass
    try:
        return str(datetime.fromisoformat(raw).replace(tzinfo=UTC).timestamp())
    except ValueError:
        return raw  # the reader names the bad parameter
