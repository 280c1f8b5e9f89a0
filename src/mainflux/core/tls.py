"""TLS for the HTTP and gRPC faces, from Mainflux's variables.

A server speaks TLS when ``MF_<SVC>_SERVER_CERT`` and ``MF_<SVC>_SERVER_KEY`` both name
PEM files (:func:`server_tls`); a gRPC client uses TLS when ``MF_<SVC>_CLIENT_TLS`` is
true, trusting the PEM bundle ``MF_<SVC>_CA_CERTS`` or, when that is unset, the system
roots (:func:`client_tls`).

The files are read and checked when the settings are read, so a missing file, a garbage
PEM or a key that does not match its certificate stops start-up with one
:class:`~mainflux.core.config.ConfigError` naming the variable. The loaded settings are
plain data (they can cross a process boundary); contexts and credentials are built from
them on demand."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from mainflux.core.config import ConfigError, env, env_bool


@dataclass(frozen=True, slots=True)
class ServerTLS:
    """A server certificate chain and its private key, already checked."""

    cert_file: str
    key_file: str
    cert_pem: bytes = field(repr=False)
    key_pem: bytes = field(repr=False)

    def ssl_context(self) -> ssl.SSLContext:
        """A server-side context for HTTPS (uvicorn, asyncio servers)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file, password=_no_password)
        context.set_alpn_protocols(["http/1.1"])
        return context

    def grpc_credentials(self) -> grpc.ServerCredentials:
        """Credentials for ``grpc.aio.Server.add_secure_port``."""
        return grpc.ssl_server_credentials([(self.key_pem, self.cert_pem)])


@dataclass(frozen=True, slots=True)
class ClientTLS:
    """What a TLS client trusts: the PEM bundle ``ca_pem``, or the system roots."""

    ca_file: str = ""
    ca_pem: bytes | None = field(default=None, repr=False)

    def grpc_credentials(self) -> grpc.ChannelCredentials:
        """Credentials for ``grpc.aio.secure_channel``."""
        return grpc.ssl_channel_credentials(root_certificates=self.ca_pem)

    def ssl_context(self) -> ssl.SSLContext:
        """A client-side context (e.g. ``httpx`` ``verify=``) trusting the same roots."""
        if self.ca_pem is None:
            return ssl.create_default_context()
        return ssl.create_default_context(cadata=self.ca_pem.decode("ascii", "replace"))


def server_tls(prefix: str, environ: Mapping[str, str] | None = None) -> ServerTLS | None:
    """Read ``MF_<prefix>_SERVER_CERT`` and ``MF_<prefix>_SERVER_KEY``.

    Returns ``None`` when neither is set. Raises :class:`ConfigError` naming the
    variable when only one is set, a file cannot be read, the certificate is not PEM,
    or the key is not a private key matching the certificate."""
    cert_var, key_var = f"MF_{prefix}_SERVER_CERT", f"MF_{prefix}_SERVER_KEY"
    cert_file, key_file = env(cert_var, "", environ), env(key_var, "", environ)
    if not cert_file and not key_file:
        return None
    if not key_file:
        raise ConfigError(f"{key_var}: must be set together with {cert_var}")
    if not cert_file:
        raise ConfigError(f"{cert_var}: must be set together with {key_var}")
    cert_pem = _read(cert_var, cert_file)
    key_pem = _read(key_var, key_file)
    _check_certificates(cert_var, cert_file, cert_pem)
    tls = ServerTLS(cert_file, key_file, cert_pem, key_pem)
    try:
        tls.ssl_context()
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"{key_var}: {key_file} is not an unencrypted private key matching "
            f"{cert_var}: {_reason(exc)}"
        ) from None
    return tls


def client_tls(*prefixes: str, environ: Mapping[str, str] | None = None) -> ClientTLS | None:
    """Read ``MF_<prefix>_CLIENT_TLS`` and ``MF_<prefix>_CA_CERTS``.

    With several prefixes, the first whose ``_CLIENT_TLS`` is set decides (e.g.
    ``client_tls("THINGS", "AUTHN")``). Returns ``None`` when TLS is off; a
    :class:`ClientTLS` trusting the system roots when it is on without a CA file.
    Raises :class:`ConfigError` naming the variable for a bad boolean or an unreadable
    or non-PEM CA file."""
    for prefix in prefixes:
        tls_var = f"MF_{prefix}_CLIENT_TLS"
        if env(tls_var, "", environ) == "":
            continue
        if not env_bool(tls_var, False, environ):
            return None
        ca_var = f"MF_{prefix}_CA_CERTS"
        ca_file = env(ca_var, "", environ)
        if not ca_file:
            return ClientTLS()
        ca_pem = _read(ca_var, ca_file)
        _check_certificates(ca_var, ca_file, ca_pem)
        return ClientTLS(ca_file, ca_pem)
    return None


def grpc_channel(target: str, tls: ClientTLS | None) -> grpc.aio.Channel:
    """An asyncio gRPC channel to ``target`` (``host:port``), over TLS when ``tls`` is set."""
    if tls is None:
        return grpc.aio.insecure_channel(target)
    return grpc.aio.secure_channel(target, tls.grpc_credentials())


def add_port(server: grpc.aio.Server, address: str, tls: ServerTLS | None) -> int:
    """Listen on ``address``, over TLS when ``tls`` is set; returns the bound port
    (0 when it could not be bound)."""
    if tls is None:
        return server.add_insecure_port(address)
    return server.add_secure_port(address, tls.grpc_credentials())


def _read(var: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{var}: cannot read {path}: {exc.strerror or exc}") from None


def _check_certificates(var: str, path: str, pem: bytes) -> None:
    """Fail naming ``var`` unless ``pem`` holds at least one PEM certificate."""
    text = pem.decode("ascii", "replace")
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise ConfigError(f"{var}: {path} holds no PEM certificate")
    try:
        ssl.create_default_context(cadata=text)
    except (ssl.SSLError, ValueError) as exc:
        raise ConfigError(f"{var}: {path} is not a valid PEM certificate: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    """OpenSSL's short reason (``key values mismatch``), without the C source location."""
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or ""
        if not reason or reason == "PEM lib" or "_ssl.c" in reason:
            return "unreadable PEM data"
        return reason.lower().replace("_", " ")
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _no_password() -> bytes:
    """Answer an encrypted key's password prompt (never read from a terminal)."""
    return b""
