"""Settings of ``mainflux-provision``: Mainflux's variable names and defaults.

``mainflux-provision --help`` lists them. Service locations default to each service's
own port on localhost (Mainflux's binary defaults point at an nginx on port 80).
Certificate provisioning (``MF_PROVISION_X509_PROVISIONING``) needs Mainflux's certs
service, which this platform does not have: setting it stops start-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from mainflux.core.settings import log_level_setting, port_setting, setting, url_with_scheme

PROG: Final = "mainflux-provision"
SUMMARY: Final = (
    "The provision service: POST /mapping creates a gateway's things and channels from a "
    "TOML template, its bootstrap config, whitelists it and writes the gateway metadata."
    "\nEvery HTTP port also follows the MF_HTTP_* limits (see docs/http.md)."
)
LOG_LEVEL: Final = "MF_PROVISION_LOG_LEVEL"


def _never(value: bool) -> None:
    if value:
        raise ValueError(
            "certificate provisioning needs a certs service, not part of this platform"
        )


@dataclass(frozen=True, slots=True)
class ProvisionSettings:
    """Every setting of provision, read once from the environment."""

    port: int = port_setting("MF_PROVISION_HTTP_PORT", 8091, "HTTP port")
    config_file: Path | None = setting(
        "MF_PROVISION_CONFIG_FILE", None, "TOML template (unset: Mainflux's default template)"
    )
    users_url: str = setting(
        "MF_PROVISION_USERS_LOCATION",
        "http://localhost:8180",
        "users service URL (logins)",
        check=url_with_scheme("http", "https"),
    )
    things_url: str = setting(
        "MF_PROVISION_THINGS_LOCATION",
        "http://localhost:8182",
        "things service URL",
        check=url_with_scheme("http", "https"),
    )
    bootstrap_url: str = setting(
        "MF_PROVISION_BS_SVC_URL",
        "http://localhost:8202/things",
        "bootstrap URL (a trailing /configs is dropped)",
        check=url_with_scheme("http", "https"),
    )
    bootstrap_provision: bool = setting(
        "MF_PROVISION_BS_CONFIG_PROVISIONING", True, "add a bootstrap config per gateway thing"
    )
    auto_whitelist: bool = setting(
        "MF_PROVISION_BS_AUTO_WHITELIST", True, "make that config Active at once"
    )
    bootstrap_content: str = setting("MF_PROVISION_BS_CONTENT", "", "content of the configs")
    user: str = setting("MF_PROVISION_USER", "test@example.com", "login used without a token")
    password: str = setting("MF_PROVISION_PASS", "test", "its password", secret=True)
    api_key: str = setting(
        "MF_PROVISION_API_KEY", "", "user token or API key used without a token", secret=True
    )
    x509: bool = setting(
        "MF_PROVISION_X509_PROVISIONING",
        False,
        "certificate provisioning (unsupported)",
        check=_never,
    )
    timeout: float = setting(
        "MF_PROVISION_TIMEOUT", 5.0, "seconds per call to another service", minimum=0.001
    )
    log_level: str = log_level_setting(LOG_LEVEL)
