"""What a log leaf says: an event's canonical JSON, and the digest of a settled ledger day.

A leaf is the canonical JSON (``canonical.encode``) of an object carrying ``type``, ``tenant``,
``index`` (its position in the tenant's log), ``time`` (UTC, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``)
and the event's own fields. The event's ``subject`` (a token's ``collection/serial``, a
collection's id, a day) is stored beside the leaf to find a token's history; it is not part of
the hash unless the event's fields carry it.

A settled day's digest is SHA-256 over the canonical JSON of each journal it closes, in id
order, each followed by a newline: the journal's id, code, idempotency key, fingerprint,
result, business date, the journal it reverses, its time, and its postings as
``[line, account, holder, asset, amount]``. Editing any of them changes the digest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from tokenmall.domain.log import canonical

UTC = timezone.utc  # noqa: UP017  (the domain imports value types of datetime only)
RESERVED = frozenset({"type", "tenant", "index", "time"})
LEDGER_DAY = "ledger_day"


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    subject: str | None
    fields: Mapping[str, object] = field(default_factory=dict)


def log_time(moment: datetime) -> str:
    """UTC with microseconds and a ``Z`` (a naive time is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def leaf_bytes(tenant_id: str, index: int, moment: datetime, event: Event) -> bytes:
    clash = RESERVED.intersection(event.fields)
    if clash:
        raise ValueError(f"an event's fields may not be named {sorted(clash)}")
    body: dict[str, object] = dict(event.fields)
    body.update(type=event.type, tenant=tenant_id, index=index, time=log_time(moment))
    return canonical.encode(body)


def journal_form(
    journal: Mapping[str, object], lines: Iterable[tuple[int, str, str, str, int]]
) -> dict[str, object]:
    """One journal as the day's digest reads it."""
    business_date = journal["business_date"]
    created_at = journal["created_at"]
    reverses = journal["reverses"]
    return {
        "journal_id": int(str(journal["journal_id"])),
        "code": str(journal["code"]),
        "idempotency_key": str(journal["idempotency_key"]),
        "fingerprint": str(journal["fingerprint"]),
        "result": str(journal["result"]),
        "business_date": business_date.isoformat() if isinstance(business_date, date) else None,
        "reverses": None if reverses is None else int(str(reverses)),
        "created_at": log_time(created_at) if isinstance(created_at, datetime) else None,
        "postings": [list(line) for line in lines],
    }


@dataclass(frozen=True, slots=True)
class DayDigest:
    journals: int
    first_journal_id: int | None
    last_journal_id: int | None
    digest: bytes


def day_digest(
    journals: Iterable[tuple[Mapping[str, object], list[tuple[int, str, str, str, int]]]],
) -> DayDigest:
    hasher = hashlib.sha256()
    count, first, last = 0, None, None
    for journal, lines in journals:
        form = journal_form(journal, lines)
        hasher.update(canonical.encode(form) + b"\n")
        journal_id = form["journal_id"]
        assert isinstance(journal_id, int)
        first = journal_id if first is None else first
        last = journal_id
        count += 1
    return DayDigest(count, first, last, hasher.digest())


def day_event(day: date, digest: DayDigest) -> Event:
    return Event(
        LEDGER_DAY,
        f"day/{day.isoformat()}",
        {
            "day": day.isoformat(),
            "journals": digest.journals,
            "first_journal_id": digest.first_journal_id,
            "last_journal_id": digest.last_journal_id,
            "digest": digest.digest.hex(),
        },
    )
