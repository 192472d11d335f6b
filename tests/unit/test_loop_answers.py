"""Answers given from a writer's thread reach an event loop in one wake-up per burst."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from own_loop import run_on_own_loop
from tokenmall.services.writers import loop_answers


def _count_wakeups(loop: asyncio.AbstractEventLoop) -> list[int]:
    """Count ``call_soon_threadsafe`` on ``loop`` (the wake-ups from other threads)."""
    calls = [0]
    original = loop.call_soon_threadsafe

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
    return calls


def test_a_burst_of_answers_from_another_thread_wakes_the_loop_once() -> None:
    async def main() -> tuple[list[Any], int]:
        wakeups = _count_wakeups(asyncio.get_running_loop())
        pairs = [loop_answers.pair() for _ in range(50)]
        # a writer thread answers all 50 while the loop is busy (here: blocked in join)
        answerer = threading.Thread(
            target=lambda: [answer.set_result(n) for n, (_, answer) in enumerate(pairs)]
        )
        answerer.start()
        answerer.join()
        results = await asyncio.gather(*(waiter for waiter, _ in pairs))
        return results, wakeups[0]

    results, wakeups = run_on_own_loop(main())
    assert results == list(range(50))
    assert wakeups == 1


def test_answers_after_a_delivery_schedule_the_next_one() -> None:
    async def main() -> tuple[list[Any], int]:
        wakeups = _count_wakeups(asyncio.get_running_loop())
        first, second = loop_answers.pair(), loop_answers.pair()
        threading.Thread(target=first[1].set_result, args=("a",)).start()
        got = [await first[0]]
        threading.Thread(target=second[1].set_result, args=("b",)).start()
        got.append(await second[0])
        return got, wakeups[0]

    got, wakeups = run_on_own_loop(main())
    assert got == ["a", "b"]
    assert wakeups == 2


def test_exceptions_reach_their_caller_and_a_cancelled_caller_is_skipped() -> None:
    async def main() -> list[Any]:
        refused, cancelled, fine = (loop_answers.pair() for _ in range(3))
        cancelled[0].cancel()
        errors = [ValueError("refused")]

        def answer() -> None:
            refused[1].set_exception(errors[0])
            cancelled[1].set_result("too late")  # nobody waits for it: no error anywhere
            fine[1].set_result("ok")

        threading.Thread(target=answer).start()
        with pytest.raises(ValueError, match="refused"):
            await refused[0]
        return [await fine[0], cancelled[0].cancelled()]

    assert run_on_own_loop(main()) == ["ok", True]


def test_an_answer_is_given_once() -> None:
    async def main() -> None:
        _, answer = loop_answers.pair()
        answer.set_result(1)
        assert answer.done()
        with pytest.raises(asyncio.InvalidStateError):
            answer.set_result(2)

    run_on_own_loop(main())


def test_an_answer_for_a_closed_loop_is_dropped_without_error() -> None:
    async def make() -> Any:
        return loop_answers.pair()[1]

    answer = run_on_own_loop(make())  # the loop is closed when run() returns
    answer.set_result("nobody is waiting")
    assert answer.done()
