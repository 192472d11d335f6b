"""The log's use cases as the edges call them, each in its own unit of work.

The public reads (checkpoint, key, entries, proofs, bundles) need no login. Reading the
checkpoint signs a due one first (so it is never more than 60 s behind a log that grew), and
the first read of a tenant's log makes its key and signs the empty tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tokenmall.adapters.db.nfg.log import StoredLeaf
from tokenmall.services.log import checkpoints, days, reading
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.log.fanout import THRESHOLD, Fanout
from tokenmall.services.log.reading import Bundle
from tokenmall.services.log.verify import StateCheck, Verdict, verify_tenant
from tokenmall.services.mall.errors import NotFound
from tokenmall.services.mall.uow import Database, MallUnitOfWork


def _tenant(unit: MallUnitOfWork, tenant_id: str) -> None:
    if not unit.log.tenant_exists(tenant_id):
        raise NotFound(f"no tenant {tenant_id}")


def checkpoint(db: Database, config: LogConfig, tenant_id: str, now: datetime) -> str:
    with db.unit() as unit:
        _tenant(unit, tenant_id)
        checkpoints.sign_if_due(unit.log, config, tenant_id, now)
        return reading.checkpoint_note(unit.log, tenant_id)


def key(db: Database, config: LogConfig, tenant_id: str, now: datetime) -> str:
    with db.unit() as unit:
        _tenant(unit, tenant_id)
        checkpoints.key_of(unit.log, config, tenant_id, now)
        return reading.key_text(unit.log, tenant_id)


def entries(db: Database, tenant_id: str, start: int, end: int) -> list[StoredLeaf]:
    with db.reading() as unit:
        _tenant(unit, tenant_id)
        return reading.entries(unit.log, tenant_id, start, end)


def inclusion(db: Database, tenant_id: str, index: int, tree_size: int) -> list[bytes]:
    with db.reading() as unit:
        _tenant(unit, tenant_id)
        return reading.inclusion(unit.log, tenant_id, index, tree_size)


def consistency(db: Database, tenant_id: str, first: int, second: int) -> list[bytes]:
    with db.reading() as unit:
        _tenant(unit, tenant_id)
        return reading.consistency(unit.log, tenant_id, first, second)


def bundle(db: Database, config: LogConfig, tenant_id: str, subject: str, now: datetime) -> Bundle:
    with db.unit() as unit:
        _tenant(unit, tenant_id)
        return reading.bundle(unit.log, config, tenant_id, subject, now, anchors=unit.anchors)


def tick(db: Database, config: LogConfig, now: datetime) -> dict[str, int]:
    """For every tenant with a log or settled days: log the settled days not logged yet and
    sign a due checkpoint. How many leaves each tenant's log holds after."""
    with db.reading() as unit:
        tenants = sorted(set(unit.log.tenants()) | set(unit.log.settled_tenants()))
    sizes: dict[str, int] = {}
    for tenant_id in tenants:
        with db.unit() as unit:
            if not unit.log.tenant_exists(tenant_id):
                continue
            days.log_settled_days(unit.log, tenant_id, now)
            checkpoints.sign_if_due(unit.log, config, tenant_id, now)
            head = unit.log.peek(tenant_id)
            sizes[tenant_id] = 0 if head is None else head.size
    return sizes


def verify(
    db: Database,
    config: LogConfig,
    tenant_id: str | None = None,
    checks: Sequence[StateCheck] = (),
    jobs: int = 1,
    threshold: int = THRESHOLD,
) -> list[Verdict]:
    """Every tenant's log (or one's) verified; a log of ``threshold`` leaves or more is checked
    by ``jobs`` worker processes (``fanout``), with the same verdicts."""
    with Fanout.of(db, jobs, threshold) as fanout, db.reading() as unit:
        tenants = [tenant_id] if tenant_id is not None else unit.log.tenants()
        if tenant_id is not None and not unit.log.tenant_exists(tenant_id):
            raise NotFound(f"no tenant {tenant_id}")
        return [verify_tenant(unit.log, config, t, checks, fanout) for t in tenants]
