"""The batching base the writers share (``services/writers/batching.py``), without a database:
batches gathered from the queue, the linger rule, signals held for the next turn, requests
carried over, a failed batch answered, and an idle worker retired from its registry."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import pytest

from tokenmall.adapters.db.store import Store
from tokenmall.services.writers.batching import Batcher, Registry, resolve


@dataclass(slots=True)
class Item:
    value: int
    later: bool = False  # carried over to the next batch once
    future: Future[Any] = field(default_factory=Future)


MARK = object()


class Doubler(Batcher[Item]):
    """Answers each item with twice its value; ``log`` keeps what each turn saw."""

    request_type = Item

    def __init__(
        self,
        *,
        linger_seconds: float = 0.0,  # float-ok: seconds
        idle_seconds: float | None = None,  # float-ok: seconds
        registry: Registry[Any] | None = None,
        max_batch: int = 64,
    ) -> None:
        super().__init__(
            "t",
            "doubler-t",
            max_batch=max_batch,
            linger_seconds=linger_seconds,
            idle_seconds=idle_seconds,
            registry=registry,
        )
        self.log: list[Any] = []

    def _process(self, batch: list[Item]) -> None:
        now = [item for item in batch if not item.later]
        for item in batch:
            if item.later:
                item.later = False
                self._carry.append(item)
        self.log.append([item.value for item in now])
        if any(item.value < 0 for item in now):
            raise ValueError("negative")
        self._expect = len(batch)
        resolve(now, [(True, item.value * 2) for item in now])

    def _signal(self, item: Any) -> Any:
        return item  # ends the batch; it comes next

    def _on_signal(self, item: Any) -> bool:
        self.log.append("mark")
        return False


def _queued(doubler: Doubler, *values: int | object) -> list[Future[Any]]:
    futures: list[Future[Any]] = []
    for value in values:
        if value is MARK:
            doubler.put(value)  # type: ignore[arg-type]
            continue
        assert isinstance(value, int)
        item = Item(value)
        doubler.put(item)
        futures.append(item.future)
    return futures


def test_what_is_queued_is_one_batch_up_to_its_size() -> None:
    # given five requests queued before the thread starts, at most three a batch
    doubler = Doubler(max_batch=3)
    futures = _queued(doubler, 1, 2, 3, 4, 5)
    # when it runs
    doubler._thread.start()
    # then each caller gets its own answer, three then two to a batch
    assert [f.result(10) for f in futures] == [2, 4, 6, 8, 10]
    assert doubler.log == [[1, 2, 3], [4, 5]]


def test_a_busy_batch_lingers_only_until_as_many_callers_as_the_last_one_are_back() -> None:
    # given a batcher that lingers a whole minute while busy, whose last batch answered three
    doubler = Doubler(linger_seconds=60.0)
    first = _queued(doubler, 1, 2, 3)
    doubler._thread.start()
    assert [f.result(10) for f in first] == [2, 4, 6]
    # when three callers come back, one after another
    again = [_queued(doubler, value)[0] for value in (4, 5, 6)]
    # then they go as one batch, without waiting out the minute
    assert [f.result(10) for f in again] == [8, 10, 12]
    assert doubler.log == [[1, 2, 3], [4, 5, 6]]


def test_a_signal_ends_the_batch_and_comes_before_what_follows_it() -> None:
    doubler = Doubler()
    futures = _queued(doubler, 1, 2, MARK, 3)
    doubler._thread.start()
    assert [f.result(10) for f in futures] == [2, 4, 6]
    assert doubler.log == [[1, 2], "mark", [3]]


def test_requests_carried_over_start_the_next_batch() -> None:
    doubler = Doubler()
    first = Item(1)
    later = Item(2, later=True)
    doubler.put(first)
    doubler.put(later)
    doubler._thread.start()
    assert later.future.result(10) == 4
    assert first.future.result(10) == 2
    assert doubler.log == [[1], [2]]


def test_a_batch_that_raises_answers_its_callers_with_the_error_and_the_thread_goes_on() -> None:
    doubler = Doubler()
    failed = _queued(doubler, 1, -1)
    doubler._thread.start()
    for future in failed:
        with pytest.raises(ValueError, match="negative"):
            future.result(10)
    assert _queued(doubler, 5)[0].result(10) == 10


class Doublers(Registry[Doubler]):
    def _start(self, tenant_id: str) -> Doubler:
        doubler = Doubler(idle_seconds=0.05, registry=self)
        doubler._thread.start()
        return doubler


def test_an_idle_worker_retires_and_the_next_request_starts_another() -> None:
    # given a registry whose workers retire after 50 ms without a request
    registry = Doublers(Store.__new__(Store))
    item = Item(1)
    registry.put("t", item)
    assert item.future.result(10) == 2
    first = registry.worker("t")
    assert first is not None
    # when it has been idle: it retired and left the registry
    first._thread.join(10)
    assert first.retired
    assert registry.worker("t") is None
    # then the next request starts a new worker
    again = Item(2)
    registry.put("t", again)
    assert again.future.result(10) == 4
    assert registry.worker("t") not in (None, first)
