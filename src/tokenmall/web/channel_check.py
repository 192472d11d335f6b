"""At start, every tenant's payment channels switched on are made as a checkout would make them,
in a thread of their own (a key set takes a tenth of a second to load, so the server does not
wait): a key set that no longer opens (the deployment's secret changed) or no longer loads is
logged as an error naming the tenant, the channel and what is wrong, before a shopper meets it
(a checkout through it is refused with 409, never a 500). The gateways made are kept, so the
first checkouts find them ready. ``app.state.channel_problems`` holds what was found.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from tokenmall.config import Settings
from tokenmall.services.mall import payment_channels as channels
from tokenmall.services.mall.uow import Database, utc_now
from tokenmall.web.api.payment_channels import registry_of_app

log = logging.getLogger("tokenmall.payments")


def check(app: Any, db: Database, settings: Settings) -> list[channels.ChannelProblem] | None:
    """What is wrong with the channels switched on (logged), or None when they could not be
    read (a database not migrated yet: said once, as a warning)."""
    base = (settings.payments_public_url or "").rstrip("/")
    try:
        with db.reading() as uow:
            found = channels.check_switched_on(uow, registry_of_app(app), base, utc_now())
    except SQLAlchemyError as exc:
        log.warning("payment channels not checked at start: %s", type(exc).__name__)
        return None
    for problem in found:
        log.error(
            "payment channel %s of tenant %s cannot take payments: %s",
            problem.channel,
            problem.tenant_id,
            problem.problem,
            extra={"fields": {"tenant": problem.tenant_id, "channel": problem.channel}},
        )
    return found


def start(app: Any, db: Database, settings: Settings) -> threading.Event:
    """Run ``check`` in a thread; the event is set when it is done."""
    done = threading.Event()

    def run() -> None:
        try:
            app.state.channel_problems = check(app, db, settings)
        finally:
            done.set()

    threading.Thread(target=run, name="payment-channel-check", daemon=True).start()
    return done
