"""``fast.deferring``: rows held back and sent together, in the order their foreign keys need,
on SQLite and PostgreSQL (the batch of paid orders writes through it)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from tokenmall.adapters.db import fast
from tokenmall.adapters.db.mall import integration as integration_repo
from tokenmall.adapters.db.mall.events import deliveries, events
from tokenmall.adapters.db.mall.events import webhook_endpoints as endpoints
from tokenmall.adapters.db.mall.tables import tenants as mall_tenants
from tokenmall.adapters.db.mall.tables import users
from tokenmall.adapters.db.store import Store

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_tables_come_after_the_tables_they_reference() -> None:
    external = integration_repo.external_users
    ordered = fast._fk_order([external, deliveries, users, events, endpoints])
    assert ordered.index(users) < ordered.index(external)
    assert ordered.index(events) < ordered.index(deliveries)
    assert ordered.index(endpoints) < ordered.index(deliveries)
    assert sorted(t.name for t in ordered) == sorted(
        t.name for t in [external, deliveries, users, events, endpoints]
    )


def _user(tenant_id: str, user_id: str, inviter: str | None) -> dict[str, object]:
    return {
        "tenant_id": tenant_id,
        "user_id": user_id,
        "email": f"{user_id}@example.invalid",
        "display_name": user_id,
        "password_hash": "!",
        "role": "consumer",
        "kyc_status": "none",
        "invite_code": user_id.upper(),
        "inviter_id": inviter,
        "created_at": NOW,
    }


def _external(tenant_id: str, external_id: str, user_id: str) -> dict[str, object]:
    return {
        "tenant_id": tenant_id,
        "external_id": external_id,
        "user_id": user_id,
        "referrer_user_id": None,
        "created_at": NOW,
    }


def test_held_rows_are_written_together_in_foreign_key_order(store: Store, tenant: str) -> None:
    external = integration_repo.external_users
    with store.transaction() as conn:
        fast.insert_dicts(
            conn, mall_tenants, [{"tenant_id": tenant, "name": "Shop", "created_at": NOW}]
        )
    with store.transaction() as conn:
        with fast.deferring(conn) as held:
            assert fast.deferred(conn)
            # the rows naming a user come first, the users after (the second invited by the
            # first): the flush puts them in the order the foreign keys need
            fast.insert_dicts(conn, external, [_external(tenant, "E2", "u2")])
            fast.insert_dicts(conn, users, [_user(tenant, "u1", None)])
            fast.insert_dicts(conn, users, [_user(tenant, "u2", "u1")])
            fast.insert_dicts(conn, external, [_external(tenant, "E1", "u1")])
            # a held row is changed where it waits; a row not held is not matched
            match = {"external_id": "E2", "referrer_user_id": None}
            assert fast.update_held(conn, external, match, {"referrer_user_id": "u1"}) == 1
            assert fast.update_held(conn, external, {"external_id": "E9"}, {}) == 0
            # reads inside the block do not see the held rows
            count = select(func.count()).select_from(users).where(users.c.tenant_id == tenant)
            assert conn.execute(count).scalar_one() == 0
            with pytest.raises(RuntimeError), fast.deferring(conn):
                pass
        assert not fast.deferred(conn)
        with fast.pipeline(conn, store.postgres):
            held.flush(conn)
        assert held.rows == {}
        assert conn.execute(count).scalar_one() == 2
    with store.read() as conn:
        found = {
            row[0]: (row[1], row[2])
            for row in conn.execute(
                select(
                    external.c.external_id, external.c.user_id, external.c.referrer_user_id
                ).where(external.c.tenant_id == tenant)
            )
        }
    assert found == {"E1": ("u1", None), "E2": ("u2", "u1")}
    # outside the block, rows are written at once (and update_held matches nothing)
    with store.transaction() as conn:
        assert fast.update_held(conn, external, {"external_id": "E1"}, {}) == 0
        fast.insert_dicts(conn, users, [_user(tenant, "u3", None)])
        assert conn.execute(count).scalar_one() == 3
