"""Small raw-ASGI helpers shared by the ASGI adapters' (HTTP, WebSocket) hot paths."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote

from starlette.types import Scope, Send


def _strip_root(path: str, root: str) -> str:
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root) :]
    return path


def request_path(scope: Scope) -> tuple[str, bool]:
    """The request path below ``root_path`` and whether it is still percent-escaped.

    Works whether a mounting gateway left the prefix in ``path`` (Starlette's way) or
    stripped it. The escaped (raw) form is preferred so the subtopic rules can unescape
    exactly once; when no trustworthy raw path exists the decoded one is returned."""
    root = scope.get("root_path", "")
    path = _strip_root(scope["path"], root)
    raw_bytes = scope.get("raw_path")
    if raw_bytes:
        raw = _strip_root(raw_bytes.decode("latin-1"), root)
        if raw == path or unquote(raw) == path:
            return raw, True
    return path, False


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of header ``name`` (lower case), or ``None``."""
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


def client_address(scope: Scope) -> str:
    """The client's ``host:port`` as the server saw it (for log lines)."""
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "an unknown client"


def query_param(query: bytes, name: str) -> str | None:
    """The first value of ``name`` in a raw query string, unescaped."""
    for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if key == name:
            return value
    return None


async def respond(
    send: Send, status: int, headers: Iterable[tuple[bytes, bytes]] = (), body: bytes = b""
) -> None:
    """Send a complete response with ``content-length``."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})
