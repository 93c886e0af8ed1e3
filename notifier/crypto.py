"""Phone numbers at rest: AES-256-GCM ciphertext plus a keyed fingerprint for look-ups.

Both keys derive from one 32-byte master key (HKDF), passed in by the engine's settings.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from engine.errors import ConfigError

_NONCE = 12
_VERSION = b"\x01"


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


class PhoneCipher:
    """Encrypt and decrypt E.164 numbers; ``fingerprint`` finds a number without decrypting."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise ConfigError("encryption key must be 32 bytes")
        self._aead = AESGCM(_derive(master_key, b"clinicq-sms-phone-enc"))
        self._mac_key = _derive(master_key, b"clinicq-sms-phone-fp")

    def encrypt(self, phone: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return _VERSION + nonce + self._aead.encrypt(nonce, phone.encode(), _VERSION)

    def decrypt(self, blob: bytes) -> str:
        if blob[:1] != _VERSION:
            raise ConfigError("unknown phone ciphertext version")
        nonce, body = blob[1 : 1 + _NONCE], blob[1 + _NONCE :]
        try:
            return self._aead.decrypt(nonce, body, _VERSION).decode()
        except InvalidTag as exc:
            raise ConfigError("phone ciphertext does not match the encryption key") from exc

    def fingerprint(self, phone: str) -> bytes:
        return hmac.new(self._mac_key, phone.encode(), hashlib.sha256).digest()
