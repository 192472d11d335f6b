"""Answering callers that await on an asyncio event loop: one wake-up of the loop per burst.

A writer answers a whole batch at once, from its own thread. A caller on an event loop that
waited through ``asyncio.wrap_future`` cost one ``call_soon_threadsafe`` each: a wake-up of
the loop (a write to its self-pipe and a system call to read it) and a callback per answer,
31 of them a batch at 64 clients. Here each loop has one ``LoopAnswers``: the writer thread
appends answers to it and schedules ONE callback while none is pending; that callback, on
the loop, resolves every answer that arrived meanwhile.

``pair(loop)`` gives the two ends: the asyncio future the caller awaits, and the ``Answer``
the writer resolves (the part of ``concurrent.futures.Future`` a writer uses: ``done``,
``set_result``, ``set_exception``). A caller that stopped waiting (its task was cancelled)
is skipped; an answer for a loop that has closed is dropped, as there is no one to give it to.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections import deque
from typing import Any, Protocol


class Answer(Protocol):
    """What a writer resolves: a ``concurrent.futures.Future`` or a ``LoopAnswer``."""

    def done(self) -> bool: ...

    def set_result(self, result: Any) -> None: ...

    def set_exception(self, exception: BaseException) -> None: ...


class LoopAnswers:
    """The answers on their way to one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._arrived: deque[tuple[asyncio.Future[Any], bool, Any]] = deque()
        self._lock = threading.Lock()
        self._scheduled = False

    def put(self, waiter: asyncio.Future[Any], ok: bool, value: Any) -> None:
        """From any thread: give ``waiter`` its result (``ok``) or exception."""
        self._arrived.append((waiter, ok, value))
        with self._lock:
            if self._scheduled:  # the pending callback has not started draining yet
                return
            self._scheduled = True
        try:
            self.loop.call_soon_threadsafe(self._deliver)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            with self._lock:
                self._scheduled = False
            self._arrived.clear()

    def _deliver(self) -> None:
        """On the loop: resolve everything that arrived (before and while this runs)."""
        with self._lock:
            # Reset first: an answer appended after this point either is drained below or
            # schedules the next callback itself.
            self._scheduled = False
        arrived = self._arrived
        while arrived:
            waiter, ok, value = arrived.popleft()
            if waiter.done():  # cancelled: the caller stopped waiting
                continue
            if ok:
                waiter.set_result(value)
            else:
                waiter.set_exception(value)


class LoopAnswer:
    """The writer's end of one caller's asyncio future."""

    __slots__ = ("_answers", "_done", "_waiter")

    def __init__(self, answers: LoopAnswers, waiter: asyncio.Future[Any]) -> None:
        self._answers = answers
        self._waiter = waiter
        self._done = False

    def done(self) -> bool:
        return self._done

    def set_result(self, result: Any) -> None:
        self._resolve(True, result)

    def set_exception(self, exception: BaseException) -> None:
        self._resolve(False, exception)

    def _resolve(self, ok: bool, value: Any) -> None:
        if self._done:
            raise asyncio.InvalidStateError("this answer was given already")
        self._done = True
        self._answers.put(self._waiter, ok, value)


_BY_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopAnswers] = (
    weakref.WeakKeyDictionary()
)
_BY_LOOP_LOCK = threading.Lock()


def answers_for(loop: asyncio.AbstractEventLoop) -> LoopAnswers:
    found = _BY_LOOP.get(loop)
    if found is None:
        with _BY_LOOP_LOCK:
            found = _BY_LOOP.get(loop)
            if found is None:
                found = _BY_LOOP[loop] = LoopAnswers(loop)
    return found


def pair() -> tuple[asyncio.Future[Any], LoopAnswer]:
    """On a running loop: a future to await and the ``Answer`` a writer thread resolves."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[Any] = loop.create_future()
    return waiter, LoopAnswer(answers_for(loop), waiter)
