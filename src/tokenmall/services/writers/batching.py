"""The batching base every writer thread shares: gather, form a batch, process it, answer.

A ``Batcher`` is one thread and one queue. Callers put requests on the queue and wait on
their request's ``future`` (a ``concurrent.futures.Future``, or the writer's end of an
asyncio future: ``loop_answers``). The thread runs ``_run``:

1. the next item: one held over from the batch before, else from the queue (``_take``);
   nothing within the wait is *idle* (``_idle``: a writer may retire), and an item that is
   not a request is a *signal* (``_on_signal``: a stop, a settlement, a commit's mark);
2. a batch is formed from it: requests carried over from the batch before, then what is
   queued (``_gather``), up to ``max_batch``. While the last batch had several callers the
   thread lingers up to ``linger_seconds`` for more, but only until as many requests are
   here as the last answered batch had (``_expect``): those callers are the ones coming
   back, and lingering on only delays them. A signal met while gathering may end the batch
   (``_signal``) and is then held for the next turn;
3. the batch is processed (``_process``, the subclass's own rules); each caller is answered
   (``resolve``) once its work is durable; anything raised escapes to ``_broken``, which
   answers every caller still waiting, so none is left hanging.

The registry side: ``Registry`` keeps one worker per tenant (started on first use; a worker
that stays idle retires under the registry's lock, so no request is lost between the two),
and ``PerEngine`` one registry per database in the process.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Connection, Engine

from tokenmall.adapters.db.store import Store
from tokenmall.services.writers.loop_answers import Answer

log = logging.getLogger(__name__)

# What ``_signal`` returns to end the batch without holding anything over.
END = object()

# A writer thread holds a lock others wait for (its tenant's) across its round trips to the
# database, and after each reply it needs the GIL back: at CPython's default switch interval
# (5 ms) one busy request thread can keep it that long, at every round trip, while every other
# writer of the tenant waits. A process with a writer thread runs with a shorter interval.
SWITCH_INTERVAL_SECONDS = 0.0005  # float-ok: time


def shorten_switch_interval() -> None:
    """The process's switch interval at most ``SWITCH_INTERVAL_SECONDS`` (process-wide)."""
    if sys.getswitchinterval() > SWITCH_INTERVAL_SECONDS:
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)


class Request(Protocol):
    """What a batcher answers: anything with a ``future`` (a thread's or a loop's)."""

    @property
    def future(self) -> Answer: ...


R = TypeVar("R", bound=Request)


def resolve(batch: Iterable[Request], outcomes: Iterable[tuple[bool, Any]]) -> None:
    """Answer each request with its outcome: (True, result) or (False, exception). A request
    answered already (an error path got there first) is skipped."""
    for request, (ok, value) in zip(batch, outcomes, strict=True):
        future = request.future
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def fail(batch: Iterable[Request], error: BaseException) -> None:
    """Answer every request of ``batch`` still waiting with ``error``."""
    for request in batch:
        if not request.future.done():
            request.future.set_exception(error)


class Batcher(Generic[R]):
    """One queue and the thread that answers it in batches (see the module's docstring).

    ``request_type`` is the class of the subclass's requests: any other item on the queue is
    a signal. Subclasses give ``_process`` and, as they need, ``_take``, ``_idle``,
    ``_signal``, ``_on_signal``, ``_linger`` and ``_broken``."""

    request_type: type[Any]

    def __init__(
        self,
        tenant_id: str,
        name: str,
        *,
        max_batch: int,
        linger_seconds: float = 0.0,  # float-ok: seconds
        idle_seconds: float | None = None,  # float-ok: seconds (None: never idle)
        registry: Registry[Any] | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.max_batch = max_batch
        self.linger_seconds = linger_seconds
        self.idle_seconds = idle_seconds
        self._registry = registry
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._held: Any = None  # a signal that ended the last batch: it comes next
        self._carry: list[R] = []  # requests put off to the next batch (``_process``)
        self._busy = False  # the last batch had several callers: linger for more
        self._expect = 1  # the last answered batch's size: the callers coming back
        self.retired = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    # -- the loop -----------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            batch = self._carry
            if batch:
                self._carry = []
            else:
                item = self._next()
                if item is None:  # nothing came: idle
                    if self._idle():
                        return
                    continue
                if not isinstance(item, self.request_type):
                    if self._on_signal(item):
                        return
                    continue
                batch = [item]
            self._held = self._gather(batch, self._linger())
            try:
                self._process(batch)
            except BaseException as error:  # never leave a caller waiting
                self._broken(batch, error)
            self._busy = len(batch) > 1

    def _next(self) -> Any:
        held = self._held
        if held is not None:
            self._held = None
            return held
        return self._take()

    def _gather(self, batch: list[R], linger: float) -> Any:  # float-ok: seconds
        """Add queued requests to ``batch`` (see the module's docstring); return the signal
        that ended it, to be held for the next turn, or None."""
        deadline = time.perf_counter() + linger
        enough = self._expect
        get, get_nowait, request_type = self._queue.get, self._queue.get_nowait, self.request_type
        while len(batch) < self.max_batch:
            try:
                item = get_nowait()
            except queue.Empty:
                if len(batch) >= enough:
                    return None
                wait = deadline - time.perf_counter()
                if wait <= 0:
                    return None
                try:
                    item = get(timeout=wait)
                except queue.Empty:
                    return None
            if not isinstance(item, request_type):
                ended = self._signal(item)
                if ended is None:
                    continue
                return None if ended is END else ended
            batch.append(item)
        return None

    # -- what subclasses give -----------------------------------------------------------------

    def _process(self, batch: list[R]) -> None:
        raise NotImplementedError

    def _take(self) -> Any:
        """The next item off the queue; None when nothing came within ``idle_seconds``."""
        try:
            return self._queue.get(timeout=self.idle_seconds)
        except queue.Empty:
            return None

    def _idle(self) -> bool:
        """Nothing came: True ends the thread (by default it retires if nothing is queued)."""
        self._busy = False
        return self._retire()

    def _linger(self) -> float:  # float-ok: seconds
        """How long the next batch may linger for more callers."""
        return self.linger_seconds if self._busy else 0.0

    def _signal(self, item: Any) -> Any:
        """A signal met while gathering: None goes on gathering, ``END`` ends the batch, any
        other value ends it and comes next."""
        raise TypeError(f"not a request: {item!r}")

    def _on_signal(self, item: Any) -> bool:
        """A signal taken between batches: True ends the thread."""
        raise TypeError(f"not a request: {item!r}")

    def _broken(self, batch: list[R], error: BaseException) -> None:
        """``_process`` raised: every caller of ``batch`` still waiting gets ``error``."""
        log.exception("%s: a batch of %d failed", self._thread.name, len(batch))
        fail(batch, error)

    # -- retiring -----------------------------------------------------------------------------

    def put(self, request: R) -> None:
        self._queue.put(request)

    def _retire(self) -> bool:
        """Stop if nothing is queued (under the registry's lock, so no request is lost)."""
        lock = self._registry.lock if self._registry is not None else threading.Lock()
        with lock:
            if not self._queue.empty():
                return False
            self.retired = True
            if self._registry is not None:
                self._registry.forget(self)
        return True


class ConnectedBatcher(Batcher[R]):
    """A batcher that writes on a connection of its own, kept while it is busy (no pool
    check-out and ping per batch), given back when it goes idle or after a failed batch
    (``_disconnect``: its session may be broken)."""

    def __init__(self, store: Store, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.store = store
        self._conn: Connection | None = None

    def _connection(self) -> Connection:
        conn = self._conn
        if conn is None or conn.closed or conn.invalidated:
            self._disconnect()
            conn = self._conn = self.store.engine.connect()
        return conn

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                log.debug("closing the connection of the writer of %s failed", self.tenant_id)

    def _idle(self) -> bool:
        self._disconnect()  # idle: the connection goes back to the pool
        return super()._idle()


W = TypeVar("W", bound=Batcher[Any])


class Registry(Generic[W]):
    """One worker per tenant of one database in this process: started on first use
    (``_start``), retired when idle."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.lock = threading.Lock()
        self._workers: dict[str, W] = {}

    def _start(self, tenant_id: str) -> W:
        raise NotImplementedError

    def put(self, tenant_id: str, request: Any) -> None:
        """Queue ``request`` on the tenant's worker (a new one if it has none or it retired)."""
        with self.lock:
            self._worker(tenant_id).put(request)

    def _worker(self, tenant_id: str) -> W:
        """The tenant's live worker (the caller holds ``lock``)."""
        worker = self._workers.get(tenant_id)
        if worker is None or worker.retired:
            worker = self._workers[tenant_id] = self._start(tenant_id)
        return worker

    def worker(self, tenant_id: str) -> W | None:
        with self.lock:
            return self._workers.get(tenant_id)

    def forget(self, worker: Batcher[Any]) -> None:
        """A worker retires (the caller holds ``lock``)."""
        if self._workers.get(worker.tenant_id) is worker:
            del self._workers[worker.tenant_id]


class _HasStore(Protocol):
    @property
    def store(self) -> Store: ...


H = TypeVar("H", bound=_HasStore)


class PerEngine(Generic[H]):
    """One ``H`` per database in this process (made from a ``Store`` on first use)."""

    def __init__(self, make: Callable[[Store], H]) -> None:
        self._make = make
        self._found: dict[int, H] = {}
        self._lock = threading.Lock()

    def of(self, engine: Engine) -> H:
        with self._lock:
            found = self._found.get(id(engine))
            if found is None or found.store.engine is not engine:
                found = self._found[id(engine)] = self._make(Store(engine))
            return found
