"""A throw-away certificate authority for TLS tests, made with the ``openssl`` binary."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

_CA_EXT = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
_SERVER_EXT = (
    "basicConstraints=critical,CA:FALSE\n"
    "keyUsage=critical,digitalSignature,keyEncipherment\n"
    "extendedKeyUsage=serverAuth\n"
    "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
    "subjectKeyIdentifier=hash\n"
    "authorityKeyIdentifier=keyid\n"
)


@dataclass(frozen=True)
class Pki:
    """Files of a throw-away CA: ``ca`` signed ``server_cert``; ``other_ca`` signed nothing
    here; ``garbage`` looks like PEM but is not."""

    ca: Path
    server_cert: Path
    server_key: Path
    other_ca: Path
    other_key: Path
    garbage: Path


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(
        ["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr


def _make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    (directory / "ca.ext").write_text(_CA_EXT)
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-days", "2", "-subj", f"/CN={name}",
        "-keyout", key.name, "-out", cert.name,
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    return cert, key


def make_pki(directory: Path) -> Pki:
    """Make a CA, a server certificate for ``localhost``/``127.0.0.1`` and a second CA."""
    if shutil.which("openssl") is None:
        pytest.fail("the openssl binary is needed to make test certificates")
    ca, ca_key = _make_ca(directory, "test-ca")
    other_ca, other_key = _make_ca(directory, "other-ca")
    (directory / "server.ext").write_text(_SERVER_EXT)
    _openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", ca.name, "-CAkey", ca_key.name,
        "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "server.crt",
        cwd=directory,
    )  # fmt: skip
    garbage = directory / "garbage.pem"
    garbage.write_text(
        "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n"
    )
    return Pki(
        ca=ca,
        server_cert=directory / "server.crt",
        server_key=directory / "server.key",
        other_ca=other_ca,
        other_key=other_key,
        garbage=garbage,
    )
