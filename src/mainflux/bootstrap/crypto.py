"""Secure bootstrap's encryption: AES in CFB mode with the IV sent as a prefix (§13.2).

The key is ``hex_decode(MF_BOOTSTRAP_ENCRYPT_KEY)`` (16, 24 or 32 bytes: AES-128, -192
or -256). Devices send ``hex(IV ‖ AES-CFB(external_key))`` as their ``Authorization``
and receive ``IV ‖ AES-CFB(JSON config)`` as raw bytes, a fresh random IV each time."""

from __future__ import annotations

import os
from typing import Final

from cryptography.hazmat.decrepit.ciphers.modes import CFB
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from mainflux.core.errors import MalformedEntity, NotFound

IV_SIZE: Final = 16
KEY_SIZES: Final = (16, 24, 32)


def parse_key(hex_key: str) -> bytes:
    """The AES key of a hex string. Raises ``ValueError`` saying what is wrong."""
    try:
        key = bytes.fromhex(hex_key)
    except ValueError:
        raise ValueError("expected hexadecimal digits") from None
    if len(key) not in KEY_SIZES:
        raise ValueError(f"expected 16, 24 or 32 bytes (32, 48 or 64 hex digits), got {len(key)}")
    return key


def encrypt(key: bytes, plain: bytes) -> bytes:
    """``IV ‖ AES-CFB(plain)`` with a random IV."""
    iv = os.urandom(IV_SIZE)
    encryptor = Cipher(algorithms.AES(key), CFB(iv)).encryptor()
    return iv + encryptor.update(plain) + encryptor.finalize()


def decrypt(key: bytes, data: bytes) -> bytes:
    """The plaintext of ``IV ‖ AES-CFB(...)``. Raises ``MalformedEntity`` when ``data``
    is shorter than the IV."""
    if len(data) < IV_SIZE:
        raise MalformedEntity("ciphertext shorter than its IV")
    decryptor = Cipher(algorithms.AES(key), CFB(data[:IV_SIZE])).decryptor()
    return decryptor.update(data[IV_SIZE:]) + decryptor.finalize()


def decrypt_hex_key(key: bytes, header: str) -> str:
    """The external key a secure bootstrap request carries hex-encoded and encrypted.

    Raises ``NotFound`` for text that is not hex or a key that is not UTF-8 (as a wrong
    key, 404) and ``MalformedEntity`` for a ciphertext shorter than its IV (400)."""
    try:
        data = bytes.fromhex(header)
    except ValueError:
        raise NotFound() from None
    try:
        return decrypt(key, data).decode()
    except UnicodeDecodeError:
        raise NotFound() from None
