"""The provision template: a TOML file (``MF_PROVISION_CONFIG_FILE``) or Mainflux's defaults.

Sections: ``[bootstrap]`` (``provision``, ``autowhite_list``, ``content``; a value set
here wins over the environment), ``[[things]]`` and ``[[channels]]`` (``name``,
``metadata`` table). Other sections (Mainflux's ``[server]``) are ignored. Without a
file: one thing ``thing`` with metadata ``external_id``, and the channels
``control-channel`` (type ``control``) and ``data-channel`` (type ``data``)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from mainflux.core.config import ConfigError
from mainflux.provision.models import EntitySpec, Template

#: Largest template file read, in bytes.
MAX_FILE: int = 1 << 20


def default_template(
    *, provision: bool = True, whitelist: bool = True, content: str = ""
) -> Template:
    """Mainflux's template when no file is given."""
    return Template(
        things=(EntitySpec("thing", {"external_id": "xxxxxx"}),),
        channels=(
            EntitySpec("control-channel", {"type": "control"}),
            EntitySpec("data-channel", {"type": "data"}),
        ),
        bootstrap_provision=provision,
        auto_whitelist=whitelist,
        bootstrap_content=content,
    )


def _entities(data: dict[str, Any], section: str, where: str) -> tuple[EntitySpec, ...]:
    items = data.get(section, [])
    if not isinstance(items, list):
        raise ConfigError(f"{where}: [[{section}]] must be an array of tables")
    specs = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: [[{section}]] entry {i + 1} is not a table")
        name = item.get("name", "")
        metadata = item.get("metadata", {})
        if not isinstance(name, str) or not isinstance(metadata, dict):
            raise ConfigError(
                f"{where}: [[{section}]] entry {i + 1}: name must be a string, metadata a table"
            )
        specs.append(EntitySpec(name, metadata))
    return tuple(specs)


def load_template(
    path: Path | None, *, provision: bool = True, whitelist: bool = True, content: str = ""
) -> Template:
    """The template in ``path`` (``None``: the defaults); the keyword values are the
    environment's, used where ``[bootstrap]`` says nothing.

    Raises ``ConfigError`` naming ``MF_PROVISION_CONFIG_FILE`` when the file cannot be
    read, is not TOML, names no things, or asks whitelisting without bootstrap."""
    if path is None:
        template = default_template(provision=provision, whitelist=whitelist, content=content)
    else:
        where = f"MF_PROVISION_CONFIG_FILE: {path}"
        try:
            with path.open("rb") as file:
                raw = file.read(MAX_FILE + 1)
        except OSError as exc:
            raise ConfigError(f"{where}: {exc.strerror}") from None
        if len(raw) > MAX_FILE:
            raise ConfigError(f"{where}: larger than {MAX_FILE} bytes")
        try:
            data = tomllib.loads(raw.decode())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{where}: not TOML: {exc}") from None
        bs = data.get("bootstrap", {})
        if not isinstance(bs, dict):
            raise ConfigError(f"{where}: [bootstrap] must be a table")
        values = {"provision": provision, "autowhite_list": whitelist, "content": content}
        for key, default in values.items():
            value = bs.get(key, default)
            if type(value) is not type(default):
                raise ConfigError(f"{where}: [bootstrap] {key} must be a {type(default).__name__}")
            values[key] = value
        template = Template(
            things=_entities(data, "things", where),
            channels=_entities(data, "channels", where),
            bootstrap_provision=bool(values["provision"]),
            auto_whitelist=bool(values["autowhite_list"]),
            bootstrap_content=str(values["content"]),
        )
        if not template.things:
            raise ConfigError(f"{where}: the template names no things ([[things]])")
    if template.auto_whitelist and not template.bootstrap_provision:
        raise ConfigError(
            "MF_PROVISION_BS_AUTO_WHITELIST: whitelisting needs bootstrap provisioning "
            "(MF_PROVISION_BS_CONFIG_PROVISIONING)"
        )
    return template
