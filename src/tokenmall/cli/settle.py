"""``tokenmall settle [--date]`` for cron, and ``tokenmall scheduler``: both safe to run twice.

``settle`` settles one business day (default: yesterday in the business time zone, UTC+8) for
every tenant or one, prints one line per tenant, and exits 0; a day already settled is said so
and changes nothing. Bad input (a malformed date, a day that has not ended, an unknown tenant)
exits 2 with a clear message; a tenant whose day the ledger refuses (a date before its last
settled day) is reported and the command exits 1 after trying the others.

``scheduler`` loops: every ``--interval`` seconds it delivers due webhooks, runs the order
clock (automatic completion and cancellation, when the orders module has them), the
transparency log's tick (settled days logged, due checkpoints signed, the newest checkpoints
anchored where a tenant has a chain configured) and asks the payout channel again about
withdrawals' payouts still processing; once the local time is past ``--at`` it settles each
tenant's previous day (once: a settled day is skipped), runs the market's daily duties (due
orders expired, accrued royalties paid out) and reconciles the previous day with each payment
channel's bill (``reconcile``): once a day per tenant and process, and a rerun changes nothing.
On PostgreSQL one scheduler leads at a time (a session advisory lock); others stand by and take
over if the leader goes away. On SQLite, run one (settlement and deliveries are safe anyway).
It starts only with settings fit for real users (``cli/safety.py``), as ``serve`` does.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from datetime import date, datetime, tzinfo
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from tokenmall.bootstrap import Store

LEADER_LOCK = 0x746F6B656E6D616C  # "tokenmal": the scheduler's advisory lock key

Database_ = Annotated[
    str | None,
    typer.Option("--database", help="Database URL (default: $TOKENMALL_DATABASE_URL, SQLite)."),
]
Timezone = Annotated[
    str,
    typer.Option("--timezone", help="Business time zone: +08:00 or an IANA name (default UTC+8)."),
]


def _fail(command: str, message: str) -> typer.Exit:
    typer.echo(f"tokenmall {command}: {message}", err=True)
    return typer.Exit(2)


def _tz(command: str, text: str) -> tzinfo:
    from tokenmall.services.mall.settling import parse_timezone

    try:
        return parse_timezone(text)
    except ValueError as exc:
        raise _fail(command, f"--timezone: {exc}") from None


def _result(outcome: Any) -> dict[str, Any]:
    """The settled day's figures as its dividend journal records them."""
    from tokenmall.services.mall.settling import result

    found: dict[str, Any] = result(outcome.day)
    return found


def _line(outcome: Any) -> str:
    r = _result(outcome)
    what = (
        f"settled: {r['distributed']} paid to {r['recipients']} holder(s), "
        f"{r['exits']} forced exit(s), price {r['price']}"
        if outcome.settled_now
        else f"already settled, nothing changed ({r['distributed']} paid then)"
    )
    return f"tenant {outcome.tenant_id} {outcome.business_date.isoformat()}: {what}"


def settle(
    day: Annotated[
        str | None,
        typer.Option("--date", help="Business day YYYY-MM-DD (default: yesterday)."),
    ] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant.")] = None,
    database: Database_ = None,
    timezone_: Timezone = "+08:00",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a tenant.")] = False,
) -> None:
    """Settle a business day (dividend, then forced exits) for every tenant, once each."""
    from tokenmall.bootstrap import open_store
    from tokenmall.services.mall.errors import InvalidInput
    from tokenmall.services.mall.settling import check_ended, parse_date, yesterday
    from tokenmall.services.mall.uow import utc_now

    tz = _tz("settle", timezone_)
    now = utc_now()
    try:
        business_date = yesterday(now, tz) if day is None else parse_date(day, "--date")
        check_ended(business_date, now, tz, "--date")
    except InvalidInput as exc:
        raise _fail("settle", str(exc)) from None
    # a bad URL, an unreachable server or a SQLite file that is not there: cli.errors says so
    store = open_store(database, must_exist=True)
    try:
        with store.read() as conn:
            tenants = store.tenant_ids(conn)
        if tenant is not None:
            if tenant not in tenants:
                raise _fail("settle", f"--tenant: no tenant {tenant!r}")
            tenants = [tenant]
        refused = _settle_all(store, tenants, business_date, now, as_json)
    finally:
        store.dispose()
    if not tenants:
        typer.echo("no tenants")
    if refused:
        raise typer.Exit(1)


def _settle_all(
    store: Store, tenants: list[str], business_date: date, now: datetime, as_json: bool
) -> int:
    from tokenmall.domain.errors import DomainError
    from tokenmall.services.mall.settling import settle_tenant
    from tokenmall.services.mall.uow import Database

    db = Database(store.engine)
    refused = 0
    for tenant_id in tenants:
        try:
            outcome = settle_tenant(db, tenant_id, business_date, now)
        except DomainError as exc:
            refused += 1
            if as_json:
                typer.echo(
                    json.dumps(
                        {
                            "tenant_id": tenant_id,
                            "business_date": business_date.isoformat(),
                            "refused": str(exc),
                        }
                    )
                )
            else:
                typer.echo(
                    f"tenant {tenant_id} {business_date.isoformat()}: refused: {exc}", err=True
                )
            continue
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "tenant_id": tenant_id,
                        "business_date": business_date.isoformat(),
                        "settled_now": outcome.settled_now,
                        "result": _result(outcome),
                    },
                    ensure_ascii=False,
                )
            )
        else:
            typer.echo(_line(outcome))
    return refused


def _parse_at(text: str) -> tuple[int, int]:
    try:
        hours, minutes = text.split(":")
        h, m = int(hours), int(minutes)
    except ValueError:
        raise _fail("scheduler", f"--at must be HH:MM, got {text!r}") from None
    if not (0 <= h < 24 and 0 <= m < 60) or len(hours) != 2 or len(minutes) != 2:
        raise _fail("scheduler", f"--at must be HH:MM, got {text!r}")
    return h, m


def scheduler(
    at: Annotated[
        str, typer.Option("--at", help="Settle yesterday once the local time is past HH:MM.")
    ] = "00:10",
    once: Annotated[bool, typer.Option("--once", help="One round of every duty, then exit.")] = (
        False
    ),
    interval: Annotated[
        float, typer.Option("--interval", min=0.2, help="Seconds between rounds.")
    ] = 5.0,
    database: Database_ = None,
    timezone_: Timezone = "+08:00",
) -> None:
    """Settle each tenant's previous day after --at, deliver webhooks, run the order clock.

    Refuses to start (exit 2) with the default or a short secret key, or with the sandbox
    gateway on, unless TOKENMALL_ENV=development: it signs webhooks with the API's secret."""
    from tokenmall.bootstrap import open_store
    from tokenmall.cli import safety
    from tokenmall.config import DEVELOPMENT_NOTICE

    tz = _tz("scheduler", timezone_)
    hour, minute = _parse_at(at)
    settings = safety.checked("scheduler")
    if settings.development:
        typer.echo(f"scheduler: warning: {DEVELOPMENT_NOTICE}", err=True)
    secret_key = settings.secret_key.get_secret_value()
    store = open_store(database)
    leader = _Leadership(store)
    try:
        while True:
            if leader.acquire():
                _round(store, tz, hour, minute, secret_key)
            elif once:
                typer.echo("another scheduler leads; nothing done")
            if once:
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        typer.echo("scheduler stopped")
    finally:
        leader.release()
        store.dispose()


class _Leadership:
    """PostgreSQL: a session advisory lock held on a dedicated connection while we lead (if
    that connection dies, the lock goes with it and a standby takes over). SQLite: always."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.conn: Any = None
        self.leading = False

    def acquire(self) -> bool:
        from sqlalchemy import text

        if not self.store.postgres:
            return True
        try:
            if self.conn is None:
                self.conn = self.store.engine.connect()
            if not self.leading:
                got = self.conn.execute(
                    text("SELECT pg_try_advisory_lock(:k)"), {"k": LEADER_LOCK}
                ).scalar()
                self.conn.commit()
                if got:
                    self.leading = True
                    typer.echo("scheduler: leading")
            else:
                self.conn.execute(text("SELECT 1"))  # still alive (else the lock is gone)
                self.conn.commit()
        except Exception as exc:  # the connection broke: stand down, retry next round
            typer.echo(f"scheduler: lost the database connection ({exc}); standing by", err=True)
            self.release()
        return self.leading

    def release(self) -> None:
        if self.conn is not None:
            # Closing the session releases its advisory locks (a broken one already has).
            with contextlib.suppress(Exception):
                self.conn.close()
        self.conn, self.leading = None, False


def _round(store: Store, tz: tzinfo, hour: int, minute: int, secret_key: str) -> None:
    """One round of duties; an error in one duty is reported and does not stop the others."""
    from tokenmall.services.mall import webhook_delivery
    from tokenmall.services.mall.settling import is_settled, yesterday
    from tokenmall.services.mall.uow import Database, utc_now

    now = utc_now()
    db = Database(store.engine)
    try:
        with store.read() as conn:
            tenants = store.tenant_ids(conn)
    except Exception as exc:
        typer.echo(f"scheduler: cannot list tenants: {exc}", err=True)
        return
    local = now.astimezone(tz)
    if (local.hour, local.minute) >= (hour, minute):
        day = yesterday(now, tz)
        for tenant_id in tenants:
            try:
                with db.reading() as uow:
                    if is_settled(uow, tenant_id, day):
                        continue
                _settle_all(store, [tenant_id], day, now, as_json=False)
            except Exception as exc:
                typer.echo(f"scheduler: settling {tenant_id} failed: {exc}", err=True)
        _market_daily(db, tenants, now, secret_key)
        _reconcile_daily(db, now, tz)
    _order_clock(db, tenants, now)
    _payments_query(db, now)
    _payouts_retry(db, now, secret_key)
    _log_tick(db, secret_key, now)
    try:
        report = webhook_delivery.deliver_due(db, now, limit=500, secret_key=secret_key)
        if report.attempted:
            counts = {
                "attempted": report.attempted,
                "delivered": report.delivered,
                "retrying": report.retrying,
                "failed": report.failed,
            }
            typer.echo(f"webhooks: {json.dumps(counts)}")
    except Exception as exc:
        typer.echo(f"scheduler: delivering webhooks failed: {exc}", err=True)


_MARKET_DONE: set[tuple[str, date]] = set()  # (tenant, business day) this process has run


def _market_daily(db: Any, tenants: list[str], now: datetime, secret_key: str) -> None:
    """The market's daily duties for each tenant, once a business day in this process."""
    from tokenmall import bootstrap
    from tokenmall.config import Settings
    from tokenmall.services.market.daily import run_daily
    from tokenmall.services.market.state import business_day

    today = business_day(now)
    config = bootstrap.log_config(secret_key, Settings().log_host)
    for tenant_id in tenants:
        if (tenant_id, today) in _MARKET_DONE:
            continue
        try:
            outcome = run_daily(db, tenant_id, now, config)
        except Exception as exc:
            typer.echo(f"scheduler: market duties for {tenant_id} failed: {exc}", err=True)
            continue
        _MARKET_DONE.add((tenant_id, today))
        if outcome.expired or outcome.payouts:
            typer.echo(outcome.line())


_RECONCILED: set[tuple[str, date]] = set()  # (tenant, business day) this process reconciled


def _reconcile_daily(db: Any, now: datetime, tz: tzinfo) -> None:
    """Each tenant's previous business day reconciled with each of its channels, once a day
    in this process (a rerun replaces the day's report with the same one)."""
    from tokenmall import bootstrap
    from tokenmall.cli.reconcile import report_lines
    from tokenmall.config import Settings
    from tokenmall.services.mall import reconciliation
    from tokenmall.services.mall.settling import yesterday

    day = yesterday(now, tz)
    try:
        tenants = reconciliation.mall_tenants(db)
        sources = bootstrap.bill_sources(db, bootstrap.configured_channels(Settings()), tz)
    except Exception as exc:
        typer.echo(f"scheduler: reconciliation cannot start: {exc}", err=True)
        return
    for tenant_id in tenants:
        if (tenant_id, day) in _RECONCILED:
            continue
        try:
            done = reconciliation.reconcile(db, sources, tenant_id, day, now, tz)
        except Exception as exc:
            typer.echo(f"scheduler: reconciling {tenant_id} failed: {exc}", err=True)
            continue
        _RECONCILED.add((tenant_id, day))
        for one in done:
            if one.report.mismatches:
                typer.echo("\n".join(report_lines(one)), err=True)


def _gateways(db: Any, now: datetime) -> Callable[[str], Any]:
    """Each tenant's gateway as its orders' payments and refunds go through it."""
    from tokenmall import bootstrap
    from tokenmall.config import Settings
    from tokenmall.services.mall import payment_channels

    settings = Settings()
    registry = bootstrap.configured_channels(settings)
    base = (settings.payments_public_url or "").rstrip("/")

    def gateway_of(tenant_id: str) -> Any:
        with db.reading() as uow:
            return payment_channels.tenant_gateway(uow, tenant_id, registry, base, now)

    return gateway_of


def _payments_query(db: Any, now: datetime) -> None:
    """Payments still open a minute after they were made, and refunds still processing a
    minute after they were sent: their channel asked, its answer applied as the callback
    would be (once)."""
    from tokenmall.services.mall import channel_sync, refund_channel

    gateway_of = _gateways(db, now)
    try:
        ended = channel_sync.sync_open(db, gateway_of, now)
    except Exception as exc:
        typer.echo(f"scheduler: asking the channels about open payments failed: {exc}", err=True)
    else:
        if ended:
            typer.echo(f"payments: {len(ended)} ended after asking their channel")
    try:
        finished = refund_channel.sync_processing(db, gateway_of, now)
    except Exception as exc:
        typer.echo(f"scheduler: asking the channels about refunds failed: {exc}", err=True)
    else:
        if finished:
            typer.echo(f"refunds: {len(finished)} ended after asking their channel")


def _payouts_retry(db: Any, now: datetime, secret_key: str) -> None:
    """Payouts still processing: the channel asked again (under the same payout id)."""
    from tokenmall import bootstrap
    from tokenmall.config import Settings
    from tokenmall.services.mall import payouts

    try:
        channels = bootstrap.payout_channel(db, bootstrap.configured_channels(Settings()))
        done = payouts.retry_processing(db, channels, bootstrap.kyc_sealer(secret_key), now)
    except Exception as exc:
        typer.echo(f"scheduler: retrying payouts failed: {exc}", err=True)
        return
    ended = [p for p in done if p.status != "processing"]
    if ended:
        typer.echo(f"payouts: {len(ended)} ended after a retry")


def _log_tick(db: Any, secret_key: str, now: datetime) -> None:
    """The transparency logs: settled days logged, due checkpoints signed, then the newest
    checkpoints anchored where a chain is configured (a chain's failure is reported and
    retried later; it never stops the log's tick)."""
    from tokenmall import bootstrap
    from tokenmall.config import Settings
    from tokenmall.services.log import anchoring, public

    try:
        config = bootstrap.log_config(secret_key, Settings().log_host)
        public.tick(db, config, now)
    except Exception as exc:
        typer.echo(f"scheduler: the transparency log's tick failed: {exc}", err=True)
        return
    try:
        for outcome in anchoring.anchor_due(db, config, bootstrap.anchoring(secret_key), now):
            if outcome.status in ("anchored", "failed"):
                typer.echo(outcome.line(), err=outcome.status == "failed")
    except Exception as exc:
        typer.echo(f"scheduler: anchoring failed: {exc}", err=True)


def _order_clock(db: Any, tenants: list[str], now: datetime) -> None:
    """Automatic completion and cancellation of orders, if the orders module provides them."""
    try:
        from tokenmall.services.mall import order_clock as orders
    except ImportError:
        return
    for name in ("cancel_expired_orders", "complete_due_orders"):
        duty = getattr(orders, name, None)
        if duty is None:
            continue
        for tenant_id in tenants:
            try:
                done = duty(db, tenant_id, now)
                if done:
                    typer.echo(f"tenant {tenant_id}: {name}: {done}")
            except Exception as exc:
                typer.echo(f"scheduler: {name} for {tenant_id} failed: {exc}", err=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("settle")(settle)
    app.command("scheduler")(scheduler)
