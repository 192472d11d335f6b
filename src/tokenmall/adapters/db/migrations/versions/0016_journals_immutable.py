"""journals immutable, postings append-only on SQLite too

Revision ID: 0016_journals_immutable
Revises: 0015_journal_range_probe
Create Date: 2026-12-01

Until now only the postings were protected, and only on PostgreSQL (0001: a statement trigger
refusing UPDATE and DELETE). A journal's row (why it happened, its idempotency key, the answer a
replay gets) could be edited or deleted by hand. Now, on both databases:

- a journal cannot be deleted, and no column of it can change, with one exception: a day's
  settlement opens its two journals with the result ``{}`` (postings refer to them before the
  day is computed) and writes the result once at the end, in the same transaction. A result
  may therefore change only from ``{}``, and then only the result;
- on SQLite, postings cannot be updated or deleted either (PostgreSQL has had that since 0001).

Corrections are reversing journals (``services.ledger.reverse``). A journal or posting changed
behind the database's back (triggers dropped) is still found by ``tokenmall audit``. No trigger
fires on INSERT, so the writer's path is unchanged.
"""

from __future__ import annotations

from alembic import op

revision = "0016_journals_immutable"
down_revision = "0015_journal_range_probe"
branch_labels = None
depends_on = None

PENDING_RESULT = "{}"  # what services.settlement opens a day's journals with

JOURNALS_MESSAGE = "journals are immutable: correct with a reversing journal"
POSTINGS_MESSAGE = "postings are append-only: correct with a reversing journal"

# Every column but the result, which must stay as it was.
_FIXED = (
    "tenant_id",
    "journal_id",
    "code",
    "idempotency_key",
    "fingerprint",
    "business_date",
    "reverses",
    "created_at",
)

_PG_UP = [
    f"""
    CREATE FUNCTION ledger_journal_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND OLD.result = '{PENDING_RESULT}'
           AND ({", ".join(f"NEW.{c}" for c in _FIXED)})
               IS NOT DISTINCT FROM ({", ".join(f"OLD.{c}" for c in _FIXED)}) THEN
            RETURN NEW;  -- a settlement writing the result of a journal it opened
        END IF;
        RAISE EXCEPTION '{JOURNALS_MESSAGE}' USING ERRCODE = 'check_violation';
    END $$
    """,
    """
    CREATE TRIGGER journals_immutable BEFORE UPDATE OR DELETE ON journals
    FOR EACH ROW EXECUTE FUNCTION ledger_journal_immutable()
    """,
]
_PG_DOWN = [
    "DROP TRIGGER IF EXISTS journals_immutable ON journals",
    "DROP FUNCTION IF EXISTS ledger_journal_immutable()",
]

_CHANGED = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _FIXED)
# SQLite: each trigger by name (the downgrade drops them by these names).
_SQLITE = {
    "journals_no_delete": f"BEFORE DELETE ON journals "
    f"BEGIN SELECT RAISE(ABORT, '{JOURNALS_MESSAGE}'); END",
    "journals_no_update": f"BEFORE UPDATE ON journals "
    f"WHEN OLD.result IS NOT '{PENDING_RESULT}' OR {_CHANGED} "
    f"BEGIN SELECT RAISE(ABORT, '{JOURNALS_MESSAGE}'); END",
    "postings_no_update": f"BEFORE UPDATE ON postings "
    f"BEGIN SELECT RAISE(ABORT, '{POSTINGS_MESSAGE}'); END",
    "postings_no_delete": f"BEFORE DELETE ON postings "
    f"BEGIN SELECT RAISE(ABORT, '{POSTINGS_MESSAGE}'); END",
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        statements = _PG_UP
    else:
        statements = [f"CREATE TRIGGER {name} {body}" for name, body in _SQLITE.items()]
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        statements = _PG_DOWN
    else:
        statements = [f"DROP TRIGGER IF EXISTS {name}" for name in _SQLITE]
    for statement in statements:
        op.execute(statement)
