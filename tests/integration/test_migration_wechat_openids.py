"""Migration 0043 on both databases: ``wechat_openids`` appears with its keys (one openid per
tenant, member and app id; the member must exist; an openid is never empty), the repository
keeps an openid once and replaces it when WeChat answers another, and the table goes away on a
downgrade to 0042, leaving every other table as it was."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import insert, inspect, select
from sqlalchemy.exc import IntegrityError

from tokenmall.adapters.db import migrate
from tokenmall.adapters.db.mall import tables as m
from tokenmall.adapters.db.mall.wechat_openids import SqlWechatOpenids
from tokenmall.adapters.db.store import Store

BEFORE = "0042_anchor_deploy_tx"
REVISION = "0043_wechat_openids"
APP = "wxd678efh567hg6787"


def _migrate(store: Store, direction: str, target: str) -> None:
    cfg = migrate.config()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, direction)(cfg, target)


def _tables(store: Store) -> set[str]:
    return set(inspect(store.engine).get_table_names())


def _member(store: Store) -> tuple[str, str]:
    tenant, now = f"t{uuid.uuid4().hex[:12]}", datetime.now(UTC)
    with store.transaction() as conn:
        store.create_tenant(conn, tenant)
        conn.execute(insert(m.tenants).values(tenant_id=tenant, name="T", created_at=now))
        conn.execute(
            insert(m.users).values(
                tenant_id=tenant, user_id="usr_shopper", email="s@x.test", display_name="s",
                password_hash="x", role="consumer", kyc_status="none", invite_code="S1",
                created_at=now,
            )
        )  # fmt: skip
    return tenant, "usr_shopper"


def _openids(store: Store, tenant: str) -> list[str]:
    with store.read() as conn:
        found = conn.execute(
            select(m.wechat_openids.c.openid).where(m.wechat_openids.c.tenant_id == tenant)
        )
        return [str(o) for o in found.scalars()]


def _row(tenant: str, user: str, openid: str) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "tenant_id": tenant, "user_id": user, "app_id": APP, "openid": openid,
        "created_at": now, "updated_at": now,
    }  # fmt: skip


def test_0043_adds_the_openids_table_with_its_keys_and_downgrades_back(store: Store) -> None:
    scripts = ScriptDirectory.from_config(migrate.config())
    assert scripts.get_revision(REVISION).down_revision == BEFORE
    assert REVISION in {r.revision for r in scripts.walk_revisions()}
    assert "wechat_openids" in _tables(store)
    _migrate(store, "downgrade", BEFORE)
    try:
        assert "wechat_openids" not in _tables(store)
        assert {"payment_channels", "mall_users", "log_anchor_settings"} <= _tables(store)
    finally:
        _migrate(store, "upgrade", "heads")
    assert migrate.current(store.engine) == migrate.heads()
    tenant, user = _member(store)
    with store.transaction() as conn:
        conn.execute(insert(m.wechat_openids).values(_row(tenant, user, "o_first_openid")))
    for bad in (
        _row(tenant, user, "o_second_openid"),  # one per member and app
        _row(tenant, "usr_nobody", "o_third_openid"),  # the member must exist
        _row(tenant, user, ""),  # never empty
    ):
        with pytest.raises(IntegrityError), store.transaction() as conn:
            conn.execute(insert(m.wechat_openids).values(bad))
    assert _openids(store, tenant) == ["o_first_openid"]


def test_the_repository_keeps_an_openid_once_and_replaces_another(store: Store) -> None:
    tenant, user = _member(store)
    now = datetime.now(UTC)
    later = now + timedelta(minutes=5)
    with store.transaction() as conn:
        rows = SqlWechatOpenids(conn)
        assert rows.get(tenant, user, APP) is None
        assert rows.put(tenant, user, APP, "o_payer_one", now) is True
        assert rows.put(tenant, user, APP, "o_payer_one", later) is False
        assert rows.get(tenant, user, APP) == "o_payer_one"
        assert rows.get(tenant, user, "wx_other_app_1") is None
    with store.read() as conn:
        (row,) = conn.execute(
            select(m.wechat_openids).where(m.wechat_openids.c.tenant_id == tenant)
        ).all()
    assert row.updated_at == row.created_at  # the same openid again changed nothing
    with store.transaction() as conn:
        assert SqlWechatOpenids(conn).put(tenant, user, APP, "o_payer_two", later) is True
    assert _openids(store, tenant) == ["o_payer_two"]
