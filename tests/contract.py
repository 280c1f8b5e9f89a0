"""Contract fuzzing: schemathesis drives every operation of a running platform's OpenAPI
document with generated valid and invalid requests and checks each answer against it.

Used by ``tests/e2e/test_contract.py`` (a few examples per operation, in ``make test``)
and ``benchmarks/fuzz.py`` (as many as asked). Management calls carry a real user's
login token, message calls a real thing key connected to a real channel, bootstrap
calls the external key of a real bootstrap config of that thing (in clear, or encrypted
with the service's key for secure bootstrap); the ids are offered to the path
parameters so generated requests also reach existing entities."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from mainflux.bootstrap import crypto
from mainflux.bootstrap.settings import DEFAULT_ENCRYPT_KEY

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@dataclass(frozen=True)
class Credentials:
    """What the fuzzer authenticates with, and real ids for path parameters."""

    user_token: str
    thing_key: str
    thing_id: str
    channel_id: str
    #: The thing's bootstrap config (empty when the platform runs no bootstrap).
    external_id: str = ""
    external_key: str = ""
    #: ``external_key`` as secure bootstrap takes it: hex(IV ‖ AES-CFB(key)).
    encrypted_key: str = ""


@dataclass
class Finding:
    """One distinct failure: the operation, what failed and how to reproduce it."""

    operation: str
    title: str
    detail: str


@dataclass
class Report:
    """What a fuzz run did and found."""

    operations: int = 0
    requests: int = 0
    server_errors: int = 0
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    #: Per operation, how many answers of each status.
    statuses: dict[str, Counter[int]] = field(default_factory=dict)

    def summary(self) -> str:
        """One line of figures."""
        return (
            f"{self.operations} operations, {self.requests} requests, "
            f"{self.server_errors} answers 5xx, {len(self.findings)} distinct findings, "
            f"{self.seconds:.1f} s"
        )


def provision(base_url: str, encrypt_key: str = DEFAULT_ENCRYPT_KEY) -> Credentials:
    """Register a user, log in, create a thing and a channel and connect them, and add
    a bootstrap config for the thing when the platform has bootstrap (``encrypt_key``:
    its ``MF_BOOTSTRAP_ENCRYPT_KEY``)."""
    email = f"fuzz-{uuid.uuid4().hex[:12]}@example.com"
    password = f"pw-{uuid.uuid4().hex}"
    with httpx.Client(base_url=base_url, timeout=30) as client:
        client.post("/users", json={"email": email, "password": password}).raise_for_status()
        login = client.post("/tokens", json={"email": email, "password": password})
        token = login.raise_for_status().json()["token"]
        auth = {"Authorization": token}
        things = client.post("/things/bulk", json=[{"name": "fuzz"}], headers=auth)
        thing = things.raise_for_status().json()["things"][0]
        channels = client.post("/channels/bulk", json=[{"name": "fuzz"}], headers=auth)
        channel = channels.raise_for_status().json()["channels"][0]
        connect = {"channel_ids": [channel["id"]], "thing_ids": [thing["id"]]}
        client.post("/connect", json=connect, headers=auth).raise_for_status()
        external_id, external_key = f"fuzz-{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
        config = {
            "external_id": external_id,
            "external_key": external_key,
            "thing_id": thing["id"],
            "channels": [channel["id"]],
        }
        added = client.post("/things/configs", json=config, headers=auth)
        if added.status_code in (404, 405):  # no bootstrap here
            return Credentials(token, thing["key"], thing["id"], channel["id"])
        added.raise_for_status()
    encrypted = crypto.encrypt(crypto.parse_key(encrypt_key), external_key.encode()).hex()
    return Credentials(
        token, thing["key"], thing["id"], channel["id"], external_id, external_key, encrypted
    )


def _authorize(operation: Any, credentials: Credentials) -> dict[str, str]:
    schemes = {name for req in operation.definition.raw.get("security", []) for name in req}
    if "thingKey" in schemes:
        return {"Authorization": credentials.thing_key}
    if "externalKey" in schemes:
        return {"Authorization": credentials.external_key}
    if "encryptedExternalKey" in schemes:
        return {"Authorization": credentials.encrypted_key}
    if schemes:
        return {"Authorization": credentials.user_token}
    return {}


def _real_ids(operation: Any, credentials: Credentials) -> dict[str, Any]:
    """Path parameters drawn from the real ids (or generated, half the time)."""
    names = [
        p["name"] for p in operation.definition.raw.get("parameters", []) if p.get("in") == "path"
    ]
    ids = {
        "chan_id": credentials.channel_id,
        "channel": credentials.channel_id,
        "thing_id": credentials.thing_id,
        "external_id": credentials.external_id,
    }
    path = operation.path
    real = credentials.thing_id if path.startswith("/things") else credentials.channel_id
    return {name: ids.get(name, real) for name in names if name != "subtopic"}


def fuzz(
    base_url: str,
    credentials: Credentials,
    *,
    max_examples: int,
    random_seed: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Fuzz every operation of ``base_url``'s ``/openapi.json`` (removals last):
    ``max_examples`` valid requests each, and as many invalid ones where a body or query
    can be invalid; report the figures and the distinct findings."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    session = requests.Session()
    report = Report()
    started = time.monotonic()
    # Removals last, so the real entities are still there for every other operation.
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()),
        key=lambda op: op.method.upper() == "DELETE",
    )
    for operation in operations:
        report.operations += 1
        raw = operation.definition.raw
        negatable = "requestBody" in raw or any(
            p.get("in") == "query" for p in raw.get("parameters", [])
        )
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if negatable else [])
        for mode in modes:
            strategies = [operation.as_strategy(generation_mode=mode)]
            real = _real_ids(operation, credentials)
            if real and mode == GenerationMode.POSITIVE:
                strategies.append(operation.as_strategy(generation_mode=mode, path_parameters=real))
            run = _runner(
                st.one_of(strategies),
                base_url,
                session,
                _authorize(operation, credentials),
                f"{operation.method.upper()} {operation.path}",
                report,
                max_examples,
            )
            if random_seed is not None:
                run = seed(random_seed)(run)
            try:
                run()
            except Unsatisfiable:  # nothing of this operation can be made invalid
                continue
        if progress is not None:
            elapsed = time.monotonic() - started
            label = f"{operation.method.upper()} {operation.path}"
            progress(f"{label}: {report.requests} requests so far, {elapsed:.1f} s")
    report.seconds = time.monotonic() - started
    session.close()
    return report


def _runner(
    cases: Any,
    base_url: str,
    session: requests.Session,
    headers: dict[str, str],
    label: str,
    report: Report,
    max_examples: int,
) -> Callable[[], None]:
    """A hypothesis test sending each generated case and noting what fails."""

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        print_blob=False,
    )
    @given(case=cases)
    def run(case: Any) -> None:
        case.headers = {**(case.headers or {}), **headers}
        response = case.call(base_url=base_url, session=session, timeout=30)
        report.requests += 1
        report.statuses.setdefault(label, Counter())[response.status_code] += 1
        if response.status_code >= 500:
            report.server_errors += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:  # a check failed: note it, go on
            text = str(exc)
            title = next((ln for ln in text.splitlines() if ln.startswith("- ")), text)
            if (label, title) not in {(f.operation, f.title) for f in report.findings}:
                report.findings.append(Finding(label, title, text[:3000]))

    return run
