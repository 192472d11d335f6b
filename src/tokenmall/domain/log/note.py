"""Checkpoints as C2SP signed notes (``tlog-checkpoint`` in a ``signed-note``), pure text.

A checkpoint's body is three lines: the log's origin (``tokenmall.example/wine``), the tree size
in decimal, the root hash in standard base64. A signed note is the body, a blank line, and one
line per signature: an em dash (U+2014), a space, the key name, a space, and the base64 of the
4-byte key hash followed by the signature. The signature covers the body including its last
newline. For Ed25519 the key hash is the first 4 bytes of ``SHA-256(name || 0x0A || 0x01 ||
public key)``, and the verifier key is ``name+hex(key hash)+base64(0x01 || public key)``.

Signing and checking a signature are the callers' (the domain does no cryptography): this module
builds and parses the bytes both act on.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

ED25519 = 0x01
DASH = "\u2014 "
MAX_SIGNATURES = 100
# A key name: non-empty, no Unicode spaces and no "+".
_NAME = re.compile(r"^[^\s+]+$")
_SIZE = re.compile(r"^(0|[1-9][0-9]{0,18})$")


class NoteError(ValueError):
    """Text that is not a well-formed checkpoint, signed note or verifier key."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode("ascii")]
        return "\n".join([*lines, *self.extensions]) + "\n"


@dataclass(frozen=True, slots=True)
class Signature:
    name: str
    key_hash: bytes  # 4 bytes
    signature: bytes

    def line(self) -> str:
        blob = base64.b64encode(self.key_hash + self.signature).decode("ascii")
        return f"{DASH}{self.name} {blob}\n"


@dataclass(frozen=True, slots=True)
class VerifierKey:
    name: str
    key_hash: bytes
    public_key: bytes  # the 32 bytes of an Ed25519 key

    def text(self) -> str:
        blob = base64.b64encode(bytes([ED25519]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_hash.hex()}+{blob}"


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise NoteError(f"key name {name!r} must be non-empty, without spaces or '+'")
    return name


def key_hash(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(
        check_name(name).encode() + b"\n" + bytes([ED25519]) + public_key
    ).digest()[:4]


def verifier_key(name: str, public_key: bytes) -> VerifierKey:
    if len(public_key) != 32:
        raise NoteError("an Ed25519 public key is 32 bytes")
    return VerifierKey(name, key_hash(name, public_key), public_key)


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as error:
        raise NoteError(f"{what} is not standard base64") from error


def parse_verifier_key(text: str) -> VerifierKey:
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise NoteError("a verifier key is name+keyhash+key")
    name, hash_hex, blob = parts
    check_name(name)
    key = _b64(blob, "the verifier key")
    if len(key) != 33 or key[0] != ED25519:
        raise NoteError("the verifier key is not an Ed25519 key")
    try:
        claimed = bytes.fromhex(hash_hex)
    except ValueError as error:
        raise NoteError("the verifier key's hash is not hex") from error
    found = verifier_key(name, key[1:])
    if len(hash_hex) != 8 or claimed != found.key_hash:
        raise NoteError("the verifier key's hash does not match its name and key")
    return found


def signed(body: str, signatures: list[Signature]) -> str:
    if not body.endswith("\n") or "\n\n" in body:
        raise NoteError("a note's text ends with one newline and has no blank line")
    return body + "\n" + "".join(s.line() for s in signatures)


def split_note(note: str) -> tuple[str, list[Signature]]:
    """The body (with its last newline) and the signatures of a signed note."""
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise NoteError("a signed note is its text, a blank line and signature lines")
    body, lines = note[: cut + 1], note[cut + 2 :].splitlines()
    if not lines or len(lines) > MAX_SIGNATURES:
        raise NoteError("a signed note has between 1 and 100 signature lines")
    signatures = []
    for line in lines:
        if not line.startswith(DASH):
            raise NoteError(f"signature line {line!r} does not start with an em dash")
        name, _, blob = line[len(DASH) :].partition(" ")
        raw = _b64(blob, "a signature")
        if len(raw) < 5:
            raise NoteError("a signature is a 4-byte key hash and the signature")
        signatures.append(Signature(check_name(name), raw[:4], raw[4:]))
    return body, signatures


def parse_checkpoint(body: str) -> Checkpoint:
    lines = body.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise NoteError("a checkpoint is an origin, a size and a root hash, one a line")
    origin, size, root = lines[0], lines[1], lines[2]
    if not origin or not _SIZE.match(size):
        raise NoteError("a checkpoint's origin is non-empty and its size a decimal number")
    digest = _b64(root, "the checkpoint's root hash")
    if len(digest) != 32:
        raise NoteError("the checkpoint's root hash is not 32 bytes")
    return Checkpoint(origin, int(size), digest, tuple(lines[3:-1]))


def open_note(
    note: str, key: VerifierKey, verify: Callable[[bytes, bytes, bytes], bool]
) -> Checkpoint:
    """The checkpoint of ``note`` if ``key`` signed it; ``verify(public_key, signature, message)``
    checks one Ed25519 signature. The first signature line of the key decides."""
    body, signatures = split_note(note)
    for signature in signatures:
        if signature.name == key.name and signature.key_hash == key.key_hash:
            if not verify(key.public_key, signature.signature, body.encode("utf-8")):
                raise NoteError("the checkpoint's signature does not verify")
            return parse_checkpoint(body)
    raise NoteError(f"the checkpoint carries no signature of {key.name}")
