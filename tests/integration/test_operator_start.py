"""Several server processes ensure the same operator at start-up: none of them fails."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from tokenmall.adapters.db.mall.tables import operators
from tokenmall.adapters.db.store import Store
from tokenmall.services.mall import operators as operator_service
from tokenmall.services.mall.uow import MallUnitOfWork

NOW = datetime(2026, 12, 4, tzinfo=UTC)
PASSWORD = "a long operator passphrase"


def _count(store: Store, email: str) -> int:
    with store.read() as conn:
        found = conn.execute(
            select(func.count()).select_from(operators).where(operators.c.email == email)
        ).scalar_one()
    return int(found)


def test_ensure_creates_once_and_then_finds_it(store: Store) -> None:
    with store.transaction() as conn:
        assert (
            operator_service.ensure(MallUnitOfWork.joining(conn), "ops1@example.com", PASSWORD, NOW)
            is True
        )
    with store.transaction() as conn:
        assert (
            operator_service.ensure(MallUnitOfWork.joining(conn), "ops1@example.com", PASSWORD, NOW)
            is False
        )
    assert _count(store, "ops1@example.com") == 1


def test_two_start_ups_at_once_both_succeed(store: Store) -> None:
    if not store.postgres:
        pytest.skip("SQLite serves from one process: start-ups never overlap")
    email = "ops2@example.com"
    second: list[object] = []
    with store.transaction() as first:
        assert operator_service.ensure(MallUnitOfWork.joining(first), email, PASSWORD, NOW) is True

        def start_up() -> None:
            try:
                with store.transaction() as conn:
                    second.append(
                        operator_service.ensure(MallUnitOfWork.joining(conn), email, PASSWORD, NOW)
                    )
            except Exception as exc:  # the failure this test is about
                second.append(exc)

        # The other process reads no operator yet, then waits on the unique email until the
        # first commits; it must then yield instead of failing its start-up.
        thread = threading.Thread(target=start_up)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive(), second
    thread.join(30)
    assert second == [False]
    assert _count(store, email) == 1
