"""Channel and subtopic from a message path or topic, as every Mainflux adapter derives them.

The rules (MAINFLUX.md §2.3, with the project's decisions):

1. The path or topic must match ``^/?channels/<id>/messages(/<subtopic>)?(?<query>)?$``
   where ``<id>`` is ``[A-Za-z0-9_-]+``; anything after ``?`` is ignored.
2. HTTP, WebSocket and MQTT query-unescape the subtopic first (``%xx`` decoded, ``+``
   becomes a space); CoAP does not. A broken escape is malformed.
3. ``/`` becomes ``.``, the subtopic is split on ``.`` and empty elements are dropped.
4. An element longer than one character that contains ``*`` or ``>`` is malformed; a
   lone ``*`` or ``>`` is accepted (a NATS wildcard).
5. An element holding whitespace or a control character is malformed: it would split
   or corrupt the NATS subject (Go Mainflux lets a ``+``-made space through).
6. The remaining elements joined with ``.`` are the message's subtopic.

Every violation raises :class:`~mainflux.core.errors.MalformedEntity`."""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import unquote_plus

from mainflux.core.errors import MalformedEntity

_PATH: Final = re.compile(r"^/?channels/([A-Za-z0-9_\-]+)/messages(/[^?]*)?(\?.*)?$")
_BAD_ESCAPE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
_BAD_CHAR: Final = re.compile(r"[\x00-\x20\x7f\s]")
WILDCARDS: Final = frozenset({"*", ">"})


def parse_topic(topic: str, *, unescape: bool = True) -> tuple[str, str]:
    """Return ``(channel_id, subtopic)`` of ``channels/<id>/messages[/<subtopic>]``.

    ``unescape`` is true for HTTP, WebSocket and MQTT, false for CoAP. Raises
    :class:`MalformedEntity` when the path does not match or the subtopic breaks a rule."""
    match = _PATH.match(topic)
    if match is None:
        raise MalformedEntity("malformed message path")
    raw = match.group(2)
    return match.group(1), normalize_subtopic(raw, unescape=unescape) if raw else ""


def normalize_subtopic(raw: str, *, unescape: bool = True) -> str:
    """Turn a raw ``/``-separated subtopic into its dotted bus form (rules 2-6)."""
    if unescape:
        if "%" in raw and _BAD_ESCAPE.search(raw):
            raise MalformedEntity("malformed escape in subtopic")
        try:
            raw = unquote_plus(raw, errors="strict")
        except UnicodeDecodeError:
            raise MalformedEntity("subtopic is not valid UTF-8") from None
    elements = [e for e in raw.replace("/", ".").split(".") if e]
    for element in elements:
        if len(element) > 1 and ("*" in element or ">" in element):
            raise MalformedEntity("wildcard inside a subtopic element")
        if _BAD_CHAR.search(element):
            raise MalformedEntity("whitespace or control character in subtopic")
    return ".".join(elements)


def has_wildcard(subtopic: str) -> bool:
    """Whether a dotted subtopic holds a lone ``*`` or ``>`` element."""
    return any(e in WILDCARDS for e in subtopic.split(".")) if subtopic else False


def subtopic_path(subtopic: str) -> str:
    """The ``/`` form of a dotted subtopic (``a.b`` -> ``a/b``), as MQTT topics carry it."""
    return subtopic.replace(".", "/")


def message_topic(channel: str, subtopic: str = "") -> str:
    """``channels/<id>/messages`` plus ``/<subtopic in / form>`` when there is one."""
    base = f"channels/{channel}/messages"
    return f"{base}/{subtopic_path(subtopic)}" if subtopic else base
