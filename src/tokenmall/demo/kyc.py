"""The demo's real-name verification: one consumer's submission waiting in the console's
review queue (刘洋's, fictitious values), once. The demo's own consumer (李娜) has none: she
submits hers on the real-name page, an admin verifies it in the console, and she withdraws."""

from __future__ import annotations

from datetime import datetime

from tokenmall import bootstrap
from tokenmall.config import DEFAULT_SECRET_KEY
from tokenmall.domain.mall.people import KycStatus
from tokenmall.services.mall import kyc
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import Database

# (email, real name, identity number, mobile): fictitious, with a valid check character.
WAITING = ("liu.yang@wine.demo", "刘洋", "330106199203154327", "13700137004")


def seed(
    db: Database,
    tenant_id: str,
    who: Principal,
    now: datetime,
    secret_key: str = DEFAULT_SECRET_KEY,
) -> bool:
    """``who``'s waiting submission (``WAITING``'s consumer), unless they already have a
    real-name status; whether it was made. ``secret_key`` is the server's (the built-in one in
    the demo)."""
    _, name, number, mobile = WAITING
    with db.unit() as uow:
        user = uow.people.get_user(tenant_id, who.subject_id)
        assert user is not None
        if user.kyc_status != KycStatus.NONE:
            return False
        kyc.submit(
            uow,
            bootstrap.kyc_sealer(secret_key),
            who,
            tenant_id,
            real_name=name,
            id_number=number,
            phone=mobile,
            now=now,
        )
    return True
