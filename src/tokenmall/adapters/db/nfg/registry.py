"""Queries of the NFG registry (``tables``): the ``NfgRegistry`` port in SQL.

Counters change by atomic updates guarded in SQL (``reserve`` takes places from the drop's
counter rows, ``counters``, whose CHECK keeps each ``free >= 0``, so two buyers can never both
take the last one);
rows a use case will change are read ``FOR UPDATE`` (collection first, then tokens in serial
order: one lock order, no deadlocks).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, select, update

from tokenmall.adapters.db.mall import config_version
from tokenmall.adapters.db.mall.rows import aware, maybe_aware
from tokenmall.adapters.db.nfg import counters
from tokenmall.adapters.db.nfg.tables import (
    nfg_allow_list,
    nfg_collections,
    nfg_media,
    nfg_reservations,
    nfg_right_uses,
    nfg_settings,
    nfg_tokens,
)
from tokenmall.domain.nfg.records import (
    Collection,
    CollectionStatus,
    PriceAsset,
    Reservation,
    ReservationStatus,
    Token,
    TokenState,
)
from tokenmall.domain.nfg.rights import parse_rights


@dataclass(frozen=True, slots=True)
class Media:
    tenant_id: str
    media_id: str
    content_type: str
    width: int
    height: int
    sha256: str
    data: bytes
    thumbnail: bytes
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RightUse:
    tenant_id: str
    use_id: str
    collection_id: str
    serial: int
    right_kind: str
    used_by: str
    order_id: str | None
    note: str | None
    used_at: datetime


def _collection(row: Any) -> Collection:
    r = row._mapping
    return Collection(
        tenant_id=r["tenant_id"],
        collection_id=r["collection_id"],
        name=r["name"],
        description=r["description"],
        issuer_merchant_id=r["issuer_merchant_id"],
        edition_size=int(r["edition_size"]),
        price=int(r["price"]),
        price_asset=PriceAsset(r["price_asset"]),
        per_user_limit=int(r["per_user_limit"]),
        rights=parse_rights(json.loads(r["rights"])),
        status=CollectionStatus(r["status"]),
        created_at=aware(r["created_at"]),
        sale_starts_at=maybe_aware(r["sale_starts_at"]),
        sale_ends_at=maybe_aware(r["sale_ends_at"]),
        allow_list_only=bool(r["allow_list_only"]),
        linked_sku_id=r["linked_sku_id"],
        media_id=r["media_id"],
        reserved=int(r["reserved"]),
        minted=int(r["minted"]),
        burned=int(r["burned"]),
    )


def _token(row: Any) -> Token:
    r = row._mapping
    return Token(
        r["tenant_id"],
        r["collection_id"],
        int(r["serial"]),
        r["owner_id"],
        TokenState(r["state"]),
        aware(r["acquired_at"]),
        None if r["traded_at"] is None else aware(r["traded_at"]),
    )


def _reservation(row: Any) -> Reservation:
    r = row._mapping
    serials = tuple(json.loads(r["serials"])) if r["serials"] else ()
    return Reservation(
        tenant_id=r["tenant_id"],
        reservation_id=r["reservation_id"],
        collection_id=r["collection_id"],
        user_id=r["user_id"],
        quantity=int(r["quantity"]),
        amount=int(r["amount"]),
        asset=PriceAsset(r["asset"]),
        status=ReservationStatus(r["status"]),
        created_at=aware(r["created_at"]),
        expires_at=aware(r["expires_at"]),
        payment_id=r["payment_id"],
        serials=serials,
    )


class SqlNfg:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- settings

    def gift_hold_days(self, tenant_id: str) -> int:
        found = self.conn.execute(
            select(nfg_settings.c.gift_hold_days).where(nfg_settings.c.tenant_id == tenant_id)
        ).scalar_one_or_none()
        return 0 if found is None else int(found)

    def set_gift_hold_days(self, tenant_id: str, days: int, now: datetime) -> None:
        changed = self.conn.execute(
            update(nfg_settings)
            .where(nfg_settings.c.tenant_id == tenant_id)
            .values(gift_hold_days=days, updated_at=now)
        ).rowcount
        if not changed:
            self.conn.execute(
                insert(nfg_settings).values(
                    tenant_id=tenant_id, gift_hold_days=days, updated_at=now
                )
            )

    # -- media

    def add_media(self, media: Media) -> None:
        self.conn.execute(
            insert(nfg_media).values(
                tenant_id=media.tenant_id,
                media_id=media.media_id,
                content_type=media.content_type,
                width=media.width,
                height=media.height,
                sha256=media.sha256,
                data=media.data,
                thumbnail=media.thumbnail,
                created_at=media.created_at,
            )
        )

    def get_media(self, tenant_id: str, media_id: str) -> Media | None:
        row = self.conn.execute(
            select(nfg_media).where(
                nfg_media.c.tenant_id == tenant_id, nfg_media.c.media_id == media_id
            )
        ).first()
        if row is None:
            return None
        r = row._mapping
        return Media(
            r["tenant_id"],
            r["media_id"],
            r["content_type"],
            int(r["width"]),
            int(r["height"]),
            r["sha256"],
            bytes(r["data"]),
            bytes(r["thumbnail"]),
            aware(r["created_at"]),
        )

    # -- collections

    def add_collection(self, collection: Collection) -> None:
        config_version.bump(self.conn, collection.tenant_id)  # the checkout's cached rights
        self.conn.execute(
            insert(nfg_collections).values(
                tenant_id=collection.tenant_id,
                collection_id=collection.collection_id,
                name=collection.name,
                description=collection.description,
                issuer_merchant_id=collection.issuer_merchant_id,
                media_id=collection.media_id,
                edition_size=collection.edition_size,
                price=collection.price,
                price_asset=str(collection.price_asset),
                per_user_limit=collection.per_user_limit,
                rights=json.dumps(collection.rights.to_json(), sort_keys=True),
                linked_sku_id=collection.linked_sku_id,
                allow_list_only=collection.allow_list_only,
                status=str(collection.status),
                sale_starts_at=collection.sale_starts_at,
                sale_ends_at=collection.sale_ends_at,
                reserved=collection.reserved,
                minted=collection.minted,
                burned=collection.burned,
                created_at=collection.created_at,
            )
        )

    def get_collection(
        self, tenant_id: str, collection_id: str, *, for_update: bool = False
    ) -> Collection | None:
        query = counters.collection_select().where(
            nfg_collections.c.tenant_id == tenant_id,
            nfg_collections.c.collection_id == collection_id,
        )
        if for_update:
            # FOR NO KEY UPDATE: reservations and counters referring to the row still insert
            query = query.with_for_update(of=nfg_collections, key_share=True)
        row = self.conn.execute(query).first()
        return None if row is None else _collection(row)

    def list_collections(
        self,
        tenant_id: str,
        *,
        statuses: Sequence[CollectionStatus] | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[Collection]:
        query = counters.collection_select().where(nfg_collections.c.tenant_id == tenant_id)
        if statuses is not None:
            query = query.where(nfg_collections.c.status.in_([str(s) for s in statuses]))
        if after is not None:
            query = query.where(nfg_collections.c.collection_id > after)
        rows = self.conn.execute(query.order_by(nfg_collections.c.collection_id).limit(limit))
        return [_collection(row) for row in rows]

    def set_collection_fields(
        self, tenant_id: str, collection_id: str, values: dict[str, object]
    ) -> None:
        """Set plain fields (name, description, status, sale window, media, price…);
        ``rights`` is given as ``Rights`` and stored as JSON. Never the counters."""
        if "rights" in values:
            rights = values["rights"]
            values = {**values, "rights": json.dumps(rights.to_json(), sort_keys=True)}  # type: ignore[attr-defined]
        assert not {"reserved", "minted", "burned"} & set(values)
        if {"rights", "name"} & set(values):
            config_version.bump(self.conn, tenant_id)  # the checkout's cached rights
        self.conn.execute(
            update(nfg_collections)
            .where(
                nfg_collections.c.tenant_id == tenant_id,
                nfg_collections.c.collection_id == collection_id,
            )
            .values(**{k: (str(v) if hasattr(v, "value") else v) for k, v in values.items()})
        )

    def reserve(
        self, tenant_id: str, collection_id: str, places: int, held: counters.Held | None = None
    ) -> bool:
        """Take ``places`` from what is for sale (``counters.take``, the counters opened on
        first use); False if fewer are left (the caller's transaction then rolls back).
        ``held``: a batch's take (its last row tried first; ``counters.Busy``, never a sleep)."""
        took = counters.take(self.conn, tenant_id, collection_id, places, held)
        if took is None:
            counters.open_counters(self.conn, tenant_id, collection_id)
            took = counters.take(self.conn, tenant_id, collection_id, places, held)
        return bool(took)

    def release(self, tenant_id: str, collection_id: str, places: int) -> None:
        """Return reserved places to sale (an expired reservation)."""
        if counters.release(self.conn, tenant_id, collection_id, places):
            return
        counters.lock_collection(self.conn, tenant_id, collection_id)
        if counters.release(self.conn, tenant_id, collection_id, places):
            return  # opened meanwhile
        c = nfg_collections.c
        self.conn.execute(
            update(nfg_collections)
            .where(c.tenant_id == tenant_id, c.collection_id == collection_id)
            .values(reserved=c.reserved - places)
        )

    def take_serials(
        self, tenant_id: str, collection_id: str, count: int, *, from_reserved: bool
    ) -> list[int]:
        """The next ``count`` serials, in order, taken by one atomic ``UPDATE … RETURNING`` (the
        row's lock is held from there to the commit: callers take it last they can);
        ``from_reserved``: the places were reserved (the reservation turns into them), else
        they are taken from what is for sale first (none: ``[]``, nothing changed)."""
        conn, c = self.conn, nfg_collections.c
        opened = counters.is_open(conn, tenant_id, collection_id)
        if not opened:
            counters.lock_collection(conn, tenant_id, collection_id)
            opened = counters.is_open(conn, tenant_id, collection_id)
        if (
            opened
            and not from_reserved
            and not counters.take(conn, tenant_id, collection_id, count)
        ):
            return []
        values: dict[str, Any] = {"minted": c.minted + count}
        if from_reserved and not opened:
            values["reserved"] = c.reserved - count
        minted = conn.execute(
            update(nfg_collections)
            .where(c.tenant_id == tenant_id, c.collection_id == collection_id)
            .values(**values)
            .returning(c.minted)
        ).scalar_one()
        return list(range(int(minted) - count + 1, int(minted) + 1))

    def count_burned(self, tenant_id: str, collection_id: str, count: int = 1) -> None:
        c = nfg_collections.c
        self.conn.execute(
            update(nfg_collections)
            .where(c.tenant_id == tenant_id, c.collection_id == collection_id)
            .values(burned=c.burned + count)
        )

    # -- allow-lists

    def set_allow_list(self, tenant_id: str, collection_id: str, user_ids: Sequence[str]) -> None:
        self.conn.execute(
            delete(nfg_allow_list).where(
                nfg_allow_list.c.tenant_id == tenant_id,
                nfg_allow_list.c.collection_id == collection_id,
            )
        )
        if user_ids:
            self.conn.execute(
                insert(nfg_allow_list),
                [
                    {"tenant_id": tenant_id, "collection_id": collection_id, "user_id": u}
                    for u in dict.fromkeys(user_ids)
                ],
            )

    def allowed(self, tenant_id: str, collection_id: str, user_id: str) -> bool:
        return (
            self.conn.execute(
                select(nfg_allow_list.c.user_id).where(
                    nfg_allow_list.c.tenant_id == tenant_id,
                    nfg_allow_list.c.collection_id == collection_id,
                    nfg_allow_list.c.user_id == user_id,
                )
            ).first()
            is not None
        )

    # -- tokens

    def add_tokens(self, tokens: Sequence[Token], now: datetime) -> None:
        if tokens:
            self.conn.execute(
                insert(nfg_tokens),
                [
                    {
                        "tenant_id": t.tenant_id,
                        "collection_id": t.collection_id,
                        "serial": t.serial,
                        "owner_id": t.owner_id,
                        "state": str(t.state),
                        "acquired_at": t.acquired_at,
                        "traded_at": t.traded_at or t.acquired_at,  # a mint
                        "updated_at": now,
                    }
                    for t in tokens
                ],
            )

    def get_token(
        self, tenant_id: str, collection_id: str, serial: int, *, for_update: bool = False
    ) -> Token | None:
        query = select(nfg_tokens).where(
            nfg_tokens.c.tenant_id == tenant_id,
            nfg_tokens.c.collection_id == collection_id,
            nfg_tokens.c.serial == serial,
        )
        if for_update:
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        return None if row is None else _token(row)

    def tokens_of_owner(
        self, tenant_id: str, owner_id: str, *, collection_id: str | None = None
    ) -> list[Token]:
        query = select(nfg_tokens).where(
            nfg_tokens.c.tenant_id == tenant_id, nfg_tokens.c.owner_id == owner_id
        )
        if collection_id is not None:
            query = query.where(nfg_tokens.c.collection_id == collection_id)
        rows = self.conn.execute(query.order_by(nfg_tokens.c.collection_id, nfg_tokens.c.serial))
        return [_token(row) for row in rows]

    def tokens_of_collection(
        self, tenant_id: str, collection_id: str, *, after: int = 0, limit: int = 1000
    ) -> list[Token]:
        rows = self.conn.execute(
            select(nfg_tokens)
            .where(
                nfg_tokens.c.tenant_id == tenant_id,
                nfg_tokens.c.collection_id == collection_id,
                nfg_tokens.c.serial > after,
            )
            .order_by(nfg_tokens.c.serial)
            .limit(limit)
        )
        return [_token(row) for row in rows]

    def all_tokens(self, tenant_id: str) -> list[Token]:
        rows = self.conn.execute(
            select(nfg_tokens)
            .where(nfg_tokens.c.tenant_id == tenant_id)
            .order_by(nfg_tokens.c.collection_id, nfg_tokens.c.serial)
        )
        return [_token(row) for row in rows]

    def held_count(self, tenant_id: str, collection_id: str, owner_id: str) -> int:
        """Tokens of the collection the owner holds now (in any state but redeemed/burned)."""
        return int(
            self.conn.execute(
                select(func.count()).where(
                    nfg_tokens.c.tenant_id == tenant_id,
                    nfg_tokens.c.collection_id == collection_id,
                    nfg_tokens.c.owner_id == owner_id,
                    nfg_tokens.c.state.not_in([str(TokenState.REDEEMED), str(TokenState.BURNED)]),
                )
            ).scalar_one()
        )

    def move_token(
        self,
        tenant_id: str,
        collection_id: str,
        serial: int,
        *,
        state: TokenState,
        now: datetime,
        owner_id: str | None = None,
        traded: bool = False,
    ) -> None:
        """Set the token's state (and owner, which also resets ``acquired_at``; ``traded``: the
        owner bought it, which also resets ``traded_at``)."""
        values: dict[str, Any] = {"state": str(state), "updated_at": now}
        if owner_id is not None:
            values.update(owner_id=owner_id, acquired_at=now)
            if traded:
                values.update(traded_at=now)
        self.conn.execute(
            update(nfg_tokens)
            .where(
                nfg_tokens.c.tenant_id == tenant_id,
                nfg_tokens.c.collection_id == collection_id,
                nfg_tokens.c.serial == serial,
            )
            .values(**values)
        )

    # -- reservations

    def add_reservation(self, reservation: Reservation) -> None:
        self.conn.execute(
            insert(nfg_reservations).values(
                tenant_id=reservation.tenant_id,
                reservation_id=reservation.reservation_id,
                collection_id=reservation.collection_id,
                user_id=reservation.user_id,
                quantity=reservation.quantity,
                amount=reservation.amount,
                asset=str(reservation.asset),
                status=str(reservation.status),
                payment_id=reservation.payment_id,
                serials=json.dumps(list(reservation.serials)) if reservation.serials else None,
                created_at=reservation.created_at,
                expires_at=reservation.expires_at,
            )
        )

    def get_reservation(
        self, tenant_id: str, reservation_id: str, *, for_update: bool = False
    ) -> Reservation | None:
        query = select(nfg_reservations).where(
            nfg_reservations.c.tenant_id == tenant_id,
            nfg_reservations.c.reservation_id == reservation_id,
        )
        if for_update:
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        return None if row is None else _reservation(row)

    def reservations_of_user(
        self, tenant_id: str, collection_id: str, user_id: str
    ) -> list[Reservation]:
        rows = self.conn.execute(
            select(nfg_reservations)
            .where(
                nfg_reservations.c.tenant_id == tenant_id,
                nfg_reservations.c.collection_id == collection_id,
                nfg_reservations.c.user_id == user_id,
            )
            .order_by(nfg_reservations.c.created_at)
        )
        return [_reservation(row) for row in rows]

    def due_reservations(self, now: datetime, limit: int = 500) -> list[Reservation]:
        """Open reservations past their expiry, any tenant, oldest first."""
        rows = self.conn.execute(
            select(nfg_reservations)
            .where(
                and_(
                    nfg_reservations.c.status == str(ReservationStatus.RESERVED),
                    nfg_reservations.c.expires_at <= now,
                )
            )
            .order_by(nfg_reservations.c.expires_at)
            .limit(limit)
        )
        return [_reservation(row) for row in rows]

    def close_reservation(
        self,
        tenant_id: str,
        reservation_id: str,
        *,
        status: ReservationStatus,
        now: datetime,
        serials: Sequence[int] = (),
        payment_id: str | None = None,
    ) -> None:
        values: dict[str, Any] = {"status": str(status), "closed_at": now}
        if serials:
            values["serials"] = json.dumps(list(serials))
        if payment_id is not None:
            values["payment_id"] = payment_id
        self.conn.execute(
            update(nfg_reservations)
            .where(
                nfg_reservations.c.tenant_id == tenant_id,
                nfg_reservations.c.reservation_id == reservation_id,
            )
            .values(**values)
        )

    def set_reservation_payment(self, tenant_id: str, reservation_id: str, payment_id: str) -> None:
        self.conn.execute(
            update(nfg_reservations)
            .where(
                nfg_reservations.c.tenant_id == tenant_id,
                nfg_reservations.c.reservation_id == reservation_id,
            )
            .values(payment_id=payment_id)
        )

    # -- uses of rights

    def add_right_use(self, use: RightUse) -> None:
        self.conn.execute(
            insert(nfg_right_uses).values(
                tenant_id=use.tenant_id,
                use_id=use.use_id,
                collection_id=use.collection_id,
                serial=use.serial,
                right_kind=use.right_kind,
                used_by=use.used_by,
                order_id=use.order_id,
                note=use.note,
                used_at=use.used_at,
            )
        )

    def right_uses(self, tenant_id: str, collection_id: str, serial: int) -> list[RightUse]:
        rows = self.conn.execute(
            select(nfg_right_uses)
            .where(
                nfg_right_uses.c.tenant_id == tenant_id,
                nfg_right_uses.c.collection_id == collection_id,
                nfg_right_uses.c.serial == serial,
            )
            .order_by(nfg_right_uses.c.used_at, nfg_right_uses.c.use_id)
        )
        return [
            RightUse(
                r.tenant_id,
                r.use_id,
                r.collection_id,
                int(r.serial),
                r.right_kind,
                r.used_by,
                r.order_id,
                r.note,
                aware(r.used_at),
            )
            for r in rows
        ]
