"""Topic filters, the subscription tree and the retained store."""

from __future__ import annotations

import pytest

from mainflux.adapters.mqtt.codec import Publish
from mainflux.adapters.mqtt.retained import RetainedStore
from mainflux.adapters.mqtt.topics import TopicTree, matches, valid_filter


@pytest.mark.parametrize(
    ("topic_filter", "valid"),
    [
        ("a/b", True),
        ("a/+/c", True),
        ("a/#", True),
        ("#", True),
        ("+", True),
        ("a/#/c", False),
        ("a/b#", False),
        ("a+/b", False),
        ("", False),
    ],
)
def test_filter_validity(topic_filter: str, valid: bool) -> None:
    assert valid_filter(topic_filter) is valid


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("a/+/c", "a/b/c", True),
        ("a/+", "a/b/c", False),
        ("a/#", "a", True),
        ("a/#", "a/b/c", True),
        ("#", "$SYS/x", False),
        ("+/x", "$SYS/x", False),
        ("$SYS/#", "$SYS/x", True),
        ("/+", "/a", True),
    ],
)
def test_matching(topic_filter: str, topic: str, expected: bool) -> None:
    assert matches(topic_filter, topic) is expected
    tree: TopicTree[str] = TopicTree()
    tree.subscribe(topic_filter, "s", 1)
    assert (tree.match(topic) == [("s", 1)]) is expected


def test_tree_gives_one_entry_per_subscriber_with_the_highest_qos() -> None:
    tree: TopicTree[str] = TopicTree()
    tree.subscribe("a/#", "one", 2)
    tree.subscribe("a/+", "one", 1)
    tree.subscribe("a/b", "two", 0)
    assert sorted(tree.match("a/b")) == [("one", 2), ("two", 0)]
    assert tree.unsubscribe("a/#", "one")
    assert sorted(tree.match("a/b")) == [("one", 1), ("two", 0)]
    assert not tree.unsubscribe("a/#", "one")
    tree.unsubscribe("a/+", "one")
    tree.unsubscribe("a/b", "two")
    assert tree.match("a/b") == []
    assert tree.count == 0


def test_retained_store_is_bounded_and_clears_on_empty_payload() -> None:
    store = RetainedStore(max_count=2, max_bytes=10)
    assert store.put(Publish("a", b"12345", 1, True))
    assert store.put(Publish("b", b"12345", 0, True))
    assert not store.put(Publish("c", b"1", 0, True))
    assert not store.put(Publish("a", b"123456", 0, True))
    assert store.put(Publish("a", b"", 0, True))
    assert store.put(Publish("c", b"1", 0, True))
    assert sorted(m.topic for m in store.matching("#")) == ["b", "c"]
    assert store.refused == 2
