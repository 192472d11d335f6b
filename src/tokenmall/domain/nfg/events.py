"""The NFG events the transparency log records, as log ``Event``s (nfg.md, "Leaves").

Every token event carries ``token`` (``collection/serial``), ``collection`` and ``serial``, and
is filed under the token (its certificate's history); collection events are filed under the
collection. Owners are user ids (opaque; a certificate masks the person behind one). Amounts
are integers of minor units with their asset.
"""

from __future__ import annotations

from tokenmall.domain.log.leaves import Event
from tokenmall.domain.nfg.records import Collection, token_key

COLLECTION_CREATED = "collection_created"
MINT = "mint"
TRANSFER = "transfer"
LIST = "list"
DELIST = "delist"
SALE = "sale"
REDEMPTION_REQUESTED = "redemption_requested"
REDEMPTION_CANCELLED = "redemption_cancelled"
REDEMPTION_DELIVERED = "redemption_delivered"
BURN = "burn"
RIGHT_USED = "right_used"
LOCK = "lock"
UNLOCK = "unlock"

TOKEN_EVENTS = frozenset(
    {
        MINT,
        TRANSFER,
        LIST,
        DELIST,
        SALE,
        REDEMPTION_REQUESTED,
        REDEMPTION_CANCELLED,
        REDEMPTION_DELIVERED,
        BURN,
        RIGHT_USED,
        LOCK,
        UNLOCK,
    }
)


def collection_created(collection: Collection) -> Event:
    return Event(
        COLLECTION_CREATED,
        f"collection/{collection.collection_id}",
        {
            "collection": collection.collection_id,
            "name": collection.name,
            "issuer": collection.issuer_merchant_id or collection.tenant_id,
            "edition_size": collection.edition_size,
            "price": collection.price,
            "price_asset": str(collection.price_asset),
            "rights": collection.rights.to_json(),
            "linked_sku": collection.linked_sku_id,
        },
    )


def token_event(kind: str, collection_id: str, serial: int, **fields: object) -> Event:
    if kind not in TOKEN_EVENTS:
        raise ValueError(f"{kind!r} is not a token event")
    key = token_key(collection_id, serial)
    body: dict[str, object] = {"token": key, "collection": collection_id, "serial": serial}
    body.update(fields)
    return Event(kind, key, body)


def mint(collection_id: str, serial: int, owner: str, via: str) -> Event:
    """``via``: how it was minted (``drop``, ``grant``)."""
    return token_event(MINT, collection_id, serial, to=owner, via=via)


def transfer(collection_id: str, serial: int, sender: str, recipient: str) -> Event:
    return token_event(TRANSFER, collection_id, serial, **{"from": sender, "to": recipient})
