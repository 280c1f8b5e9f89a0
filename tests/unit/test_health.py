"""``/health``: cached, bounded probe rounds and the answers it documents."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from mainflux.core.config import ConfigError
from mainflux.core.health import HealthChecks, Timing, answering_probe, watching
from mainflux.core.http import create_app


def counting() -> tuple[list[int], object]:
    calls: list[int] = []

    async def probe() -> None:
        calls.append(1)

    return calls, probe


async def test_a_burst_of_requests_costs_one_probe_round_per_interval() -> None:
    checks = HealthChecks()
    calls, probe = counting()
    checks.add("database", probe)  # type: ignore[arg-type]
    timing = Timing(interval=3600, timeout=1)
    sequential = [await checks.results(timing) for _ in range(20)]
    concurrent = await asyncio.gather(*(checks.results(timing) for _ in range(50)))
    assert sequential[-1] == concurrent[-1] == {"database": None}
    assert len(calls) == 1


async def test_concurrent_requests_share_one_round() -> None:
    checks = HealthChecks()
    calls, probe = counting()
    checks.add("nats", probe)  # type: ignore[arg-type]
    timing = Timing(interval=0.1, timeout=1)
    await asyncio.gather(*(checks.results(timing) for _ in range(50)))
    assert len(calls) == 1


async def test_a_probe_that_hangs_is_cut_and_named() -> None:
    checks = HealthChecks()

    async def hangs() -> None:
        await asyncio.Event().wait()

    async def fails() -> None:
        raise ConnectionRefusedError("connection refused")

    checks.add("database", hangs)
    checks.add("nats", fails)
    results = await checks.results(Timing(interval=1, timeout=0.1))
    assert results == {
        "database": "no answer within 0.1 s",
        "nats": "ConnectionRefusedError: connection refused",
    }


async def test_a_refusal_shows_the_service_answers_only_down_fails() -> None:
    class Down(Exception):
        pass

    async def refuses() -> None:
        raise PermissionError("unknown key")

    async def down() -> None:
        raise Down("unavailable")

    await answering_probe(refuses, down=Down)()
    with pytest.raises(Down):
        await answering_probe(down, down=Down)()


def client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t")  # type: ignore[arg-type]


async def test_health_answers_503_naming_the_dependency_and_200_without_it() -> None:
    async def database() -> None:
        raise OSError("database refuses connections")

    app = create_app("things", [])
    async with client(app) as http:
        with watching({"database": database, "cache": None}):
            answer = await http.get("/health")
            assert answer.status_code == 503
            assert answer.json()["status"] == "fail"
            assert answer.json()["service"] == "things" and answer.json()["version"]
            assert answer.json()["checks"] == {
                "database": {"status": "fail", "error": "OSError: database refuses connections"}
            }
        answer = await http.get("/health")
        assert answer.status_code == 200
        assert answer.json()["status"] == "pass" and answer.json()["checks"] == {}


def test_health_documents_both_answers() -> None:
    document = create_app("things", []).state.openapi()
    answers = document["paths"]["/health"]["get"]["responses"]
    assert set(answers) == {"200", "503"}
    schema = {"$ref": "#/components/schemas/Health"}
    assert answers["200"]["content"]["application/json"]["schema"] == schema
    assert answers["503"]["content"]["application/json"]["schema"] == schema
    assert "checks" in document["components"]["schemas"]["Health"]["properties"]


@pytest.mark.parametrize("value", ["0", "-1", "soon"], ids=["zero", "negative", "word"])
def test_a_bad_health_interval_stops_startup_naming_it(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MF_HEALTH_INTERVAL", value)
    with pytest.raises(ConfigError, match="MF_HEALTH_INTERVAL"):
        create_app("things", [])


def test_the_sdk_reads_what_is_down_and_shrugs_at_a_malformed_checks_field() -> None:
    from mainflux.sdk.models import Health

    body = {
        "status": "fail",
        "service": "things",
        "version": "0.11.0",
        "checks": {
            "nats": {"status": "fail", "error": "not connected"},
            "database": {"status": "pass"},
        },
    }
    health = Health.from_json(body)
    assert (health.status, health.checks) == ("fail", {"nats": "not connected", "database": None})
    assert Health.from_json({"status": "pass", "checks": ["nonsense"]}).checks == {}
    assert Health.from_json({"status": "pass"}).checks == {}, "Mainflux's shape: no checks"
