"""NATS subjects: checking, splitting and matching, the same for every bus.

A subject is dot-separated tokens (``channels.<id>.<subtopic...>``); a subscription
may use ``*`` (exactly one token) and a final ``>`` (one or more tokens). The
in-process bus matches with these rules itself; on NATS the server does, and the
JetStream consumer uses them to filter what one stream filter cannot."""

from __future__ import annotations

import re
from typing import Final

from mainflux.core.errors import MalformedEntity

_FILTER: Final = re.compile(r"[^\s.]+(\.[^\s.]+)*")


def subject_tokens(subject: str, *, wildcards: bool) -> tuple[str, ...]:
    """Split and check a subject; ``wildcards`` allows ``*`` and a final ``>``.

    Raises :class:`MalformedEntity` for an empty token or a misplaced ``>``."""
    tokens = tuple(subject.split("."))
    for i, token in enumerate(tokens):
        if not token:
            raise MalformedEntity(f"empty token in subject {subject!r}")
        if wildcards and token == ">" and i != len(tokens) - 1:
            raise MalformedEntity(f"'>' must be the last token of {subject!r}")
    return tokens


def matches(pattern: tuple[str, ...], subject: tuple[str, ...]) -> bool:
    """Whether a subject's tokens match a subscription pattern's tokens (NATS rules)."""
    for i, token in enumerate(pattern):
        if token == ">":
            return len(subject) > i
        if i >= len(subject) or (token != "*" and token != subject[i]):
            return False
    return len(pattern) == len(subject)


def is_filter(subject: str) -> bool:
    """Whether ``subject`` is a subscription filter a person meant: non-empty tokens
    without whitespace, ``*`` and ``>`` only as whole tokens, ``>`` only last.

    Stricter than :func:`subject_tokens`, for subjects read from configuration
    (NATS would take ``a*`` as a literal token, which is never what was meant)."""
    if _FILTER.fullmatch(subject) is None:
        return False
    tokens = subject.split(".")
    return ">" not in tokens[:-1] and all(
        t in ("*", ">") or not {"*", ">"} & set(t) for t in tokens
    )
