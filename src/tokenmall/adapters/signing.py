"""Ed25519 keys for the transparency log's checkpoints, sealed under the deployment's secret.

A tenant's private key is stored only sealed: AES-256-GCM under a key derived from the
deployment's secret (HKDF-SHA256, the tenant's id in the info), with the tenant's id as
associated data, so a sealed key copied to another tenant or read with another secret does not
open. ``Sealer`` is that sealing for any purpose (its own HKDF salt and info): the log's keys,
the members' real-name details (``personal_data_sealer``) and the payment channels' key
sets (``payment_keys_sealer``).
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = b"tmk1"


class SealError(ValueError):
    """A sealed value that does not open under this secret for this tenant."""


def _derive(secret: str, tenant_id: str, salt: bytes, info: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=salt, info=info + tenant_id.encode()
    ).derive(secret.encode())


class Sealer:
    """AES-256-GCM under a key derived from the deployment's secret for one purpose and one
    tenant; the associated data binds a sealed value to where it is stored."""

    def __init__(self, secret: str, *, salt: bytes, info: bytes, what: str) -> None:
        self._secret = secret
        self._salt = salt
        self._info = info
        self._what = what

    def _aead(self, tenant_id: str) -> AESGCM:
        return AESGCM(_derive(self._secret, tenant_id, self._salt, self._info))

    def seal(self, tenant_id: str, plain: bytes, associated: bytes) -> bytes:
        nonce = os.urandom(12)
        return VERSION + nonce + self._aead(tenant_id).encrypt(nonce, plain, associated)

    def open(self, tenant_id: str, sealed: bytes, associated: bytes) -> bytes:
        if not sealed.startswith(VERSION) or len(sealed) < len(VERSION) + 12 + 16:
            raise SealError(f"the stored {self._what} is not sealed")
        nonce, body = sealed[len(VERSION) : len(VERSION) + 12], sealed[len(VERSION) + 12 :]
        try:
            return self._aead(tenant_id).decrypt(nonce, body, associated)
        except InvalidTag as error:
            raise SealError(
                f"the {self._what} does not open under this secret "
                "(was TOKENMALL_SECRET_KEY changed?)"
            ) from error

    def fingerprint(self, tenant_id: str, text: str) -> str:
        """A keyed digest of ``text`` (HMAC-SHA256 under a key of its own derived the same
        way): equal texts of one tenant match, and nothing is learnt of the text without the
        secret."""
        key = _derive(self._secret, tenant_id, self._salt, self._info + b"fingerprint/")
        return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def log_key_sealer(secret: str) -> Sealer:
    return Sealer(
        secret, salt=b"tokenmall transparency log", info=b"log signing key/", what="log key"
    )


def personal_data_sealer(secret: str) -> Sealer:
    """The members' real-name details (name, identity number, phone)."""
    return Sealer(
        secret,
        salt=b"tokenmall personal data",
        info=b"real-name details/",
        what="real-name details",
    )


def payment_keys_sealer(secret: str) -> Sealer:
    """A tenant's payment channels' key sets (API keys, private keys)."""
    return Sealer(
        secret,
        salt=b"tokenmall payment channel keys",
        info=b"payment channel keys/",
        what="payment channel keys",
    )


class Ed25519Signer:
    """The ``Signer`` port: make, seal, open and use a tenant's key."""

    def __init__(self, secret: str) -> None:
        self._sealer = log_key_sealer(secret)

    def new_key(self) -> tuple[bytes, bytes]:
        """A fresh (private, public) pair, 32 raw bytes each."""
        private = Ed25519PrivateKey.generate()
        raw = private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return raw, public

    def seal(self, tenant_id: str, private: bytes) -> bytes:
        return self._sealer.seal(tenant_id, private, tenant_id.encode())

    def open(self, tenant_id: str, sealed: bytes) -> bytes:
        return self._sealer.open(tenant_id, sealed, tenant_id.encode())

    def sign(self, private: bytes, message: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(private).sign(message)

    @staticmethod
    def verify(public: bytes, signature: bytes, message: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


def anchor_key_sealer(secret: str) -> Sealer:
    """The anchoring accounts' private keys (one EVM account per tenant)."""
    return Sealer(
        secret,
        salt=b"tokenmall checkpoint anchoring",
        info=b"anchoring account key/",
        what="anchoring account key",
    )
