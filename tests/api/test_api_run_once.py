"""``idempotency.run_once``, the one loop behind every idempotent write: once per key and
request, the stored answer replayed, another request a conflict, a lost race retried once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from tokenmall.adapters.db.engine import make_engine
from tokenmall.adapters.db.uow import insert_answer
from tokenmall.domain.mall.responses import StoredResponse
from tokenmall.services.mall import idempotency
from tokenmall.services.mall.errors import Conflict
from tokenmall.services.mall.uow import Database, utc_now


@pytest.fixture(scope="module")
def db(server: Any) -> Iterator[Database]:
    database = Database(make_engine(server.settings.database_url))
    yield database
    database.dispose()


def _calls(db: Database, key: str, request: str = "r1", body: str = '{"n":1}') -> list[object]:
    ran: list[object] = []

    def action(attempt: idempotency.Attempt) -> idempotency.Done:
        ran.append(attempt.caller)
        attempt.conn.execute(text("SELECT 1"))
        return idempotency.Done(201, body, stored='{"n":"stored"}')

    outcome = idempotency.run_once(db, tenant_id="t", key=key, request=request, action=action)
    return [outcome, ran]


def test_the_action_runs_once_and_a_replay_answers_what_was_stored(db: Database) -> None:
    key = uuid.uuid4().hex
    first, ran = _calls(db, key)
    assert first == idempotency.Outcome(201, '{"n":1}', False)
    assert ran == [None]
    again, ran = _calls(db, key)
    assert again == idempotency.Outcome(201, '{"n":"stored"}', True)
    assert ran == []
    with pytest.raises(Conflict):
        _calls(db, key, request="r2")


def test_a_lost_race_on_the_key_retries_once_and_replays(db: Database) -> None:
    if db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer: the racing transaction would wait for this one")
    key = uuid.uuid4().hex
    tries = 0

    def action(attempt: idempotency.Attempt) -> idempotency.Done:
        nonlocal tries
        tries += 1
        # Another request stores the same key first (committed, in its own transaction).
        with db.transaction() as other:
            assert insert_answer(
                other,
                tenant_id="t",
                scope="anonymous",
                key=key,
                response=StoredResponse("r1", 200, '"theirs"'),
                now=utc_now(),
            ).ours()
        return idempotency.Done(201, '"ours"')

    outcome = idempotency.run_once(db, tenant_id="t", key=key, request="r1", action=action)
    assert outcome == idempotency.Outcome(200, '"theirs"', True)
    assert tries == 1
