"""How a service reads another service's answers (``core.remote.call_service``): a
small real app in process, and a port nothing listens on."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mainflux.core.errors import (
    Conflict,
    MainfluxError,
    MalformedEntity,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from mainflux.core.remote import call_service
from tests.servers import free_port


async def _answer(request: Request) -> Response:
    status = int(request.path_params["status"])
    body = request.query_params.get("body", '{"error": "said by the service"}')
    return Response(body, status, media_type="application/json")


async def _echo_token(request: Request) -> Response:
    return Response(request.headers.get("authorization", "<none>"))


APP = Starlette(
    routes=[
        Route("/status/{status}", _answer, methods=["GET", "DELETE"]),
        Route("/token", _echo_token),
    ]
)


def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url="http://svc", transport=httpx.ASGITransport(app=APP))


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, MalformedEntity),
        (403, Unauthorized),
        (404, NotFound),
        (409, Conflict),
        (422, Conflict),
    ],
    ids=["400", "403", "404", "409", "422"],
)
async def test_a_refusal_is_the_domain_error_with_the_services_message(
    status: int, error: type[MainfluxError]
) -> None:
    async with _client() as client:
        with pytest.raises(error, match="said by the service"):
            await call_service(client, "GET", f"/status/{status}", service="svc")


@pytest.mark.parametrize(
    "body", ["not json", "[1, 2]", '{"no": "error"}'], ids=["text", "list", "other"]
)
async def test_an_unreadable_error_body_gives_the_errors_own_message(body: str) -> None:
    async with _client() as client:
        with pytest.raises(NotFound) as refused:
            url = f"/status/404?{urlencode({'body': body})}"
            await call_service(client, "GET", url, service="svc")
    assert str(refused.value) == NotFound.message


async def test_an_expected_status_is_an_answer_and_a_strange_one_is_unavailable() -> None:
    async with _client() as client:
        answered = await call_service(client, "DELETE", "/status/404", service="svc", ok=(404,))
        assert answered.status_code == 404
        with pytest.raises(ServiceUnavailable, match="svc answered 500"):
            await call_service(client, "GET", "/status/500", service="svc")


async def test_the_token_is_sent_only_when_there_is_one() -> None:
    async with _client() as client:
        with_token = await call_service(client, "GET", "/token", service="svc", token="t-1")
        without = await call_service(client, "GET", "/token", service="svc")
    assert (with_token.text, without.text) == ("t-1", "<none>")


async def test_a_service_nobody_answers_for_is_unavailable() -> None:
    async with httpx.AsyncClient(timeout=2) as client:
        with pytest.raises(ServiceUnavailable, match="cannot reach the things service"):
            await call_service(
                client,
                "GET",
                f"http://127.0.0.1:{free_port()}/",
                service="the things service",
            )
