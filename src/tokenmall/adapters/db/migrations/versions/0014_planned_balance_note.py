"""journals: the reversal index holds reversals only; postings: the statement trigger's journal
look-up is plain SQL planned at each call, as index probes whatever the statistics say

Revision ID: 0014_planned_balance_note
Revises: 0013_statement_balance_check
Create Date: 2026-11-30

Two costs of every writer batch (measured 2026-11-30, a batch of 37 purchases as the writer
sends it, on a fresh database):

- ``uq_journals_tenant_reverses`` (a journal is reversed at most once) had an entry for every
  journal, though ``reverses`` is NULL for all but reversals. It is now a partial unique
  index, ``WHERE reverses IS NOT NULL``, on both backends: the same rule, an index write less
  per journal (~0.08 ms a batch). A look-up by ``reverses = …`` implies the predicate, so the
  reversal check still uses it; nothing else can (0013 had to keep the planner from reading
  every journal of a tenant through the full one).
- ``ledger_note_journals`` (0013) built its look-up of the journals a statement posted to as
  text and planned it on every call (``EXECUTE``): a plan cached while ``journals`` was nearly
  empty read the whole table for each journal. Now the look-up is plain SQL in the function
  (parsed once per session) and the function runs with its own planner settings, restored
  when it returns: ``enable_seqscan``, ``enable_hashjoin``, ``enable_mergejoin`` and
  ``enable_material`` off, so that the look-up is a nested loop of index probes, and
  ``plan_cache_mode = force_custom_plan``, so that it is still planned for the table as it is
  at each call. (A plan kept for the session was tried: made on a fresh database, where both
  indexes led by ``tenant_id`` look alike, it probed ``uq_journals_tenant_key`` by tenant and
  filtered every journal of the tenant, 5 ms a batch of 9 and growing; 64 clients fell to
  1,730 purchases/s on the first run.) A batch of 37 purchases, as the writer sends it: 3.54
  -> 2.82 ms on a fresh database, 3.13 -> 3.04 ms on one with 8M postings (2026-11-30). The
  aggregation over the transition table involves no join and no scan those settings touch.

Messages, error codes and what is checked are 0013's. The downgrade restores 0013's function
and the full unique constraint.
"""

from __future__ import annotations

from importlib import import_module

import sqlalchemy as sa
from alembic import op

from tokenmall.adapters.db.migrations import postgres_only

_0013 = import_module("tokenmall.adapters.db.migrations.versions.0013_statement_balance_check")

revision = "0014_planned_balance_note"
down_revision = "0013_statement_balance_check"
branch_labels = None
depends_on = None

REVERSALS_ONLY = "reverses IS NOT NULL"

NOTE_JOURNALS = """
    CREATE OR REPLACE FUNCTION ledger_note_journals() RETURNS trigger LANGUAGE plpgsql
    SET enable_seqscan = off
    SET enable_hashjoin = off
    SET enable_mergejoin = off
    SET enable_material = off
    SET plan_cache_mode = force_custom_plan
    AS $$
    DECLARE
        tenant_ids text[];
        journal_ids bigint[];
        unbalanced bigint;
        missing bigint;
    BEGIN
        -- One pass over the statement's postings: part-sums per journal and asset that do not
        -- net to zero (yet) are kept, and every journal named is collected.
        WITH sums AS (
            SELECT tenant_id, journal_id, asset, sum(amount) AS total
            FROM new_postings GROUP BY tenant_id, journal_id, asset
        ), open AS (
            INSERT INTO ledger_tx_pending (tenant_id, txid, journal_id, asset, total)
            SELECT tenant_id, txid_current(), journal_id, asset, total FROM sums
            WHERE total <> 0
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM open), array_agg(tenant_id), array_agg(journal_id)
        INTO unbalanced, tenant_ids, journal_ids
        FROM (SELECT DISTINCT tenant_id, journal_id FROM sums) AS named;
        -- Journals that do not exist (yet), marked by a NULL asset: one primary-key probe
        -- each (the function's settings leave the planner no other way, however small the
        -- statistics say journals is; it is planned at each call for the table as it is).
        INSERT INTO ledger_tx_pending (tenant_id, txid, journal_id, asset, total)
        SELECT n.tenant_id, txid_current(), n.journal_id, NULL, 0
        FROM unnest(tenant_ids, journal_ids) AS n(tenant_id, journal_id)
        WHERE NOT EXISTS (SELECT 1 FROM journals AS j
                          WHERE j.tenant_id = n.tenant_id AND j.journal_id = n.journal_id);
        GET DIAGNOSTICS missing = ROW_COUNT;
        IF unbalanced + missing > 0 THEN
            INSERT INTO ledger_tx_checks (tenant_id, txid, lo, hi)
            SELECT DISTINCT tenant_id, txid_current(), 0, 0 FROM unnest(tenant_ids) AS tenant_id
            ON CONFLICT (tenant_id, txid) DO NOTHING;
        END IF;
        RETURN NULL;
    END $$
"""

# 0013's function as it installed it (a CREATE OR REPLACE also drops the settings above).
_0013_NOTE_JOURNALS = next(
    statement for statement in _0013.UPGRADE if "FUNCTION ledger_note_journals()" in statement
)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.drop_constraint("uq_journals_tenant_reverses", "journals", type_="unique")
    else:  # SQLite drops a table constraint by rebuilding the table
        with op.batch_alter_table("journals") as batch:
            batch.drop_constraint("uq_journals_tenant_reverses", type_="unique")
    op.create_index(
        "uq_journals_tenant_reverses",
        "journals",
        ["tenant_id", "reverses"],
        unique=True,
        postgresql_where=sa.text(REVERSALS_ONLY),
        sqlite_where=sa.text(REVERSALS_ONLY),
    )
    postgres_only.execute([NOTE_JOURNALS])


def downgrade() -> None:
    postgres_only.execute([_0013_NOTE_JOURNALS])
    op.drop_index("uq_journals_tenant_reverses", table_name="journals")
    if op.get_bind().dialect.name == "postgresql":
        op.create_unique_constraint(
            "uq_journals_tenant_reverses", "journals", ["reverses", "tenant_id"]
        )
    else:
        with op.batch_alter_table("journals") as batch:
            batch.create_unique_constraint("uq_journals_tenant_reverses", ["tenant_id", "reverses"])
