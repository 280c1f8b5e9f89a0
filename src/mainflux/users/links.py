"""Where password-reset links point: ``MF_USERS_RESET_URL``, else the users service's own
``/password/reset`` page.

Kept apart from the service's ``main`` so the all-in-one settings can use it without
loading the users service."""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

#: The path of the page the users service serves for reset links.
RESET_PATH: Final = "/password/reset"


def check_reset_url(value: str) -> None:
    """Accept an empty value (unset) or an absolute ``http``/``https`` URL; raise
    ``ValueError`` otherwise (a settings ``check``)."""
    if not value:
        return
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL, got {value!r}")


def reset_url(host: str, port: int, *, tls: bool = False, configured: str = "") -> str:
    """The page password-reset links point at: ``configured`` (``MF_USERS_RESET_URL``,
    already checked) when set, else ``http(s)://<host>:<port>/password/reset``
    (``localhost`` for a wildcard ``host``)."""
    if configured:
        return configured
    if host in ("", "0.0.0.0", "::"):
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"
    return f"http{'s' if tls else ''}://{host}:{port}{RESET_PATH}"
