"""The composition root: the one place that builds the adapters and hands them to services.

``web`` and ``cli`` never import ``tokenmall.adapters``; they ask this module for a
``Database`` (the services' unit of work over an engine), a ledger ``Store``, the schema's
state, or the database URL the settings name. The import contract in pyproject.toml keeps it
so: this module sits between the edges (web, cli) and the services, and may import adapters.
``Store`` and ``UnsupportedDatabase`` are named here because the CLI holds the store this
module opens and reports the URL it refuses; ``analyze`` and ``statistics_kept`` because the
CLI and the server's start-up call them on an engine this module made.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine

from tokenmall.adapters.chain.access import Web3Access
from tokenmall.adapters.db import citus, migrate
from tokenmall.adapters.db.citus import CitusNotReady
from tokenmall.adapters.db.engine import (
    UnsupportedDatabase,
    analyze,
    make_engine,
    require_existing,
    statistics_kept,
)
from tokenmall.adapters.db.settings import database_url
from tokenmall.adapters.db.store import Store
from tokenmall.adapters.payments import (
    alipay_channel,
    sandbox_page,
    sandbox_payouts,
    wechat_check,
    wechat_keys,
)
from tokenmall.adapters.payments import delivery as sandbox_delivery
from tokenmall.adapters.payments.alipay_gateway import AlipayGateway
from tokenmall.adapters.payments.alipay_notify import answer_for as alipay_answer
from tokenmall.adapters.payments.alipay_transfers import AlipayBills, AlipayPayouts
from tokenmall.adapters.payments.sandbox import SandboxGateway, parse_sandbox_ref
from tokenmall.adapters.payments.wechat import WECHAT, WechatGateway
from tokenmall.adapters.payments.wechat_bill import WechatBills
from tokenmall.adapters.payments.wechat_jsapi import WechatJsapi
from tokenmall.adapters.payments.wechat_oauth import WechatOauth
from tokenmall.adapters.payments.wechat_payout import WechatPayouts
from tokenmall.adapters.signing import (
    Ed25519Signer,
    anchor_key_sealer,
    payment_keys_sealer,
    personal_data_sealer,
)
from tokenmall.services.log.anchor_ports import ChainAccess
from tokenmall.services.log.anchoring import Anchoring
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.log.verify import StateCheck
from tokenmall.services.mall.gateway import Gateway, NoGateway, channel_named
from tokenmall.services.mall.kyc import Sealer
from tokenmall.services.mall.payment_channels import ChannelKind, GatewayContext, Registry
from tokenmall.services.mall.payout_channels import TenantBills, TenantPayouts
from tokenmall.services.mall.settling import BUSINESS_TZ
from tokenmall.services.mall.uow import Database, MallUnitOfWork, utc_now
from tokenmall.services.mall.wechat_openids import JsapiChannel
from tokenmall.services.mall.wechat_openids import WechatOauth as WechatOauthPort
from tokenmall.services.nfg import state_check
from tokenmall.services.nfg.redemption_orders import RedemptionSteps
from tokenmall.services.unit_of_work_payouts import Bills, BillSources, PayoutChannels, Payouts

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
    return _sandbox(secret_key, base_url)


@lru_cache(maxsize=64)
def _sandbox(secret_key: str, base_url: str) -> SandboxGateway:
    """One sandbox gateway per key and address (it holds only its derived secret): every
    press of a drop and every payment page asks for it."""
    return SandboxGateway(secret_key, base_url=base_url)


def payout_channel(db: Database, registry: Registry) -> PayoutChannels:
    """How each tenant's withdrawals are paid out: through the tenant's own channel of the
    payee's account (WeChat Pay's merchant transfer, Alipay's transfer) when it has it on,
    else through the sandbox while the tenant has it on; else not at all (paid manually)."""
    return TenantPayouts(db, registry, _transfers_of, sandbox_payouts.SandboxPayouts(), utc_now)


_WECHAT_TRANSFERS: WeakKeyDictionary[WechatGateway, WechatPayouts] = WeakKeyDictionary()


def _transfers_of(gateway: Gateway) -> Payouts | None:
    """A tenant's real channel's transfers, from its gateway (made once per gateway: loading
    the merchant's key costs a tenth of a second)."""
    if isinstance(gateway, WechatGateway):
        found = _WECHAT_TRANSFERS.get(gateway)
        if found is None:
            found = WechatPayouts(gateway.keys, api_base=gateway.api_base)
            _WECHAT_TRANSFERS[gateway] = found
        return found
    alipay = _alipay_of(gateway)
    if alipay is not None:
        return AlipayPayouts(alipay)
    return None


def _alipay_of(gateway: Gateway) -> AlipayGateway | None:
    """The Alipay gateway behind a tenant's gateway: the registry hands out an
    ``AlipayChannel`` whose current key set's gateway is ``.current``."""
    if isinstance(gateway, alipay_channel.AlipayChannel):
        return gateway.current
    if isinstance(gateway, AlipayGateway):
        return gateway
    return None


def bill_sources(db: Database, registry: Registry, tz: tzinfo = BUSINESS_TZ) -> BillSources:
    """Each tenant's channels to reconcile daily: every channel it has on, with its bill
    (WeChat Pay's and Alipay's trade bills; the sandbox's own record)."""
    return TenantBills(
        db,
        registry,
        _bills_of,
        lambda tenant_id: sandbox_payouts.SandboxBills(db.engine, tenant_id, tz),
        utc_now,
    )


def _bills_of(gateway: Gateway) -> Bills | None:
    if isinstance(gateway, WechatGateway):
        return WechatBills(gateway.keys, api_base=gateway.api_base)
    alipay = _alipay_of(gateway)
    if alipay is not None:
        return AlipayBills(alipay)
    return None


def record_sandbox_approval(
    db: Database, provider_ref: str, amount_fen: int, now: datetime
) -> None:
    """The sandbox's page approved a payment: the sandbox keeps it for its daily bill."""
    sandbox_payouts.record_approval(db.engine, provider_ref, amount_fen, now)


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


def wechat_jsapi(gateway: Gateway) -> JsapiChannel | None:
    """JSAPI (paying inside WeChat) over a tenant's WeChat Pay gateway; None for another
    channel's gateway."""
    found = channel_named(gateway, WECHAT)
    return WechatJsapi(found) if isinstance(found, WechatGateway) else None


def wechat_oauth(settings: Any) -> WechatOauthPort:
    """WeChat's web OAuth at the hosts the settings name (local fakes in the tests)."""
    return WechatOauth(settings.wechat_oauth_authorize_url, settings.wechat_oauth_api_base)


ALIPAY_WEBHOOK = "/api/v1/payments/webhooks/alipay"
ALIPAY = "alipay"
AlipayChannel = alipay_channel.AlipayChannel


def alipay_channel_kind() -> ChannelKind:
    """Alipay as a channel: its key set checked and tested, its gateway per tenant (wap or
    page cashier), its notifies at ``/api/v1/payments/webhooks/alipay/{tenant}``; the payer
    comes back to the tenant's orders."""

    def build(context: GatewayContext) -> Gateway:
        base = context.base_url.rstrip("/")
        return alipay_channel.build(
            context.tenant_id,
            context.keys,
            context.previous,
            notify_url=f"{base}{ALIPAY_WEBHOOK}/{context.tenant_id}",
            return_url=f"{base}/{context.tenant_id}/orders",
            mode=context.mode,
        )

    return ChannelKind(
        build=build,
        check=alipay_channel.check,
        test=alipay_channel.check_connection,
        modes=alipay_channel.MODES,
    )


def payment_channels(
    secret_key: str, sandbox_on: bool, *, wechat_api_base: str = wechat_keys.API_BASE
) -> Registry:
    """Every payment channel this deployment can offer, by name: the sandbox (when allowed)
    WeChat Pay and Alipay; a further channel's adapter registers here under its name."""
    registry = Registry(payment_keys_sealer(secret_key), sandbox_on)
    registry.register(
        "sandbox",
        ChannelKind(
            build=lambda context: SandboxGateway(secret_key, base_url=context.base_url),
            needs_keys=False,
        ),
    )
    registry.register(WECHAT, wechat_channel(wechat_api_base))
    registry.register(ALIPAY, alipay_channel_kind())
    return registry


def configured_channels(settings: Any) -> Registry:
    """The payment channels a command line run offers, as the settings configure them."""
    return payment_channels(
        settings.secret_key.get_secret_value(),
        settings.sandbox_gateway,
        wechat_api_base=settings.wechatpay_api_base,
    )


def log_config(secret_key: str, host: str) -> LogConfig:
    """How the transparency logs are named and signed (keys sealed under ``secret_key``)."""
    return LogConfig(host, Ed25519Signer(secret_key))


# How anchoring reaches a chain: JSON-RPC over HTTP; the tests put an in-process EVM here.
chain_access: ChainAccess = Web3Access()


def anchoring(secret_key: str) -> Anchoring:
    """How checkpoints are anchored: the chain access, the accounts' keys sealed under
    ``secret_key``."""
    return Anchoring(chain_access, anchor_key_sealer(secret_key))


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


def upgrade(engine: Engine, *, citus_required: bool | None = None) -> bool:
    """Bring the schema to head (does nothing when it is already there); True if it ran.
    ``citus_required``: refuse a database without Citus (``CitusNotReady``)."""
    return migrate.upgrade(engine, citus_required=citus_required)


def citus_summary(engine: Engine) -> str | None:
    """One line on the Citus cluster the schema is distributed over, or None (no Citus)."""
    return citus.summary(engine)


def move_tenant(engine: Engine, tenant_id: str, target: str, mode: str) -> str:
    """Citus: move the tenant's shard group to the worker ``target`` (``host:port``)."""
    return citus.move_tenant(engine, tenant_id, target, mode)


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
    "ALIPAY",
    "WECHAT",
    "AlipayChannel",
    "CitusNotReady",
    "SandboxGateway",
    "Store",
    "UnsupportedDatabase",
    "WechatGateway",
    "alipay_answer",
    "analyze",
    "citus_summary",
    "heads",
    "move_tenant",
    "open_database",
    "open_store",
    "parse_sandbox_ref",
    "resolve_url",
    "sandbox_delivery",
    "sandbox_page",
    "schema_status",
    "statistics_kept",
    "upgrade",
]
