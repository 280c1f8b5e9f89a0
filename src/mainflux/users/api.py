"""The users HTTP API: accounts, tokens, profile and passwords (Mainflux's routes), plus
the page reset links point at by default (``GET /password/reset``).

Conflicts answer 409 here (things uses 422). A reset request needs no ``Referer``: the
link's page is configured (``MF_USERS_RESET_URL``)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from mainflux.core.endpoints import USER, Endpoint, Reply
from mainflux.core.errors import Conflict, MalformedEntity, Unauthorized
from mainflux.core.http import auth_header, empty_response, json_response
from mainflux.core.http import create_app as create_service_app
from mainflux.core.limits import MAX_JSON_DEPTH, check_json_depth
from mainflux.users.reset_page import reset_page
from mainflux.users.service import UsersService

SERVICE_NAME = "users"
TAGS = ("users",)

Email = Annotated[str, msgspec.Meta(examples=["john.doe@example.com"])]
Password = Annotated[
    str,
    msgspec.Meta(description="8 characters to 72 bytes (UTF-8).", examples=["12345678"]),
]
Metadata = Annotated[
    dict[str, Any],
    msgspec.Meta(
        description=f"Free-form JSON object, nested at most {MAX_JSON_DEPTH} levels.",
        examples=[{"role": "admin"}],
    ),
]


class NewUser(msgspec.Struct, kw_only=True):
    """An account to register."""

    email: Email
    password: Password
    metadata: Metadata | None = None


class Credentials(msgspec.Struct, kw_only=True):
    """A user's email and password."""

    email: Email
    password: Password


class Token(msgspec.Struct):
    """A login token, valid for 10 hours; send it as `Authorization`."""

    token: str


class UserView(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The caller's account (`metadata` only when set)."""

    email: str
    metadata: Metadata | None = None


class UserUpdate(msgspec.Struct, kw_only=True):
    """New metadata; it replaces the old."""

    metadata: Metadata | None = None


class ResetRequest(msgspec.Struct, kw_only=True):
    """Whose password to reset."""

    email: Email


class PasswordReset(msgspec.Struct, kw_only=True):
    """A new password with the recovery token the reset e-mail carried."""

    token: str
    password: Password
    confirm_password: Password


class PasswordChange(msgspec.Struct, kw_only=True):
    """A new password and the current one."""

    password: Password
    old_password: Annotated[
        str, msgspec.Meta(description="The current password.", examples=["12345678"])
    ] = ""


class Notice(msgspec.Struct):
    """A short message."""

    msg: str


def _metadata(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None:
        check_json_depth(value)
    return value


def create_app(service: UsersService) -> Starlette:
    """The users HTTP app (service name ``users``) over ``service``."""

    async def register(request: Request, body: NewUser) -> Response:
        """Creates an account; the email must be free (409 otherwise)."""
        await service.register(body.email, body.password, _metadata(body.metadata))
        return empty_response(201)

    async def login(request: Request, body: Credentials) -> Response:
        """Answers a login token for the account's credentials (403 when wrong)."""
        token = await service.login(body.email, body.password)
        return json_response(Token(token), 201)

    async def view(request: Request) -> Response:
        """The account of the token's owner."""
        user = await service.view(auth_header(request))
        return json_response(UserView(email=user.email, metadata=user.metadata or None))

    async def update(request: Request, body: UserUpdate) -> Response:
        """Replaces the account's metadata. The Content-Type is not checked."""
        await service.update(auth_header(request), _metadata(body.metadata))
        return empty_response(200)

    async def reset_request(request: Request, body: ResetRequest) -> Response:
        """E-mails a password-reset link to the account's address."""
        if not body.email:
            raise MalformedEntity("email is required")
        await service.request_password_reset(body.email)
        return json_response(Notice("Email with reset link is sent"), 201)

    async def reset(request: Request, body: PasswordReset) -> Response:
        """Sets a new password with the recovery token of a reset link."""
        if not body.password or not body.confirm_password:
            raise MalformedEntity("password and confirm_password are required")
        if body.password != body.confirm_password:
            raise MalformedEntity("passwords do not match")
        await service.reset_password(body.token, body.password)
        return json_response(Notice(""), 201)

    async def change_password(request: Request, body: PasswordChange) -> Response:
        """Changes the caller's password; the old one must match (403 otherwise)."""
        token = auth_header(request)
        if not token:
            raise Unauthorized()
        await service.change_password(token, body.password, body.old_password)
        return json_response(Notice(""), 201)

    login_example = {"email": "john.doe@example.com", "password": "12345678"}
    routes = [
        Endpoint(
            "POST",
            "/users",
            register,
            summary="Register a user",
            tags=TAGS,
            body=NewUser,
            body_example=login_example,
            ok=Reply(201, "Registered."),
            errors={409: "The email is taken."},
        ),
        Endpoint(
            "GET",
            "/users",
            view,
            summary="View the caller's account",
            tags=TAGS,
            security=USER,
            ok=Reply(200, "The account.", UserView),
        ),
        Endpoint(
            "PUT",
            "/users",
            update,
            summary="Update the caller's metadata",
            tags=TAGS,
            body=UserUpdate,
            check_content_type=False,
            security=USER,
            body_example={"metadata": {"role": "admin"}},
            ok=Reply(200, "Updated."),
        ),
        Endpoint(
            "POST",
            "/tokens",
            login,
            summary="Log in",
            tags=TAGS,
            body=Credentials,
            body_example=login_example,
            ok=Reply(201, "A login token.", Token),
            errors={403: "Wrong email or password."},
        ),
        Endpoint(
            "POST",
            "/password/reset-request",
            reset_request,
            tags=TAGS,
            summary="Ask for a password-reset e-mail",
            body=ResetRequest,
            body_example={"email": "john.doe@example.com"},
            ok=Reply(201, "The e-mail is on its way.", Notice),
        ),
        Endpoint(
            "PUT",
            "/password/reset",
            reset,
            summary="Reset a password",
            tags=TAGS,
            body=PasswordReset,
            ok=Reply(201, "The password is changed.", Notice),
            errors={403: "The recovery token is invalid or expired."},
        ),
        Endpoint(
            "GET",
            "/password/reset",
            reset_page,
            summary="The password-reset page",
            tags=TAGS,
            ok=Reply(200, "An HTML form.", str, "text/html"),
        ),
        Endpoint(
            "PATCH",
            "/password",
            change_password,
            summary="Change the caller's password",
            tags=TAGS,
            body=PasswordChange,
            security=USER,
            body_example={"password": "87654321", "old_password": "12345678"},
            ok=Reply(201, "The password is changed.", Notice),
        ),
    ]
    return create_service_app(SERVICE_NAME, routes, error_status={Conflict: 409})
