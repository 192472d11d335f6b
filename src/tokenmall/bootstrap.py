"""The composition root: the one place that builds the adapters and hands them to services.

``web`` and ``cli`` never import ``tokenmall.adapters``; they ask this module for a
``Database`` (the services' unit of work over an engine), a ledger ``Store``, the schema's
state, or the database URL the settings name. The import contract in pyproject.toml keeps it
so: this module sits between the edges (web, cli) and the services, and may import adapters.
``Store`` and ``UnsupportedDatabase`` are named here because the CLI holds the store this
module opens and reports the URL it refuses.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine

from tokenmall.adapters.db import migrate
from tokenmall.adapters.db.engine import UnsupportedDatabase, make_engine, require_existing
from tokenmall.adapters.db.settings import database_url
from tokenmall.adapters.db.store import Store
from tokenmall.adapters.payments import delivery as sandbox_delivery
from tokenmall.adapters.payments import sandbox_page, wechat_check, wechat_keys
from tokenmall.adapters.payments.sandbox import SandboxGateway, parse_sandbox_ref
from tokenmall.adapters.payments.wechat import WECHAT, WechatGateway
from tokenmall.adapters.signing import Ed25519Signer, payment_keys_sealer, personal_data_sealer
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.log.verify import StateCheck
from tokenmall.services.mall.gateway import Gateway, NoGateway
from tokenmall.services.mall.kyc import Sealer
from tokenmall.services.mall.payment_channels import ChannelKind, GatewayContext, Registry
from tokenmall.services.mall.uow import Database, MallUnitOfWork
from tokenmall.services.nfg import state_check
from tokenmall.services.nfg.redemption_orders import RedemptionSteps

# A redemption's order (提货) closing moves its token: the NFG's steps, on the same unit.
MallUnitOfWork.wire_token_orders(RedemptionSteps)


def open_database(url: str, *, must_exist: bool = False) -> Database:
    """The unit of work over a new engine on ``url``; ``must_exist``: a SQLite file that is not
    there is refused (``UnsupportedDatabase``) instead of created."""
    if must_exist:
        require_existing(url)
    return Database(make_engine(url))


def payment_gateway(sandbox_on: bool, secret_key: str, base_url: str) -> Gateway:
    """The configured gateway: the sandbox (for development) signing with ``secret_key`` and
    sending the payer to ``base_url``'s page; with the sandbox off, ``NoGateway`` (money
    payments refused) until a real gateway is configured."""
    if not sandbox_on:
        return NoGateway()
    return SandboxGateway(secret_key, base_url=base_url)


def wechat_channel(api_base: str = wechat_keys.API_BASE) -> ChannelKind:
    """WeChat Pay as a channel: its key set checked and tested, its gateway per tenant, its
    callbacks at ``/api/v1/payments/webhooks/wechat/{tenant}``."""

    def check(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        keys = wechat_keys.check(data)
        return keys.public(), keys.to_json()

    def test(stored: dict[str, Any]) -> str:
        return wechat_check.check_connection(wechat_keys.check(stored), api_base=api_base)

    def build(context: GatewayContext) -> Gateway:
        previous = context.previous
        return WechatGateway(
            context.tenant_id,
            wechat_keys.check(context.keys),
            notify_url=f"{context.base_url.rstrip('/')}{WECHAT_WEBHOOK}/{context.tenant_id}",
            mode="h5" if context.mode == "h5" else "native",
            previous=None if previous is None else wechat_keys.check(previous),
            api_base=api_base,
        )

    return ChannelKind(build=build, check=check, test=test, modes=("native", "h5"))


WECHAT_WEBHOOK = "/api/v1/payments/webhooks/wechat"


def payment_channels(
    secret_key: str, sandbox_on: bool, *, wechat_api_base: str = wechat_keys.API_BASE
) -> Registry:
    """Every payment channel this deployment can offer, by name: the sandbox (when allowed)
    and WeChat Pay; a further channel's adapter registers here under its name."""
    registry = Registry(payment_keys_sealer(secret_key), sandbox_on)
    registry.register(
        "sandbox",
        ChannelKind(
            build=lambda context: SandboxGateway(secret_key, base_url=context.base_url),
            needs_keys=False,
        ),
    )
    registry.register(WECHAT, wechat_channel(wechat_api_base))
    return registry


def log_config(secret_key: str, host: str) -> LogConfig:
    """How the transparency logs are named and signed (keys sealed under ``secret_key``)."""
    return LogConfig(host, Ed25519Signer(secret_key))


def kyc_sealer(secret_key: str) -> Sealer:
    """How the members' real-name details are sealed (under ``secret_key``)."""
    return personal_data_sealer(secret_key)


def log_state_checks(db: Database | None = None) -> list[StateCheck]:
    """What ``log verify`` checks beyond the log itself: the NFG registry's state (read
    through ``db``) against the replay of the log."""
    return [] if db is None else [state_check.registry_check(db)]


def open_store(url: str | None = None, *, must_exist: bool = False) -> Store:
    """The ledger's store on ``url`` (default: the settings' database), migrated to head;
    ``must_exist``: a SQLite file that is not there is refused instead of created."""
    return Store.open(url, must_exist=must_exist)


def resolve_url(explicit: str | None = None) -> str:
    """The database URL to use: an explicit one, else the one the settings name."""
    return database_url(explicit)


def upgrade(engine: Engine) -> bool:
    """Bring the schema to head (does nothing when it is already there); True if it ran."""
    return migrate.upgrade(engine)


def heads() -> set[str]:
    """The newest migration revisions shipped in the package."""
    return set(migrate.heads())


def schema_status(conn: Connection) -> str:
    """ "ok" when the schema is at head, else what is wrong."""
    from alembic.runtime.migration import MigrationContext

    newest = heads()
    current = set(MigrationContext.configure(conn).get_current_heads())
    if current == newest:
        return "ok"
    return f"at {sorted(current) or 'nothing'}, head is {sorted(newest)}"


__all__ = [
    "WECHAT",
    "SandboxGateway",
    "Store",
    "UnsupportedDatabase",
    "WechatGateway",
    "heads",
    "open_database",
    "open_store",
    "parse_sandbox_ref",
    "resolve_url",
    "sandbox_delivery",
    "sandbox_page",
    "schema_status",
    "upgrade",
]
