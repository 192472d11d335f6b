"""``tokenmall bench …``: commands that print figures; never timed assertions in tests."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from tokenmall.bench import market as market_bench
from tokenmall.bench import nfg as nfg_bench
from tokenmall.bench.economy import dividend_day_seconds, purchases_per_second

app = typer.Typer(help="Benchmarks that print figures.", no_args_is_help=True)


@app.command("economy")
def economy(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    purchases: Annotated[int, typer.Option(min=1000, help="Purchases to time.")] = 300_000,
    holders: Annotated[
        str, typer.Option(help="Comma-separated holder counts for the dividend day.")
    ] = "100000,1000000",
) -> None:
    """Purchases per second through the engine in memory, and the dividend day's time."""
    try:
        counts = [int(part) for part in holders.split(",") if part.strip()]
    except ValueError:
        typer.echo(f"tokenmall: --holders must be whole numbers, got {holders!r}", err=True)
        raise typer.Exit(2) from None
    rate = purchases_per_second(purchases)
    days = {count: dividend_day_seconds(count) for count in counts}
    if as_json:
        report: dict[str, object] = {
            "purchases": purchases,
            "purchases_per_second": round(rate),
            "dividend_day_seconds": {str(k): round(v, 3) for k, v in days.items()},
        }
        if 1_000_000 in days:
            report["dividend_day_seconds_1m"] = round(days[1_000_000], 3)
        if 100_000 in days:
            report["dividend_day_seconds_100k"] = round(days[100_000], 3)
        typer.echo(json.dumps(report))
        return
    typer.echo(f"purchases through the engine: {rate:,.0f}/s ({purchases:,} purchases)")
    for count, seconds in days.items():
        typer.echo(f"dividend day, {count:,} holders: {seconds:.3f} s")


@app.command("nfg")
def nfg(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    leaves: Annotated[
        int, typer.Option(min=2, help="Leaves of the log written to SQLite and verified.")
    ] = 1_000_000,
    jobs: Annotated[
        int | None,
        typer.Option(
            min=1, help="Worker processes verifying the log (default: one a core, at most 8)."
        ),
    ] = None,
) -> None:
    """The NFG transparency log: appends/s, verifying a log from SQLite, one inclusion proof."""
    from tokenmall.services.log.fanout import default_jobs

    figures = nfg_bench.run(leaves, jobs=default_jobs() if jobs is None else jobs)
    report = figures.report()
    if as_json:
        typer.echo(json.dumps(report))
        return
    typer.echo(f"log appends (MemoryTree): {figures.appends_per_second:,.0f}/s")
    typer.echo(f"leaf encodes (canonical JSON): {figures.encodes_per_second:,.0f}/s")
    typer.echo(
        f"log verify of {leaves:,} leaves from SQLite, {figures.jobs} process(es): "
        f"{figures.verify_seconds:.2f} s "
        f"({figures.verify_cpu_seconds:.2f} s of CPU; the tree recomputed and the checkpoint "
        f"checked: {figures.recompute_seconds:.2f} s, {figures.recompute_cpu_seconds:.2f} s of CPU)"
    )
    typer.echo(
        f"inclusion proof: {figures.proof_hashes} hashes, verified in "
        f"{figures.proof_verify_microseconds:.1f} µs"
    )
    typer.echo("verified: yes" if figures.verified else "verified: NO")


@app.command("simulate")
def simulate(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    purchases: Annotated[int, typer.Option(min=1, help="Purchases to simulate.")] = 1_000_000,
    days: Annotated[int, typer.Option(min=1, help="Days to spread them over.")] = 365,
) -> None:
    """The simulator's agent loop: purchases over days, each day settled, timed (target <= 20 s)."""
    from tokenmall.bench.simulate import bench_simulate

    result = bench_simulate(purchases, days)
    if as_json:
        typer.echo(json.dumps({"purchases": result.purchases, "seconds": round(result.seconds, 3)}))
        return
    typer.echo(
        f"simulated {result.purchases:,} purchases by {result.buyers:,} buyers over "
        f"{result.days} days (every day settled): {result.seconds:.2f} s "
        f"({result.cpu_seconds:.2f} s of CPU)"
    )


@app.command("ledger")
def ledger(
    database: Annotated[
        str | None, typer.Option("--database", help="Database URL (scratch: it adds tenants).")
    ] = None,
    clients: Annotated[str, typer.Option(help="Comma-separated client counts.")] = "1,16,64",
    seconds: Annotated[float, typer.Option(min=0.1, help="Seconds per path and count.")] = 5.0,
    holders: Annotated[
        str, typer.Option(help="Comma-separated holder counts for the dividend day ('' for none).")
    ] = "100000,1000000",
    paths: Annotated[str, typer.Option(help="Paths to time: writer, rowlock.")] = "writer,rowlock",
    callers: Annotated[
        str,
        typer.Option(
            help="The writer's clients: async (coroutines on one event loop, as API handlers) "
            "or threads (one thread each). The row lock's are always threads."
        ),
    ] = "async",
    tenants: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated tenant counts to spread the clients over (default: one; "
            "each result then names its count)."
        ),
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            help="A second database URL timed right after each step (for example one plain "
            "PostgreSQL beside a Citus coordinator): each result adds its rate and the ratio."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Booked purchases per second on ONE tenant (writer vs row lock); the dividend day's time.

    On a Citus coordinator each result names the worker of each tenant."""
    from tokenmall.bench.ledger import CALLERS, PATHS, run  # imports SQLAlchemy: here
    from tokenmall.bootstrap import resolve_url

    try:
        counts = [int(part) for part in clients.split(",") if part.strip()]
        sizes = [int(part) for part in holders.split(",") if part.strip()]
        spread = (
            None if tenants is None else [int(part) for part in tenants.split(",") if part.strip()]
        )
    except ValueError:
        typer.echo("tokenmall: --clients, --holders and --tenants must be whole numbers", err=True)
        raise typer.Exit(2) from None
    if spread is not None and (not spread or min(spread) < 1):
        typer.echo("tokenmall: --tenants must be counts >= 1", err=True)
        raise typer.Exit(2)
    chosen = [part.strip() for part in paths.split(",") if part.strip()]
    if not counts or min(counts) < 1 or min(sizes, default=1) < 1 or not set(chosen) <= set(PATHS):
        typer.echo("tokenmall: counts must be >= 1 and --paths one of writer, rowlock", err=True)
        raise typer.Exit(2)
    if callers not in CALLERS:
        typer.echo(f"tokenmall: --callers must be one of {', '.join(CALLERS)}", err=True)
        raise typer.Exit(2)
    progress = None if as_json else typer.echo
    report = run(
        resolve_url(database), counts, seconds, sizes, chosen, progress, callers, spread, baseline
    )
    if as_json:
        typer.echo(json.dumps(report))


@app.command("api")
def api(
    database: Annotated[
        str | None, typer.Option("--database", help="Database URL (scratch: it adds a tenant).")
    ] = None,
    duration: Annotated[float, typer.Option(min=0.1, help="At most this many seconds.")] = 20.0,
    requests: Annotated[
        int, typer.Option(min=1, help="At most this many orders (checkout: flows).")
    ] = 20_000,
    clients: Annotated[int, typer.Option(min=1, max=512, help="Concurrent clients.")] = 32,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=32, help="uvicorn workers (default: 2 on PostgreSQL, 1 SQLite)."),
    ] = None,
    users: Annotated[int, typer.Option(min=1, help="Distinct shop users buying.")] = 1_000,
    batch_size: Annotated[
        int, typer.Option(min=1, max=100, help="Orders a request in the batch scenario.")
    ] = 50,
    batch_clients: Annotated[
        int,
        typer.Option(
            min=1,
            max=512,
            help="Concurrent clients of the batch scenario (a shop pushing its orders "
            "from a few connections).",
        ),
    ] = 2,
    scenarios: Annotated[
        str, typer.Option(help="Comma-separated: integration, batch, checkout.")
    ] = "integration,batch,checkout",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Integration orders pushed over HTTP (paid, rewards booked) one a request and in batches,
    and consumers' checkouts paid on the sandbox gateway: requests/s, p50, p99 and the load
    client's CPU per request each (orders/s for batches); audit after."""
    from tokenmall.bench.api import SCENARIOS, run  # imports httpx: only here
    from tokenmall.bootstrap import resolve_url

    chosen_scenarios = tuple(p.strip() for p in scenarios.split(",") if p.strip())
    if not chosen_scenarios or not set(chosen_scenarios) <= set(SCENARIOS):
        typer.echo(
            "tokenmall bench api: --scenarios must be among integration, batch, checkout",
            err=True,
        )
        raise typer.Exit(2)

    url = resolve_url(database)
    chosen = workers or (2 if url.startswith("postgresql") else 1)
    progress = None if as_json else typer.echo
    try:
        report = run(
            url,
            duration=duration,
            requests=requests,
            clients=clients,
            workers=chosen,
            users=users,
            batch_size=batch_size,
            batch_clients=batch_clients,
            scenarios=chosen_scenarios,
            progress=progress,
        )
    except RuntimeError as exc:
        typer.echo(f"tokenmall bench api: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(report))
        return
    for s in report["scenarios"]:
        batch = ""
        if "orders_per_second" in s:
            batch = (
                f", {s['orders_per_second']} orders/s ({s['orders_ok']} orders ok, "
                f"{s['batch_size']} a request)"
            )
        typer.echo(
            f"{s['scenario']} on {report['database']} ({report['workers']} worker(s), "
            f"{s['clients']} clients): {s['ok']} ok, {s['errors']} errors in {s['seconds']} s: "
            f"{s['requests_per_second']} req/s, p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms"
            f"{batch}; client CPU {s['client_cpu_ms_per_request']} ms/request, "
            f"server CPU {s['server_cpu_ms_per_request']} ms a flow"
        )
    if report["checkout_share_of_push"] is not None:
        typer.echo(
            f"checkout {report['checkout_flows_per_second']} flows/s "
            f"(p99 {report['checkout_p99_ms']} ms) = "
            f"{report['checkout_share_of_push']:.1%} of the integration push rate "
            f"({report['integration_requests_per_second']} req/s), in the same run"
        )
    audit = report["audit"]
    typer.echo(
        f"audit of {report['tenant_id']}: "
        + ("clean" if audit["clean"] else f"{audit['findings']} finding(s)")
    )


@app.command("drop")
def drop(
    database: Annotated[
        str | None, typer.Option("--database", help="Database URL (scratch: it adds a tenant).")
    ] = None,
    editions: Annotated[int, typer.Option(min=1, help="The drop's edition size.")] = 1_000,
    buyers: Annotated[int, typer.Option(min=1, help="Buyers pressing buy at once.")] = 5_000,
    limit: Annotated[int, typer.Option(min=1, max=100, help="Places per buyer at most.")] = 2,
    clients: Annotated[int, typer.Option(min=1, max=1024, help="Concurrent connections.")] = 256,
    hold: Annotated[
        int, typer.Option(min=1, max=600, help="Seconds a reservation waits for payment.")
    ] = 15,
    profile: Annotated[
        str,
        typer.Option(
            help="The tenant's market profile (cn-licensed: the holder limit, 200, applies)."
        ),
    ] = "open",
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=32, help="uvicorn workers (default: 2 on PostgreSQL, 1 SQLite)."),
    ] = None,
    cold: Annotated[
        bool,
        typer.Option(
            "--cold",
            help="The first presses also open the connections (no buyers waiting on the page).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """A drop (首发) over HTTP: buyers press buy at once, pay on the sandbox gateway (some
    late: refunded), a second wave buys the places returned; sold, oversold, over the limit,
    paid without a token, p50/p99 of the presses, seconds to sold out, audit."""
    from tokenmall.bench.drop import run  # imports httpx and SQLAlchemy: only here
    from tokenmall.bootstrap import resolve_url

    url = resolve_url(database)
    chosen = workers or (2 if url.startswith("postgresql") else 1)
    try:
        report = run(
            url,
            editions=editions,
            buyers=buyers,
            limit=limit,
            profile=profile,
            clients=clients,
            hold=hold,
            workers=chosen,
            on_page=not cold,
            progress=None if as_json else typer.echo,
        )
    except RuntimeError as exc:
        typer.echo(f"tokenmall bench drop: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(report))
        return
    typer.echo(
        f"sold {report['sold']} of {report['editions']} to {report['buyers']} buyers: "
        f"oversold {report['oversold']}, over the limit {report['over_limit']}, paid without "
        f"a token {report['paid_without_token']} ({report['refunded']} refunded); presses p50 "
        f"{report['p50_ms']} ms, p99 {report['p99_ms']} ms; sold out after "
        f"{report['seconds_to_sold_out']} s; audit "
        + ("clean" if report["audit_clean"] else "NOT clean")
    )


@app.command("market")
def market(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    operations: Annotated[
        int, typer.Option(min=1000, help="List/bid/cancel actions on one collection.")
    ] = 200_000,
    database: Annotated[
        str | None,
        typer.Option(help="Also race takes and time trades over the real service on this URL."),
    ] = None,
    runs: Annotated[
        int,
        typer.Option("--runs", "--race-runs", min=1, help="Races of every buyer on one listing."),
    ] = 1000,
    buyers: Annotated[int, typer.Option(min=2, max=256, help="Buyers in each race.")] = 64,
    group_commit: Annotated[
        bool,
        typer.Option(
            help="Settle the takes and crossing bids through the tenant's writer (off: one each)."
        ),
    ] = True,
) -> None:
    """The 文交所 market: list/bid/cancel actions per second on one collection in memory; with
    ``--database``, races of ``buyers`` takes on one listing and trades per second through the
    service, and conservation of the money."""
    figures = market_bench.run(operations)
    report = figures.report()
    if database is not None:
        from tokenmall.bench import market_race

        say = (lambda _: None) if as_json else (lambda line: typer.echo(line, err=True))
        report.update(
            market_race.run(
                database, runs=runs, buyers=buyers, progress=say, group_commit=group_commit
            )
        )
    if as_json:
        typer.echo(json.dumps(report))
        return
    if database is not None:
        typer.echo(
            f"races: {report['race_winners']} winners of {report['race_runs']} runs, "
            f"{report['double_charges']} double charges, {report['race_errors']} errors; "
            f"{report['trades_per_second']} trades/s; "
            f"{report['crossing_bids_per_second']} crossing bids/s; conservation "
            + ("ok" if report["conservation_ok"] else "BROKEN")
        )
    typer.echo(
        f"market actions through every rule: {figures.market_actions_per_second:,.0f}/s "
        f"({operations:,} actions, {figures.trades:,} trades, {figures.refused:,} refused)"
    )
    typer.echo(f"the order book alone: {figures.book_ops_per_second:,.0f} ops/s")


def _demo_mall(url: str, days: int) -> Any:
    """The demo tenant made (or finished) on ``url``, as ``bench pages`` times it."""
    from tokenmall import bootstrap
    from tokenmall.bench.pages import Mall
    from tokenmall.demo import living
    from tokenmall.services.mall import passwords

    passwords.configure(fast_for_tests=True)  # the demo's accounts; never what is timed
    db = bootstrap.open_database(url)
    try:
        bootstrap.upgrade(db.engine)
        living.seed(db, days=days)
    finally:
        db.dispose()
    members = [(email, living.PASSWORD) for email, _, _ in living.CONSUMERS[:4]]
    return Mall(living.TENANT_ID, living.TENANT_NAME, members)


@app.command("pages")
def pages(
    database: Annotated[
        str | None, typer.Option("--database", help="Database URL (scratch: the demo tenant).")
    ] = None,
    duration: Annotated[float, typer.Option(min=0.1, help="Seconds per page and visitor.")] = 10.0,
    requests: Annotated[
        int, typer.Option(min=1, help="At most this many requests per page and visitor.")
    ] = 100_000,
    clients: Annotated[int, typer.Option(min=1, max=512, help="Concurrent clients.")] = 16,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=32, help="uvicorn workers (default: 2 on PostgreSQL, 1 SQLite)."),
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=60, help="Days of the demo's history.")] = 14,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """The demo mall's home and a product page, anonymous and signed in: requests/s, p50, p99."""
    from tokenmall.bench.pages import run  # imports httpx: only here
    from tokenmall.bootstrap import resolve_url

    url = resolve_url(database)
    chosen = workers or (2 if url.startswith("postgresql") else 1)
    if not as_json:
        typer.echo(f"setting up the demo tenant ({days} days of history) …")
    try:
        report = run(
            url,
            _demo_mall(url, days),
            duration=duration,
            requests=requests,
            clients=clients,
            workers=chosen,
            progress=None if as_json else typer.echo,
        )
    except RuntimeError as exc:
        typer.echo(f"tokenmall bench pages: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(report))
        return
    for visitor in ("anonymous", "member"):
        figures = report[visitor]
        for page in ("home", "product"):
            typer.echo(
                f"{page}, {visitor}, on {report['database']} ({report['workers']} worker(s), "
                f"{report['clients']} clients): {figures[f'{page}_requests_per_second']} req/s, "
                f"p50 {figures[f'{page}_p50_ms']} ms, p99 {figures[f'{page}_p99_ms']} ms, "
                f"{figures[f'{page}_errors']} errors"
            )
