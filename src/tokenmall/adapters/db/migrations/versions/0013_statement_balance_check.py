"""postings: each statement's postings are checked as they are inserted; commit re-checks
only what a statement left open

Revision ID: 0013_statement_balance_check
Revises: 0012_addresses
Create Date: 2026-11-30

Until now (0011, PostgreSQL only) the statement trigger on ``postings`` noted the range of
journal ids a transaction posted to, and the deferred trigger read every posting in that
range again at commit: for a dividend day that is a million postings scanned twice (about
0.75 s of the 1M-holder day's commit, measured 2026-11-30), for a writer batch a row noted,
two queries and a delete per commit.

Now the statement trigger sums the statement's own postings (its transition table, already in
hand) per journal and asset, and looks up each journal they name. What is settled there is
done: a journal whose postings in the statement net to zero per asset and that exists. Only
what is still open goes to ``ledger_tx_pending`` — a non-zero part-sum (the journal's other
postings may come in a later statement of the same transaction) or a journal that does not
exist yet (it may be inserted later in the transaction) — together with the one row per
(tenant, transaction) in ``ledger_tx_checks`` whose ``DEFERRABLE INITIALLY DEFERRED``
constraint trigger runs at commit: it refuses a journal whose pending part-sums do not net
to zero, or a pending journal that still does not exist, and clears both tables' rows. A
transaction that only posts whole balanced journals to existing journals leaves nothing
pending and pays nothing at commit.

It is exact because postings are append-only and every committed journal nets to zero: a
journal's total after a commit is its total before (zero) plus what the transaction added,
so checking what each transaction adds is checking every journal. The messages and error
codes are the ones 0011 raised.
"""

from __future__ import annotations

from importlib import import_module

from tokenmall.adapters.db.migrations import postgres_only

_0011 = import_module("tokenmall.adapters.db.migrations.versions.0011_transaction_balance_check")

revision = "0013_statement_balance_check"
down_revision = "0012_addresses"
branch_labels = None
depends_on = None

UPGRADE = [
    "ALTER TABLE journals DROP CONSTRAINT uq_journals_tenant_reverses",
    "ALTER TABLE journals ADD CONSTRAINT uq_journals_tenant_reverses UNIQUE (reverses, tenant_id)",
    "ALTER TABLE journals ALTER COLUMN tenant_id SET STATISTICS 0",
    """
    CREATE TABLE ledger_tx_pending (
        tenant_id varchar(64) NOT NULL,
        txid bigint NOT NULL,
        journal_id bigint NOT NULL,
        asset varchar(8),
        total bigint NOT NULL
    )
    """,
    "CREATE INDEX ix_ledger_tx_pending ON ledger_tx_pending (tenant_id, txid)",
    """
    CREATE OR REPLACE FUNCTION ledger_note_journals() RETURNS trigger LANGUAGE plpgsql AS $$
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
        -- each. EXECUTE plans it on every call: a cached plan is made once per session, and
        -- one made while journals was still empty (a fresh database) read every journal of
        -- the tenant for each journal named.
        EXECUTE 'INSERT INTO ledger_tx_pending (tenant_id, txid, journal_id, asset, total)
                 SELECT n.tenant_id, txid_current(), n.journal_id, NULL, 0
                 FROM unnest($1::text[], $2::bigint[]) AS n(tenant_id, journal_id)
                 WHERE NOT EXISTS (SELECT 1 FROM journals AS j
                                   WHERE j.tenant_id = n.tenant_id
                                     AND j.journal_id = n.journal_id)'
            USING tenant_ids, journal_ids;
        GET DIAGNOSTICS missing = ROW_COUNT;
        IF unbalanced + missing > 0 THEN
            INSERT INTO ledger_tx_checks (tenant_id, txid, lo, hi)
            SELECT DISTINCT tenant_id, txid_current(), 0, 0 FROM unnest(tenant_ids) AS tenant_id
            ON CONFLICT (tenant_id, txid) DO NOTHING;
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE OR REPLACE FUNCTION ledger_check_transaction() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        bad record;
        missing bigint;
    BEGIN
        EXECUTE 'SELECT p.journal_id FROM ledger_tx_pending AS p
                 WHERE p.tenant_id = $1 AND p.txid = $2 AND p.asset IS NULL
                   AND NOT EXISTS (SELECT 1 FROM journals AS j
                                   WHERE j.tenant_id = $1 AND j.journal_id = p.journal_id)
                 ORDER BY p.journal_id LIMIT 1'
            INTO missing USING NEW.tenant_id, NEW.txid;
        IF missing IS NOT NULL THEN
            RAISE EXCEPTION 'postings of tenant % refer to journal %, which does not exist',
                NEW.tenant_id, missing
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        SELECT journal_id, asset, sum(total) AS total INTO bad FROM ledger_tx_pending
        WHERE tenant_id = NEW.tenant_id AND txid = NEW.txid AND asset IS NOT NULL
        GROUP BY journal_id, asset HAVING sum(total) <> 0
        ORDER BY journal_id, asset LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'journal % of tenant % does not balance: % by %',
                bad.journal_id, NEW.tenant_id, bad.asset, bad.total
                USING ERRCODE = 'check_violation';
        END IF;
        DELETE FROM ledger_tx_pending WHERE tenant_id = NEW.tenant_id AND txid = NEW.txid;
        DELETE FROM ledger_tx_checks WHERE tenant_id = NEW.tenant_id AND txid = NEW.txid;
        RETURN NULL;
    END $$
    """,
]

# 0011's two functions (the statement that creates each) and no pending table.
DOWNGRADE = [
    *(
        statement.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")
        for statement in _0011.UPGRADE
        if statement.strip().startswith(("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
    ),
    "DROP TABLE IF EXISTS ledger_tx_pending",
    "ALTER TABLE journals DROP CONSTRAINT uq_journals_tenant_reverses",
    "ALTER TABLE journals ADD CONSTRAINT uq_journals_tenant_reverses UNIQUE (tenant_id, reverses)",
    "ALTER TABLE journals ALTER COLUMN tenant_id SET STATISTICS -1",
]


def upgrade() -> None:
    postgres_only.execute(UPGRADE)


def downgrade() -> None:
    postgres_only.execute(DOWNGRADE)
