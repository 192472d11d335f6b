"""Ed25519 keys for the transparency log's checkpoints, sealed under the deployment's secret.

A tenant's private key is stored only sealed: AES-256-GCM under a key derived from the
deployment's secret (HKDF-SHA256, the tenant's id in the info), with the tenant's id as
associated data, so a sealed key copied to another tenant or read with another secret does not
open.
"""

from __future__ import annotations

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
    """A sealed key that does not open under this secret for this tenant."""


def _aead(secret: str, tenant_id: str) -> AESGCM:
    key = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"tokenmall transparency log",
        info=b"log signing key/" + tenant_id.encode(),
    ).derive(secret.encode())
    return AESGCM(key)


class Ed25519Signer:
    """The ``Signer`` port: make, seal, open and use a tenant's key."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

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
        nonce = os.urandom(12)
        return (
            VERSION
            + nonce
            + _aead(self._secret, tenant_id).encrypt(nonce, private, tenant_id.encode())
        )

    def open(self, tenant_id: str, sealed: bytes) -> bytes:
        if not sealed.startswith(VERSION) or len(sealed) < len(VERSION) + 12 + 16:
            raise SealError("the stored log key is not a sealed key")
        nonce, body = sealed[len(VERSION) : len(VERSION) + 12], sealed[len(VERSION) + 12 :]
        try:
            return _aead(self._secret, tenant_id).decrypt(nonce, body, tenant_id.encode())
        except InvalidTag as error:
            raise SealError(
                "the log key does not open under this secret (was TOKENMALL_SECRET_KEY changed?)"
            ) from error

    def sign(self, private: bytes, message: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(private).sign(message)

    @staticmethod
    def verify(public: bytes, signature: bytes, message: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True
