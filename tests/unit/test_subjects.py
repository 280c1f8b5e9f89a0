"""NATS subject rules, one module for every bus; the NATS and JetStream buses do not
borrow them from the in-process bus."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from mainflux.core.errors import MalformedEntity
from mainflux.messaging.subjects import is_filter, matches, subject_tokens

MESSAGING = Path(__file__).resolve().parents[2] / "src" / "mainflux" / "messaging"

MATCHES = [
    ("exact", "channels.a", "channels.a", True),
    ("other token", "channels.a", "channels.b", False),
    ("star is one token", "channels.*", "channels.a", True),
    ("star is not two", "channels.*", "channels.a.b", False),
    ("star is not none", "channels.*", "channels", False),
    ("gt is one", "channels.>", "channels.a", True),
    ("gt is many", "channels.>", "channels.a.b.c", True),
    ("gt is not none", "channels.>", "channels", False),
    ("star then gt", "channels.*.>", "channels.a.b", True),
    ("longer subject", "channels.a", "channels.a.b", False),
]


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"), [m[1:] for m in MATCHES], ids=[m[0] for m in MATCHES]
)
def test_matching_follows_nats(pattern: str, subject: str, expected: bool) -> None:
    tokens = subject_tokens(subject, wildcards=False)
    assert matches(subject_tokens(pattern, wildcards=True), tokens) is expected


@pytest.mark.parametrize("subject", ["", "a..b", ".a", "a.", "a.>.b"])
def test_a_malformed_subscription_subject_is_refused(subject: str) -> None:
    with pytest.raises(MalformedEntity):
        subject_tokens(subject, wildcards=True)


def test_without_wildcards_gt_is_a_token() -> None:
    assert subject_tokens("a.>.b", wildcards=False) == ("a", ">", "b")


FILTERS = [
    ("all channels", "channels.>", True),
    ("one channel", "channels.c1", True),
    ("star", "channels.*.temp", True),
    ("gt not last", "channels.>.a", False),
    ("partial star", "channels.a*", False),
    ("partial gt", "channels.a>", False),
    ("space", "channels. x", False),
    ("empty token", "channels..a", False),
    ("empty", "", False),
]


@pytest.mark.parametrize(("subject", "ok"), [f[1:] for f in FILTERS], ids=[f[0] for f in FILTERS])
def test_a_configured_filter_must_be_what_a_person_meant(subject: str, ok: bool) -> None:
    assert is_filter(subject) is ok


def _imported(module: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("module", ["nats.py", "jetstream.py"])
def test_the_nats_buses_do_not_import_the_in_process_bus(module: str) -> None:
    assert "mainflux.messaging.inproc" not in _imported(MESSAGING / module)
