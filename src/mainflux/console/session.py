"""The console's cookies: the session (the platform's own login token) and the CSRF token.

Both are HttpOnly and SameSite. Every form carries the CSRF token in a hidden ``csrf``
field, which must equal the ``mf_csrf`` cookie (a double-submitted random value): a form
posted from another site cannot know it, and SameSite keeps the cookie from riding
along anyway."""

from __future__ import annotations

import hmac
import re
import secrets
from typing import Final

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE: Final = "mf_session"
CSRF_COOKIE: Final = "mf_csrf"
CSRF_FIELD: Final = "csrf"
#: Fields and files a console form may carry (more is refused as a malformed request).
MAX_FIELDS: Final = 64
MAX_FILES: Final = 1
_TOKEN: Final = re.compile(r"[A-Za-z0-9_-]{43}")


class CsrfRefused(Exception):
    """A form came without the CSRF token of this browser."""


def cookie_path(request: Request) -> str:
    """The path the console is served under (``/ui`` in the all-in-one)."""
    return request.scope.get("root_path", "") or "/"


def _secure(request: Request, secure: bool | None) -> bool:
    return request.url.scheme == "https" if secure is None else secure


def csrf_token(request: Request) -> str:
    """This browser's CSRF token; a new one is made (and later set) when it has none."""
    token = request.cookies.get(CSRF_COOKIE, "")
    if not _TOKEN.fullmatch(token):  # absent, or not one of ours: a new one
        token = getattr(request.state, "new_csrf", "")
    if not token:
        token = secrets.token_urlsafe(32)
        request.state.new_csrf = token
    return str(token)


def finish(request: Request, response: Response, secure: bool | None) -> Response:
    """Set the CSRF cookie on ``response`` when this request made the token."""
    token = getattr(request.state, "new_csrf", None)
    if token:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            path=cookie_path(request),
            httponly=True,
            samesite="strict",
            secure=_secure(request, secure),
        )
    return response


async def checked_form(request: Request, max_part_size: int) -> FormData:
    """The posted form, after checking its CSRF token. Raises :class:`CsrfRefused`.

    The caller closes a form that carries a file (``await form.close()``)."""
    form = await request.form(
        max_files=MAX_FILES, max_fields=MAX_FIELDS, max_part_size=max_part_size
    )
    sent = form.get(CSRF_FIELD)
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not isinstance(sent, str) or not expected or not hmac.compare_digest(sent, expected):
        await form.close()
        raise CsrfRefused()
    return form


def session_token(request: Request) -> str:
    """The login token of the session cookie (``""`` when logged out)."""
    return request.cookies.get(SESSION_COOKIE, "")


def start_session(request: Request, response: Response, token: str, secure: bool | None) -> None:
    """Keep the login token in an HttpOnly, SameSite cookie."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        path=cookie_path(request),
        httponly=True,
        samesite="lax",
        secure=_secure(request, secure),
    )


def end_session(request: Request, response: Response) -> None:
    """Forget the login token."""
    response.delete_cookie(SESSION_COOKIE, path=cookie_path(request))
