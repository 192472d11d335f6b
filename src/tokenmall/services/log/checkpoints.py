"""Signing checkpoints: the tenant's key, when a checkpoint is due, and the signed note.

A checkpoint is due when the log has leaves no checkpoint covers and either none was ever
signed, 1,000 leaves wait, or the latest is 60 s old. Appends sign a due checkpoint in their
own transaction; the scheduler's tick signs what waits when events stop; a certificate asks
for one covering its token (``covering``). The key is made on first use, its private half
stored sealed; the checkpoint's origin and the key's name are ``{host}/{tenant}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tokenmall.adapters.db.nfg.log import StoredCheckpoint, StoredKey
from tokenmall.domain.log import merkle, note
from tokenmall.services.log.ports import LogStore, Signer

EVERY_LEAVES = 1_000
EVERY = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class LogConfig:
    """How a deployment names and signs its logs."""

    host: str
    signer: Signer

    def origin(self, tenant_id: str) -> str:
        return f"{self.host}/{tenant_id}"


def key_of(log: LogStore, config: LogConfig, tenant_id: str, now: datetime) -> StoredKey:
    """The tenant's key, made (and stored sealed) on first use."""
    found = log.key(tenant_id)
    if found is not None:
        return found
    private, public = config.signer.new_key()
    made = StoredKey(config.origin(tenant_id), public, config.signer.seal(tenant_id, private))
    if log.add_key(tenant_id, made, now):
        return made
    stored = log.key(tenant_id)
    assert stored is not None
    return stored


def verifier_key(key: StoredKey) -> note.VerifierKey:
    return note.verifier_key(key.name, key.public_key)


def _sign(
    log: LogStore, config: LogConfig, tenant_id: str, size: int, now: datetime
) -> StoredCheckpoint:
    key = key_of(log, config, tenant_id, now)
    root = merkle.root(size, lambda level, index: log.node(tenant_id, level, index))
    body = note.Checkpoint(key.name, size, root).body()
    signature = config.signer.sign(
        config.signer.open(tenant_id, key.sealed_private_key), body.encode("utf-8")
    )
    text = note.signed(
        body, [note.Signature(key.name, note.key_hash(key.name, key.public_key), signature)]
    )
    log.add_checkpoint(tenant_id, size, root, text, now)
    return StoredCheckpoint(size, root, text, now)


def sign_if_due(
    log: LogStore,
    config: LogConfig,
    tenant_id: str,
    now: datetime,
    *,
    force: bool = False,
    sizes: tuple[int, int] | None = None,
) -> StoredCheckpoint | None:
    """Sign a checkpoint of the whole log if one is due (``force``: if any leaf waits); the
    first is signed at once, even of the empty log.

    Locks the head: one signer at a time, and no append between reading the size and storing
    the checkpoint. ``sizes``: (size, signed size) of the head this transaction holds locked
    already (an append's), not read again.
    """
    if sizes is None:
        head = log.head(tenant_id, for_update=True, now=now)
        sizes = (head.size, head.signed_size)
    size, signed = sizes
    latest = log.latest_checkpoint(tenant_id)
    if latest is not None and size == signed:
        return None
    due = (
        force or latest is None or size - signed >= EVERY_LEAVES or now - latest.created_at >= EVERY
    )
    return _sign(log, config, tenant_id, size, now) if due else None


def covering(
    log: LogStore, config: LogConfig, tenant_id: str, index: int, now: datetime
) -> StoredCheckpoint | None:
    """The latest checkpoint, signed now if it does not cover leaf ``index`` yet."""
    latest = log.latest_checkpoint(tenant_id)
    if latest is not None and latest.size > index:
        return latest
    return sign_if_due(log, config, tenant_id, now, force=True) or log.latest_checkpoint(tenant_id)
