"""Contract fuzzing of a running all-in-one platform (``mainflux run``): every operation
of its merged OpenAPI document, driven by schemathesis with a few valid and invalid
requests each (``MF_FUZZ_EXAMPLES``, default 5), answers no 5xx and only what the
document says. ``benchmarks/fuzz.py`` runs the same for longer."""

from __future__ import annotations

import os

import httpx
from openapi_spec_validator import validate

from tests.contract import fuzz, provision
from tests.e2e.conftest import Platform


def test_every_operation_answers_as_documented(platform: Platform) -> None:
    document = httpx.get(f"{platform.url}/openapi.json").json()
    validate(document)
    assert "/mqtt" in document["paths"], "MQTT over WebSocket is documented"
    examples = int(os.environ.get("MF_FUZZ_EXAMPLES", "5"))
    key = (platform.data_dir / "bootstrap.key").read_text().strip()
    report = fuzz(platform.url, provision(platform.url, key), max_examples=examples, random_seed=1)
    print(report.summary())
    assert report.operations == sum(len(ops) for ops in document["paths"].values())
    assert report.requests >= report.operations * min(examples, 2)
    assert report.server_errors == 0
    assert report.findings == [], "\n\n".join(f.detail for f in report.findings)


def test_the_reference_page_works_offline(platform: Platform) -> None:
    with httpx.Client(base_url=platform.url) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        assert "https://" not in page.text and "http://" not in page.text
        script = client.get("/docs/swagger-ui-bundle.js")
        assert script.status_code == 200
        assert script.headers["content-type"].startswith("text/javascript")
        assert b"SwaggerUIBundle" in script.content
