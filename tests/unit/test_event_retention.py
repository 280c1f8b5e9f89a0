"""Retention settings: defaults that bound every stream, bad values named."""

from __future__ import annotations

import pytest

from mainflux.core.config import ConfigError
from mainflux.core.settings import load
from mainflux.events.retention import RetentionSettings, age_bound


def test_the_defaults_bound_every_stream() -> None:
    settings = load(RetentionSettings, {})
    assert settings.max_entries == 100_000
    assert settings.max_age == 30 * 24 * 3600
    assert settings.interval == 60


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MF_EVENTS_MAX_ENTRIES", "-1"),
        ("MF_EVENTS_MAX_ENTRIES", "many"),
        ("MF_EVENTS_MAX_AGE", "-5"),
        ("MF_EVENTS_TRIM_INTERVAL", "0"),
    ],
    ids=["negative-count", "word", "negative-age", "zero-interval"],
)
def test_a_bad_value_stops_startup_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load(RetentionSettings, {name: value})


def test_the_age_bound_is_the_oldest_kept_millisecond() -> None:
    assert age_bound(0) is None
    assert age_bound(60, now=1000.0) == (940_000, 0)
