"""The provision template: Mainflux's defaults, a TOML file, and every way a file can be
unusable (each a ``ConfigError`` naming ``MF_PROVISION_CONFIG_FILE`` or the variable)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mainflux.core.config import ConfigError
from mainflux.provision.models import EntitySpec
from mainflux.provision.template import MAX_FILE, load_template


def test_without_a_file_mainflux_defaults_apply() -> None:
    template = load_template(None, content="c")
    assert template.things == (EntitySpec("thing", {"external_id": "xxxxxx"}),)
    assert [c.name for c in template.channels] == ["control-channel", "data-channel"]
    assert (template.bootstrap_provision, template.auto_whitelist) == (True, True)
    assert template.bootstrap_content == "c"


def test_file_values_win_and_the_environment_fills_gaps(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text('[server]\nport = "9"\n[bootstrap]\ncontent = "file"\n[[things]]\nname = "a"\n')
    template = load_template(path, whitelist=False, content="env")
    assert template.bootstrap_content == "file"
    assert template.auto_whitelist is False
    assert template.things == (EntitySpec("a", {}),) and template.channels == ()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[[channels]]\nname = 'c'\n", "names no things"),
        ("", "names no things"),
        ("things = 'x'\n", "must be an array"),
        ("[[things]]\nname = 1\n", "name must be a string"),
        ("[[things]]\nmetadata = 'x'\n", "metadata a table"),
        ("[bootstrap]\nprovision = 'yes'\n[[things]]\n", "must be a bool"),
        ("bootstrap = 1\n[[things]]\n", "must be a table"),
        ("[[things]\n", "not TOML"),
        ("[bootstrap]\nprovision = false\n[[things]]\n", "MF_PROVISION_BS_AUTO_WHITELIST"),
    ],
    ids=[
        "no things",
        "empty",
        "things not tables",
        "bad name",
        "bad metadata",
        "bad bool",
        "bootstrap not a table",
        "not toml",
        "whitelist without provision",
    ],
)
def test_an_unusable_file_is_one_clear_error(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "t.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=reason):
        load_template(path)


def test_a_missing_binary_or_huge_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MF_PROVISION_CONFIG_FILE"):
        load_template(tmp_path / "absent.toml")
    binary = tmp_path / "b.toml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="not TOML"):
        load_template(binary)
    huge = tmp_path / "h.toml"
    huge.write_text("#" * (MAX_FILE + 1))
    with pytest.raises(ConfigError, match="larger than"):
        load_template(huge)
