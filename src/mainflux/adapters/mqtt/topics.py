"""Topic filters: validation, matching, and the subscription tree.

Filters follow MQTT 3.1.1: ``+`` matches one level, ``#`` (last level only) matches
the parent and every level below, and a filter starting with a wildcard never matches
a topic starting with ``$``."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

_CACHE_LIMIT = 4096


def valid_filter(topic_filter: str) -> bool:
    """Whether ``topic_filter`` is a well-formed MQTT topic filter."""
    if not topic_filter or "\x00" in topic_filter:
        return False
    levels = topic_filter.split("/")
    last = len(levels) - 1
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != last):
            return False
        if "+" in level and level != "+":
            return False
    return True


def has_wildcard(topic_filter: str) -> bool:
    """Whether the filter contains ``+`` or ``#``."""
    return "+" in topic_filter or "#" in topic_filter


def matches(topic_filter: str, topic: str) -> bool:
    """Whether a valid ``topic_filter`` matches the topic name ``topic``."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    filters = topic_filter.split("/")
    names = topic.split("/")
    for index, level in enumerate(filters):
        if level == "#":
            return True
        if index >= len(names):
            return False
        if level != "+" and level != names[index]:
            return False
    return len(filters) == len(names)


class _Node(Generic[K]):
    __slots__ = ("children", "subscribers")

    def __init__(self) -> None:
        self.children: dict[str, _Node[K]] = {}
        self.subscribers: dict[K, int] = {}


class TopicTree(Generic[K]):
    """Subscriptions by filter, answering "who gets a message on this topic".

    A subscriber matched by several filters is returned once with the highest QoS.
    Answers are cached per topic until the subscriptions change."""

    def __init__(self) -> None:
        self._root: _Node[K] = _Node()
        self._cache: dict[str, list[tuple[K, int]]] = {}
        self.count = 0

    def subscribe(self, topic_filter: str, key: K, qos: int) -> None:
        """Add (or update the QoS of) ``key``'s subscription to ``topic_filter``."""
        node = self._root
        for level in topic_filter.split("/"):
            child = node.children.get(level)
            if child is None:
                child = node.children[level] = _Node()
            node = child
        if key not in node.subscribers:
            self.count += 1
        node.subscribers[key] = qos
        self._cache.clear()

    def unsubscribe(self, topic_filter: str, key: K) -> bool:
        """Remove one subscription; return whether it existed."""
        path: list[tuple[_Node[K], str]] = []
        node = self._root
        for level in topic_filter.split("/"):
            child = node.children.get(level)
            if child is None:
                return False
            path.append((node, level))
            node = child
        if node.subscribers.pop(key, None) is None:
            return False
        self.count -= 1
        self._cache.clear()
        for parent, level in reversed(path):
            child = parent.children[level]
            if child.subscribers or child.children:
                break
            del parent.children[level]
        return True

    def keys_under(self, prefix: str) -> set[K]:
        """Every key subscribed to a filter that starts with the levels of ``prefix``
        (taken literally: wildcards in ``prefix`` are plain levels here)."""
        node: _Node[K] | None = self._root
        for level in prefix.split("/"):
            node = node.children.get(level) if node is not None else None
        if node is None:
            return set()
        keys: set[K] = set()
        stack = [node]
        while stack:
            node = stack.pop()
            keys.update(node.subscribers)
            stack.extend(node.children.values())
        return keys

    def match(self, topic: str) -> list[tuple[K, int]]:
        """Every subscriber of ``topic`` with the highest QoS among its matching filters."""
        found = self._cache.get(topic)
        if found is not None:
            return found
        out: dict[K, int] = {}
        levels = topic.split("/")
        self._walk(self._root, levels, 0, out, topic.startswith("$"))
        found = list(out.items())
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[topic] = found
        return found

    def _walk(
        self, node: _Node[K], levels: list[str], index: int, out: dict[K, int], dollar: bool
    ) -> None:
        children = node.children
        wild = not (dollar and index == 0)
        if index == len(levels):
            _merge(out, node.subscribers)
            if "#" in children:
                _merge(out, children["#"].subscribers)
            return
        child = children.get(levels[index])
        if child is not None:
            self._walk(child, levels, index + 1, out, dollar)
        if wild:
            plus = children.get("+")
            if plus is not None:
                self._walk(plus, levels, index + 1, out, dollar)
            hashed = children.get("#")
            if hashed is not None:
                _merge(out, hashed.subscribers)


def _merge(out: dict[K, int], subscribers: dict[K, int]) -> None:
    for key, qos in subscribers.items():
        if out.get(key, -1) < qos:
            out[key] = qos
