"""A service calling another service's HTTP API: one way to read its answers.

Bootstrap calls things, provision calls users, things and bootstrap, the reader asks
things who owns a channel. Each answer is a response (2xx, or a status the caller
expects), a domain error by the status's usual meaning (the body's ``error`` as its
message), or ``ServiceUnavailable`` when the service cannot be reached or answers
anything else."""

from __future__ import annotations

from typing import Any, Final

import httpx

from mainflux.core.errors import (
    Conflict,
    MainfluxError,
    MalformedEntity,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)

STATUS_ERRORS: Final[dict[int, type[MainfluxError]]] = {
    400: MalformedEntity,
    403: Unauthorized,
    404: NotFound,
    409: Conflict,
    422: Conflict,
}


async def call_service(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    service: str,
    token: str = "",
    body: Any = None,
    ok: tuple[int, ...] = (),
) -> httpx.Response:
    """``method url`` with ``token`` as ``Authorization`` and ``body`` as JSON; the
    response when it is 2xx or in ``ok``, else the error its status means (see the
    module doc). ``service`` names the callee in the errors' messages."""
    headers = {"Authorization": token} if token else {}
    try:
        response = await client.request(method, url, headers=headers, json=body)
    except httpx.HTTPError:
        raise ServiceUnavailable(f"cannot reach {service}") from None
    status = response.status_code
    if status < 300 or status in ok:
        return response
    error = STATUS_ERRORS.get(status)
    if error is None:
        raise ServiceUnavailable(f"{service} answered {status}")
    try:
        message = str(response.json()["error"])
    except (ValueError, KeyError, TypeError):
        message = None
    raise error(message)
