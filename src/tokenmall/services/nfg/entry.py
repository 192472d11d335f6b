"""The ``entry`` right checked in store: staff scan a token's certificate QR; each use logged.

The certificate's URL is ``/{tenant}/c/{collection_id}/{serial}`` (a full URL, the path, or
just ``collection_id/serial`` is accepted). A scan passes when the collection carries an
``entry`` right, the token is ``held`` and the scanner may check it (an admin, or a merchant of
the tenant: the issuing merchant's staff when a merchant issued the collection). A passed scan
is recorded in ``nfg_right_uses`` and as a ``right_used`` leaf of the log; a refused one
changes nothing. The token's owner (and staff) read the uses back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from tokenmall.adapters.db.nfg.registry import RightUse as RightUse
from tokenmall.domain.mall.people import Role
from tokenmall.domain.nfg import events as ev
from tokenmall.domain.nfg.lifecycle import TOKEN
from tokenmall.domain.nfg.records import Collection, Token, parse_token_key
from tokenmall.services.log.appending import record
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.mall import ids, validate
from tokenmall.services.mall.auth import Principal, actor, require
from tokenmall.services.mall.errors import Conflict, Forbidden, InvalidInput, NotFound
from tokenmall.services.mall.uow import MallUnitOfWork

STAFF: tuple[Role, ...] = (Role.MERCHANT, Role.ADMIN)
EVERYONE: tuple[Role, ...] = (Role.CONSUMER, Role.MERCHANT, Role.ADMIN)
MAX_CERTIFICATE = 500


@dataclass(frozen=True, slots=True)
class EntryCheck:
    collection: Collection
    token: Token
    use: RightUse
    uses: list[RightUse]


def parse_certificate(text: str, tenant_id: str) -> tuple[str, int]:
    """``(collection_id, serial)`` of a certificate URL (or its path, or ``collection/serial``)."""
    field = "certificate"
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_CERTIFICATE:
        raise InvalidInput("certificate must be the URL scanned from a certificate QR", field)
    path = urlsplit(text.strip()).path.strip("/")
    parts = path.split("/")
    if len(parts) >= 4 and parts[-3] == "c":
        if parts[-4] != tenant_id:
            raise InvalidInput("the certificate is not of this tenant", field)
        path = "/".join(parts[-2:])
    found = parse_token_key(path)
    if found is None:
        raise InvalidInput(
            "certificate must be a certificate URL: /{tenant}/c/{collection_id}/{serial}", field
        )
    return found


def _may_check(unit: MallUnitOfWork, who: Principal, collection: Collection) -> None:
    if who.role != Role.MERCHANT:
        return
    merchant = unit.catalogue.merchant_of_owner(collection.tenant_id, who.subject_id)
    if merchant is None:
        raise Forbidden("only a merchant's staff or an admin may check entry rights", "certificate")
    issuer = collection.issuer_merchant_id
    if issuer is not None and issuer != merchant.merchant_id:
        raise Forbidden(
            f"only the issuer's staff may check the entry right of {collection.name}",
            "certificate",
        )


def scan(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    *,
    certificate: str,
    note: str | None,
    config: LogConfig,
    now: datetime,
) -> EntryCheck:
    """Check the entry right of the scanned token and record its use."""
    who = require(caller, tenant_id, STAFF)
    collection_id, serial = parse_certificate(certificate, tenant_id)
    text = None if note is None or not note.strip() else validate.text(note, "note", max_length=200)
    collection = unit.nfg.get_collection(tenant_id, collection_id)
    if collection is None:
        raise NotFound(f"no collection {collection_id!r}", "certificate")
    if collection.rights.entry is None:
        raise Conflict(f"no_entry_right: {collection.name} carries no entry right", "certificate")
    _may_check(unit, who, collection)
    token = unit.nfg.get_token(tenant_id, collection_id, serial, for_update=True)
    if token is None:
        raise NotFound(f"token {collection_id}/{serial} was never minted", "certificate")
    TOKEN.check(token.state, "use_right", actor(who))
    use = RightUse(
        tenant_id,
        ids.new_id("use"),
        collection_id,
        serial,
        "entry",
        who.subject_id,
        None,
        text,
        now,
    )
    unit.nfg.add_right_use(use)
    event = ev.token_event(
        ev.RIGHT_USED,
        collection_id,
        serial,
        right="entry",
        entry=collection.rights.entry,
        use=use.use_id,
        by=who.subject_id,
    )
    record(unit.log, config, tenant_id, [event], now)
    return EntryCheck(collection, token, use, unit.nfg.right_uses(tenant_id, collection_id, serial))


def uses(
    unit: MallUnitOfWork, caller: Principal | None, tenant_id: str, collection_id: str, serial: int
) -> list[RightUse]:
    """The uses of a token's rights: for its owner, a merchant's staff or an admin."""
    who = require(caller, tenant_id, EVERYONE)
    token = unit.nfg.get_token(tenant_id, collection_id, serial)
    if token is None or (who.role == Role.CONSUMER and token.owner_id != who.subject_id):
        raise NotFound(f"no token {collection_id}/{serial} of yours")
    return unit.nfg.right_uses(tenant_id, collection_id, serial)
