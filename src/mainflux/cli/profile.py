"""Where ``mainflux login`` keeps the platform URL and token: ``config.json`` in
``$XDG_CONFIG_HOME/mainflux/`` (``~/.config/mainflux/`` by default), readable by its
owner only (file 0600, directory 0700)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

#: The platform a command talks to when nothing says otherwise (``mainflux run``).
DEFAULT_URL: Final = "http://localhost:8080"
FILE_NAME: Final = "config.json"
#: The largest profile read (a URL, a token and an email fit in far less).
MAX_SIZE: Final = 64 * 1024


class ProfileError(Exception):
    """The saved profile cannot be read or written (the message says which file, why)."""


@dataclass(frozen=True, slots=True)
class Profile:
    """What ``mainflux login`` saved."""

    url: str
    token: str
    email: str = ""


def directory() -> Path:
    """``$XDG_CONFIG_HOME/mainflux`` (an empty or relative value means ``~/.config``)."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".config"
    return root / "mainflux"


def path() -> Path:
    """The profile file."""
    return directory() / FILE_NAME


def load() -> Profile | None:
    """The saved profile, or ``None`` when nobody logged in.

    Raises ``ProfileError`` when the file exists but cannot be used."""
    file = path()
    try:
        if file.stat().st_size > MAX_SIZE:
            raise ProfileError(f"{file}: larger than {MAX_SIZE} bytes; run `mainflux logout`")
        text = file.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ProfileError(f"{file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ProfileError(f"{file}: not UTF-8 text; run `mainflux logout`") from None
    try:
        data = json.loads(text)
    except ValueError:
        raise ProfileError(f"{file}: not valid JSON; run `mainflux logout`") from None
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), str) for k in ("url", "token")
    ):
        raise ProfileError(f"{file}: no url and token in it; run `mainflux logout`")
    return Profile(url=data["url"], token=data["token"], email=str(data.get("email", "")))


def save(profile: Profile) -> Path:
    """Write the profile (directory 0700, file 0600, replaced atomically); return its path.

    Raises ``ProfileError``."""
    folder = directory()
    file = folder / FILE_NAME
    temp = folder / f".{FILE_NAME}.{os.getpid()}"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(asdict(profile), out)
        os.replace(temp, file)
        file.chmod(0o600)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise ProfileError(f"{exc.filename or file}: {exc.strerror}") from None
    return file


def remove() -> bool:
    """Forget the saved profile; ``False`` when there was none. Raises ``ProfileError``."""
    file = path()
    try:
        file.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise ProfileError(f"{file}: {exc.strerror}") from None
    return True
