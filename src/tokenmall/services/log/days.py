"""Logging the ledger's settled days: one leaf per day, with the digest of its journals."""

from __future__ import annotations

from datetime import datetime

from tokenmall.adapters.db.nfg.log import LoggedDay
from tokenmall.domain.log.leaves import day_digest, day_event
from tokenmall.services.log import appending
from tokenmall.services.log.ports import LogStore


def log_settled_days(log: LogStore, tenant_id: str, now: datetime) -> int:
    """Append a leaf for every settled day not logged yet, in date order; how many."""
    logged = {d.day for d in log.logged_days(tenant_id)}
    added = 0
    for day in log.settled_days(tenant_id):
        if day.day in logged or day.first_journal_id is None or day.last_journal_id is None:
            continue
        digest = day_digest(
            log.journals_between(tenant_id, day.first_journal_id, day.last_journal_id)
        )
        appended = appending.append(log, tenant_id, [day_event(day.day, digest)], now)
        log.add_day(
            tenant_id,
            LoggedDay(
                day.day,
                digest.first_journal_id,
                digest.last_journal_id,
                digest.journals,
                digest.digest,
                appended.first_index,
            ),
        )
        added += 1
    return added
