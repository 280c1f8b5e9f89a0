"""The subtopic rules of MAINFLUX.md §2.3 (with the project's decisions), one table per rule."""

from __future__ import annotations

import pytest

from mainflux.core.errors import MalformedEntity
from mainflux.messaging.subtopic import (
    has_wildcard,
    message_topic,
    normalize_subtopic,
    parse_topic,
    subtopic_path,
)

CH = "3e8f5a1c-0b7d-4c55-9c1b-1d2e3f4a5b6c"

# Rule 1: the path shape; the channel id is [A-Za-z0-9_-]+; anything after ? is ignored.
PATHS = [
    ("plain", f"/channels/{CH}/messages", (CH, "")),
    ("no leading slash", f"channels/{CH}/messages", (CH, "")),
    ("underscore id", "/channels/a_b-C9/messages", ("a_b-C9", "")),
    ("query ignored", f"/channels/{CH}/messages?x=1", (CH, "")),
    ("query after subtopic", f"/channels/{CH}/messages/a/b?x=1/c", (CH, "a.b")),
    ("trailing slash", f"/channels/{CH}/messages/", (CH, "")),
    ("dot in id", "/channels/a.b/messages", None),
    ("escaped id", "/channels/a%20b/messages", None),
    ("empty id", "/channels//messages", None),
    ("wrong collection", f"/channel/{CH}/messages", None),
    ("suffix junk", f"/channels/{CH}/messagesX", None),
    ("no messages", f"/channels/{CH}", None),
    ("prefix junk", f"/x/channels/{CH}/messages", None),
]


@pytest.mark.parametrize(("path", "expected"), [c[1:] for c in PATHS], ids=[c[0] for c in PATHS])
def test_rule1_path_shape(path: str, expected: tuple[str, str] | None) -> None:
    if expected is None:
        with pytest.raises(MalformedEntity):
            parse_topic(path)
    else:
        assert parse_topic(path) == expected, path


# Rule 2: HTTP, WS and MQTT query-unescape the subtopic; CoAP does not.
UNESCAPE = [
    ("percent letter", "%41b", True, "Ab"),
    ("escaped slash splits", "a%2Fb", True, "a.b"),
    ("escaped dot splits", "a%2Eb", True, "a.b"),
    ("utf-8", "temp%C3%A9rature", True, "température"),
    ("coap keeps percent", "%41b", False, "%41b"),
    ("coap keeps plus", "a+b", False, "a+b"),
    ("broken escape", "a%zzb", True, None),
    ("truncated escape", "a%4", True, None),
    ("invalid utf-8", "a%ff", True, None),
]


@pytest.mark.parametrize(
    ("raw", "unescape", "expected"), [c[1:] for c in UNESCAPE], ids=[c[0] for c in UNESCAPE]
)
def test_rule2_unescape(raw: str, unescape: bool, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(MalformedEntity):
            normalize_subtopic(raw, unescape=unescape)
    else:
        assert normalize_subtopic(raw, unescape=unescape) == expected, raw


# Rule 3: / becomes ., split on ., empty elements dropped.
SPLIT = [
    ("slashes", "a/b/c", "a.b.c"),
    ("double slash", "a//b", "a.b"),
    ("outer slashes", "/a/", "a"),
    ("double dot", "a..b", "a.b"),
    ("mixed", "a/.b./c", "a.b.c"),
    ("only separators", "/./", ""),
]


@pytest.mark.parametrize(("raw", "expected"), [c[1:] for c in SPLIT], ids=[c[0] for c in SPLIT])
def test_rule3_separators(raw: str, expected: str) -> None:
    assert normalize_subtopic(raw) == expected, raw


# Rule 4: * or > inside a longer element is malformed; lone ones are wildcards.
WILDCARDS = [
    ("lone star", "a/*/b", "a.*.b"),
    ("lone gt", "a/>", "a.>"),
    ("star only", "*", "*"),
    ("star in element", "a*b", None),
    ("gt in element", "ab>", None),
    ("double star", "**", None),
    ("escaped star in element", "a%2Ab", None),
]


@pytest.mark.parametrize(
    ("raw", "expected"), [c[1:] for c in WILDCARDS], ids=[c[0] for c in WILDCARDS]
)
def test_rule4_wildcards(raw: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(MalformedEntity):
            normalize_subtopic(raw)
    else:
        assert normalize_subtopic(raw) == expected, raw
        assert has_wildcard(expected), expected


# Rule 5: whitespace and control characters are malformed (a space would split the subject).
BAD_CHARS = [
    ("plus becomes space", "a+b", True),
    ("escaped space", "a%20b", True),
    ("tab", "a%09b", True),
    ("crlf injection", "a%0D%0APUB%20x", True),
    ("nul", "a%00", True),
    ("coap raw space", "a b", False),
]


@pytest.mark.parametrize(
    ("raw", "unescape"), [c[1:] for c in BAD_CHARS], ids=[c[0] for c in BAD_CHARS]
)
def test_rule5_whitespace_and_controls(raw: str, unescape: bool) -> None:
    with pytest.raises(MalformedEntity):
        normalize_subtopic(raw, unescape=unescape)


# Rule 6: the elements joined with . form the subtopic; MQTT turns it back into / form.
JOIN = [
    ("single", "a", "a", "channels/c/messages/a"),
    ("nested", "a/b/c", "a.b.c", "channels/c/messages/a/b/c"),
    ("none", "", "", "channels/c/messages"),
]


@pytest.mark.parametrize(
    ("raw", "dotted", "topic"), [c[1:] for c in JOIN], ids=[c[0] for c in JOIN]
)
def test_rule6_join_and_back(raw: str, dotted: str, topic: str) -> None:
    assert normalize_subtopic(raw) == dotted
    assert message_topic("c", dotted) == topic
    assert subtopic_path(dotted) == raw
    assert parse_topic(topic) == ("c", dotted)
    assert not has_wildcard(dotted)
