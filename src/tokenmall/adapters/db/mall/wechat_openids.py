"""The shoppers' openids under their shop's WeChat app (table ``wechat_openids``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from tokenmall.adapters.db.mall.tables import wechat_openids


class SqlWechatOpenids:
    """The ``OpenidRows`` port (``services/mall/wechat_openids.py``)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, tenant_id: str, user_id: str, app_id: str) -> str | None:
        found = self.conn.execute(
            select(wechat_openids.c.openid).where(
                wechat_openids.c.tenant_id == tenant_id,
                wechat_openids.c.user_id == user_id,
                wechat_openids.c.app_id == app_id,
            )
        ).scalar()
        return None if found is None else str(found)

    def put(self, tenant_id: str, user_id: str, app_id: str, openid: str, now: datetime) -> bool:
        """Keep ``openid`` for the member and app; True if that changed the table (a first
        openid, or another one than before), False if it was there already."""
        key = (
            wechat_openids.c.tenant_id == tenant_id,
            wechat_openids.c.user_id == user_id,
            wechat_openids.c.app_id == app_id,
        )
        known = self.get(tenant_id, user_id, app_id)
        if known == openid:
            return False
        if known is None:
            try:
                with self.conn.begin_nested():
                    self.conn.execute(
                        insert(wechat_openids).values(
                            tenant_id=tenant_id,
                            user_id=user_id,
                            app_id=app_id,
                            openid=openid,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                return True
            except IntegrityError:  # the same member's other tab stored it a moment ago
                if self.get(tenant_id, user_id, app_id) == openid:
                    return False
        done = self.conn.execute(
            update(wechat_openids)
            .where(*key, wechat_openids.c.openid != openid)
            .values(openid=openid, updated_at=now)
        )
        return bool(done.rowcount)
