"""Throttling of sign-ins and registrations: per account and per client, with backoff.

* **Per account** (tenant, email): the first ``account_free`` wrong passwords cost nothing;
  each further one locks the account's sign-in for ``base`` seconds, doubling, at most ``cap``.
  While locked, every sign-in is refused (429, ``Retry-After``) *before* the password is
  checked, so the right password is refused too and guessing gains nothing. Refusals while
  locked are not failures (a stranger cannot stretch someone's lock). A successful sign-in
  clears the account's failures.
* **Per client** (the peer's address as the server sees it): failures across all accounts,
  with the same backoff after ``client_free`` — one client spraying many accounts is slowed.
* **Registrations** per (tenant, client): a token bucket of ``register_burst`` registrations,
  refilled one every ``register_every`` seconds.

Storage is in the process's memory, bounded (the oldest keys are dropped past ``max_keys``),
and forgotten after ``forget_after`` seconds without a failure. With several server processes
(``tokenmall serve --workers N``) each keeps its own counts, so a client gets at most N times
the free attempts before the same locks; the exponential backoff keeps that small. Behind a
reverse proxy the client is the address uvicorn reports (``--proxy-headers`` with
``--forwarded-allow-ips`` naming the proxy), never a header the client chose.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from tokenmall.domain.errors import ErrorKind
from tokenmall.services.mall.errors import MallError


class Throttled(MallError):
    """Too many attempts: try again after ``retry_after`` seconds (429 at the edge)."""

    kind = ErrorKind.THROTTLED
    code = "too_many_requests"

    def __init__(self, message: str, retry_after: int, field: str | None = None) -> None:
        super().__init__(message, field)
        self.retry_after = max(1, retry_after)


@dataclass(frozen=True, slots=True)
class Policy:
    """The limits; the defaults are the production ones (docs/security-accounts.md)."""

    account_free: int = 5
    client_free: int = 20
    base: float = 30.0  # float-ok: seconds of the first lock
    cap: float = 15 * 60.0  # float-ok: seconds, the longest lock
    forget_after: float = 60 * 60.0  # float-ok: seconds before an entry is forgotten
    register_burst: int = 10
    register_every: float = 60.0  # float-ok: seconds between registrations
    max_keys: int = 100_000


@dataclass(slots=True)
class _Failures:
    count: int
    locked_until: float  # float-ok: monotonic seconds
    last: float  # float-ok: monotonic seconds


class Backoff:
    """Failures under a key, and the lock they earn (thread-safe)."""

    def __init__(
        self, free: int, policy: Policy, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.free = free
        self.policy = policy
        self.clock = clock
        self._entries: OrderedDict[str, _Failures] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, key: str) -> int:
        """Seconds until ``key`` may try again (0: now)."""
        now = self.clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return 0
            if now - entry.last > self.policy.forget_after and now >= entry.locked_until:
                del self._entries[key]
                return 0
            return math.ceil(entry.locked_until - now) if entry.locked_until > now else 0

    def failed(self, key: str) -> None:
        now = self.clock()
        with self._lock:
            entry = self._entries.pop(key, None) or _Failures(0, 0.0, now)
            if now - entry.last > self.policy.forget_after:
                entry = _Failures(0, 0.0, now)
            entry.count += 1
            entry.last = now
            beyond = entry.count - self.free
            if beyond > 0:
                delay = min(self.policy.cap, self.policy.base * 2 ** min(beyond - 1, 30))
                entry.locked_until = now + delay
            self._entries[key] = entry
            while len(self._entries) > self.policy.max_keys:
                self._entries.popitem(last=False)

    def clear(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)


class Bucket:
    """A token bucket per key: ``burst`` at once, then one every ``every`` seconds."""

    def __init__(
        self,
        burst: int,
        every: float,  # float-ok: seconds
        max_keys: int,
        clock: Callable[[], float] = time.monotonic,  # float-ok: seconds
    ) -> None:
        self.burst = burst
        self.every = every
        self.max_keys = max_keys
        self.clock = clock
        self._tokens: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> int:
        """Take one token: 0 if taken, else the seconds until one is there (nothing taken)."""
        now = self.clock()
        with self._lock:
            tokens, at = self._tokens.pop(key, (float(self.burst), now))  # float-ok: a rate
            tokens = min(float(self.burst), tokens + (now - at) / self.every)  # float-ok: a rate
            if tokens < 1:
                self._tokens[key] = (tokens, now)
                return math.ceil((1 - tokens) * self.every)
            self._tokens[key] = (tokens - 1, now)
            while len(self._tokens) > self.max_keys:
                self._tokens.popitem(last=False)
            return 0


class Throttle:
    """The sign-in and registration limits of one server process."""

    def __init__(self, policy: Policy | None = None, clock: Callable[[], float] | None = None):
        self.policy = policy or Policy()
        tick = clock or time.monotonic
        self.accounts = Backoff(self.policy.account_free, self.policy, tick)
        self.clients = Backoff(self.policy.client_free, self.policy, tick)
        self.registrations = Bucket(
            self.policy.register_burst, self.policy.register_every, self.policy.max_keys, tick
        )

    @staticmethod
    def _account(realm: str, email: str) -> str:
        return f"{realm}\x1f{email.strip().lower()}"

    def before_login(self, realm: str, email: str, client: str) -> None:
        """Refuse (429) a sign-in while the account or the client is locked."""
        wait = max(self.accounts.wait(self._account(realm, email)), self.clients.wait(client))
        if wait:
            raise Throttled(f"too many failed sign-ins; try again in {wait} seconds", wait)

    def login_failed(self, realm: str, email: str, client: str) -> None:
        self.accounts.failed(self._account(realm, email))
        self.clients.failed(client)

    def login_succeeded(self, realm: str, email: str) -> None:
        self.accounts.clear(self._account(realm, email))

    def before_register(self, tenant_id: str, client: str) -> None:
        wait = self.registrations.take(f"{tenant_id}\x1f{client}")
        if wait:
            raise Throttled(f"too many registrations; try again in {wait} seconds", wait)
