"""``bench api``'s figures: one scenario's counts and latencies, the server's CPU, and the
headline figures a run prints at its top level (the checkout's rate beside the integration
push rate of the same run)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_seconds(pid: int) -> float:  # float-ok: time
    """CPU (user + system) of ``pid``'s children: the ``uvicorn`` workers of the bench's server
    (0.0 where ``/proc`` is not there). Read before and after a scenario's timed load."""
    total = 0.0  # float-ok: time
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        children = {
            int(child) for task in tasks for child in (task / "children").read_text().split()
        }
    except OSError:
        return 0.0
    for child in children:
        try:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime
    return total


@dataclass
class Scenario:
    name: str
    clients: int
    sent: int = 0
    ok: int = 0
    errors: int = 0
    seconds: float = 0.0  # float-ok: time
    latencies: list[float] = field(default_factory=list)  # float-ok: time
    statuses: dict[str, int] = field(default_factory=dict)
    cpu_seconds: float = 0.0  # float-ok: time (the load client's thread, time.thread_time)
    server_cpu_seconds: float = 0.0  # float-ok: time (the server's workers, timed load only)
    http_requests: int = 0  # every request of every flow (a checkout flow makes two)
    connections: int = 0
    per_worker: list[int] = field(default_factory=list)  # connections each process held
    batch_size: int | None = None  # orders a request, for the batch scenario
    orders_ok: int = 0  # batch items answered 201
    order_statuses: dict[str, int] = field(default_factory=dict)  # batch items, by status

    def figures(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float | None:  # float-ok: time
            if not ordered:
                return None
            return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 2)

        figures: dict[str, Any] = {
            "scenario": self.name,
            "clients": self.clients,
            "requests": self.sent,
            "ok": self.ok,
            "errors": self.errors,
            "statuses": dict(sorted(self.statuses.items())),
            "seconds": round(self.seconds, 3),
            "requests_per_second": round(self.ok / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "http_requests": self.http_requests,
            "connections": self.connections,
            "connections_per_worker": self.per_worker,
            "client_cpu_ms_per_request": (
                round(self.cpu_seconds * 1000 / self.http_requests, 3)
                if self.http_requests
                else None
            ),
            # Per flow (a checkout's two requests together) or per request.
            "server_cpu_ms_per_request": (
                round(self.server_cpu_seconds * 1000 / self.ok, 3) if self.ok else None
            ),
        }
        if self.batch_size is not None:
            figures["batch_size"] = self.batch_size
            figures["orders_ok"] = self.orders_ok
            figures["order_statuses"] = dict(sorted(self.order_statuses.items()))
            figures["orders_per_second"] = (
                round(self.orders_ok / self.seconds, 1) if self.seconds else 0.0
            )
        return figures


def headline(done: list[Scenario]) -> dict[str, Any]:
    """The run's top-level figures: the integration push rate, the checkout's flows/s and
    p99, and the checkout's rate as a share of the push rate measured in the same run (None
    for a scenario not run)."""
    by_name = {s.name: s.figures() for s in done}
    push = by_name.get("integration_paid")
    buy = by_name.get("checkout_and_pay")
    push_rate = None if push is None else push["requests_per_second"]
    flows = None if buy is None else buy["requests_per_second"]
    return {
        "integration_requests_per_second": push_rate,
        "checkout_flows_per_second": flows,
        "checkout_p99_ms": None if buy is None else buy["p99_ms"],
        "checkout_share_of_push": (
            round(flows / push_rate, 3) if flows is not None and push_rate else None
        ),
    }
